"""Parse and validate an export sheet; every problem names file, row, column, value, reason.

Nothing is written here. ``validate_sheet`` returns typed lines (English column names from
db.export_format) and a report; the loader refuses to run when the report has errors.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from db.export_format import BY_HEADER, BY_NAME, COLUMNS, ORDER_COLUMNS, REQUIRED_HEADERS
from db.importer.reader import RawSheet

ORDER_KEY = ["channel", "platform_order_id"]
DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M")
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Problem:
    file: str
    row: int  # sheet row number (header is row 1)
    column: str  # Chinese header
    value: str
    reason: str


@dataclass
class ValidationReport:
    file: str
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, row: int, column: str, value: object, reason: str) -> None:
        self.problems.append(Problem(self.file, int(row), column, _short(value), reason))

    def groups(self) -> list[dict]:
        """Problems grouped by (column, reason), largest first, with a few examples each."""
        counts = Counter((p.column, p.reason) for p in self.problems)
        examples: dict[tuple[str, str], list[Problem]] = {}
        for p in self.problems:
            bucket = examples.setdefault((p.column, p.reason), [])
            if len(bucket) < MAX_EXAMPLES:
                bucket.append(p)
        return [
            {
                "column": column,
                "reason": reason,
                "count": count,
                "examples": [{"row": p.row, "value": p.value} for p in examples[(column, reason)]],
            }
            for (column, reason), count in counts.most_common()
        ]

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "rows": self.rows,
            "error_count": len(self.problems),
            "groups": self.groups(),
            "warnings": self.warnings,
        }

    def format_text(self) -> str:
        """Human-readable report (Chinese), grouped and counted."""
        if self.ok:
            return f"{self.file}: 校验通过 ({self.rows} 行)"
        lines = [f"{self.file}: 发现 {len(self.problems)} 个错误，文件未导入 (共 {self.rows} 行)"]
        for group in self.groups():
            lines.append(f"  [{group['column']}] {group['reason']} — {group['count']} 处")
            for ex in group["examples"]:
                lines.append(f"      第 {ex['row']} 行: {ex['value']!r}")
            if group["count"] > len(group["examples"]):
                lines.append(f"      … 另有 {group['count'] - len(group['examples'])} 处")
        return "\n".join(lines)


def _short(value: object, limit: int = 80) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validate_sheet(sheet: RawSheet) -> tuple[pd.DataFrame | None, ValidationReport]:
    """Return (typed lines or None, report). Lines carry a ``sheet_row`` column."""
    raw = sheet.frame
    report = ValidationReport(file=sheet.path.name, rows=len(raw))
    headers = list(raw.columns)

    duplicated_headers = sorted({h for h in headers if headers.count(h) > 1 and h})
    for header in duplicated_headers:
        report.add(1, header, header, "表头重复")
    for header in REQUIRED_HEADERS:
        if header not in headers:
            report.add(1, header, "", "缺少必需的列")
    unknown = [h for h in headers if h and h not in BY_HEADER]
    if unknown:
        report.warnings.append(f"忽略未知列: {', '.join(unknown)}")
    if not report.ok:
        return None, report
    if raw.empty:
        report.add(1, "(全部)", "", "文件没有数据行")
        return None, report

    rows = sheet.row_numbers
    raw = raw.reset_index(drop=True)
    lines = pd.DataFrame({"sheet_row": rows})
    for col in COLUMNS:
        if col.header in raw.columns:
            text = raw[col.header].astype(str).str.strip()
        else:
            text = pd.Series([""] * len(raw), dtype=str)
        lines[col.name] = _parse_column(col, text, rows, report)

    _check_values(lines, raw, report)
    _check_order_consistency(lines, raw, report)
    _check_duplicates(raw, rows, report)
    if not report.ok:
        return None, report
    return lines, report


def _parse_column(col, text: pd.Series, rows: np.ndarray, report: ValidationReport) -> pd.Series:
    empty = (text == "").to_numpy()
    if col.required and empty.any():
        for i in np.flatnonzero(empty):
            report.add(rows[i], col.header, "", "必填字段为空")
    if col.kind == "text":
        return text.where(~empty, None)  # stays Arrow-backed text; empty cells become NA
    if col.kind == "datetime":
        parsed = _parse_datetimes(text)
        bad = parsed.isna().to_numpy() & ~empty
        for i in np.flatnonzero(bad):
            report.add(rows[i], col.header, text.iat[i], "无法解析的时间 (应为 YYYY-MM-DD HH:MM:SS)")
        return parsed
    # numeric kinds: a strict cast first (fast); only a column that fails it is parsed cell by
    # cell, after dropping "¥" and thousands separators, to find the bad cells.
    try:
        numbers = text.where(~empty, None).astype("float64")
    except (ValueError, TypeError):
        cleaned = text.str.replace(",", "", regex=False).str.replace("¥", "", regex=False)
        numbers = pd.to_numeric(cleaned.where(~empty, None), errors="coerce").astype(float)
    bad = numbers.isna().to_numpy() & ~empty
    for i in np.flatnonzero(bad):
        report.add(rows[i], col.header, text.iat[i], "不是有效数字")
    if col.default is not None:
        numbers = numbers.where(~pd.Series(empty), float(col.default))
    return numbers


def _parse_datetimes(text: pd.Series) -> pd.Series:
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    remaining = text != ""
    for fmt in DATETIME_FORMATS:
        if not remaining.any():
            break
        parsed = pd.to_datetime(text[remaining], format=fmt, errors="coerce")
        ok = parsed.notna()
        result.loc[ok[ok].index] = parsed[ok]
        remaining = remaining & result.isna()
    return result


def _check_values(lines: pd.DataFrame, raw: pd.DataFrame, report: ValidationReport) -> None:
    rules = (
        ("quantity", lambda s: s < 0, "数量为负"),
        ("received_price", lambda s: s < 0, "价格为负"),
        ("sale_price", lambda s: s < 0, "价格为负"),
        ("list_price", lambda s: s < 0, "价格为负"),
        ("cost", lambda s: s < 0, "成本为负"),
        ("distance_km", lambda s: s < 0, "距离为负"),
    )
    for name, predicate, reason in rules:
        header = _header(name)
        bad = predicate(lines[name]).fillna(False).to_numpy()
        for i in np.flatnonzero(bad):
            value = raw[header].iat[i] if header in raw.columns else lines[name].iat[i]
            report.add(lines["sheet_row"].iat[i], header, value, reason)


def _check_order_consistency(lines: pd.DataFrame, raw: pd.DataFrame, report: ValidationReport) -> None:
    """Order-level fields must be identical on every row of one order."""
    key = lines[ORDER_KEY]
    if key.isna().any(axis=None):
        return  # rows without an order id / channel are already reported as empty
    present = [c for c in ORDER_COLUMNS if c not in ORDER_KEY and _header(c) in raw.columns]
    order_part = raw[[_header(c) for c in ORDER_KEY + present]].drop_duplicates()
    key_headers = [_header(c) for c in ORDER_KEY]
    conflicted = order_part[order_part.duplicated(key_headers, keep=False)]
    if conflicted.empty:
        return
    bad_keys = conflicted[key_headers].drop_duplicates()
    merged = raw.reset_index().merge(bad_keys, on=key_headers, how="inner")
    for _, group in merged.groupby(key_headers, sort=False):
        for name in present:
            header = _header(name)
            distinct = group[header].unique()
            if len(distinct) > 1:
                for idx, value in zip(group["index"], group[header], strict=True):
                    report.add(
                        lines["sheet_row"].iat[idx],
                        header,
                        value,
                        f"同一订单各行取值不一致 (订单 {group[key_headers[1]].iat[0]}，"
                        f"共 {len(distinct)} 种)",
                    )


def _check_duplicates(raw: pd.DataFrame, rows: np.ndarray, report: ValidationReport) -> None:
    dup = raw.duplicated(keep="first").to_numpy()
    if not dup.any():
        return
    first_row = raw.reset_index(drop=True).groupby(list(raw.columns), sort=False).ngroup()
    first_seen: dict[int, int] = {}
    for i, group_id in enumerate(first_row.to_numpy()):
        first_seen.setdefault(group_id, rows[i])
        if dup[i]:
            report.add(rows[i], "(整行)", f"与第 {first_seen[group_id]} 行相同", "重复的明细行")


def _header(name: str) -> str:
    return BY_NAME[name].header
