"""Parse and validate an export sheet; every problem names file, row, column, value, reason.

Nothing is written here. db.importer.chunks runs these stages partition by partition: typed
lines (English column names from db.export_format) and one report; the loader refuses to run when
the report has errors.

A cell is reported once, for its own fault: a cell that failed (empty, unparseable, infinite,
out of its column's range, negative where that cannot be) is left out of the checks that
compare or add cells, so its valid siblings are never blamed for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from db.export_format import BY_NAME, COLUMNS, ORDER_COLUMNS
from db.importer import layout
from db.importer.limits import cell_limits, key_lengths, text_lengths
from db.importer.report import Problem, ValidationReport
from db.importer.sums import DayTotals, check_computed_figures

ORDER_KEY = ["channel", "platform_order_id"]
DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M")
NEGATIVE_REASON = {"money": "金额为负", "quantity": "数量为负", "distance": "距离为负"}
INCONSISTENT = "同一订单各行取值不一致"

__all__ = [
    "ORDER_KEY", "DayTotals", "Problem", "ValidationReport", "check_headers", "check_partition",
    "decide_share_rules", "finish", "key_columns", "share_stats",
]  # fmt: skip


def check_headers(
    file: str, headers: list[str], overrides: dict[str, str] | None = None, rows: int = 0
) -> tuple[ValidationReport, layout.Mapping]:
    """The checks on the header row: duplicated headers, the mapping (missing, ambiguous …)."""
    report = ValidationReport(file=file, rows=rows)
    duplicated_headers = sorted({h for h in headers if headers.count(h) > 1 and h})
    for header in duplicated_headers:
        report.add(1, header, header, "表头重复")
    mapping = layout.recognise(headers, overrides)
    report.layout = mapping
    for name, sources in mapping.ambiguous.items():
        report.add(1, " / ".join(sources), " / ".join(sources), f"多列都对应字段 {_header(name)}，无法确定用哪一列")
    for name, column in mapping.unknown_columns.items():
        report.add(1, column, column, f"映射给字段 {_header(name)} 的列不在文件中")
    for name in mapping.missing_required:
        report.add(1, _header(name), "", "缺少必需的列", f"可用列名: {', '.join(layout.accepted_names(name))}")
    if mapping.ignored:
        report.warnings.append(f"忽略未知列: {', '.join(mapping.ignored)}")
    aliased = [f"{s}→{_header(n)}" for n, s in mapping.columns.items() if s != _header(n)]
    if aliased:
        report.warnings.append(f"按别名识别的列: {', '.join(aliased)}")
    return report, mapping


def key_columns(mapping: layout.Mapping) -> list[str]:
    """The file columns of the order key (channel, platform order id): every line of one order
    has the same stripped text in them, which is what the importer partitions by."""
    return [mapping.columns[name] for name in ORDER_KEY]


def shareable(mapping: layout.Mapping) -> list[str]:
    return [n for n in layout.SHAREABLE if n in mapping.columns]


def share_stats(raw: pd.DataFrame, rows: np.ndarray, mapping: layout.Mapping, stripped: bool = False) -> dict:
    """What ``layout.share_rules`` counts, for one partition of whole orders (additive).
    ``stripped``: every cell of ``raw`` is already stripped (``str.strip``)."""
    raw = raw.reset_index(drop=True).rename(columns=mapping.renames)
    scratch = ValidationReport(file="")  # cells are reported by check_partition, not here
    names = [*ORDER_KEY, *shareable(mapping)]
    lines = pd.DataFrame({name: _parse_column(BY_NAME[name], _text(raw, BY_NAME[name], stripped), rows, scratch)[0]
                          for name in names})  # fmt: skip
    return layout.share_stats(lines, ORDER_KEY, shareable(mapping))


def decide_share_rules(mapping: layout.Mapping, report: ValidationReport, stats: dict) -> list[str]:
    """Set the file's share rules from the summed statistics; the per-line money columns."""
    mapping.share_rules = layout.rules_from_stats(stats, shareable(mapping))
    per_line = [n for n, rule in mapping.share_rules.items() if rule == layout.PER_LINE]
    if per_line:
        report.warnings.append(f"按行分摊的整单金额已按订单求和: {', '.join(_header(n) for n in per_line)}")
    return per_line


def check_partition(
    raw: pd.DataFrame,
    rows: np.ndarray,
    mapping: layout.Mapping,
    per_line: list[str],
    report: ValidationReport,
    days: DayTotals,
    stripped: bool = False,
) -> pd.DataFrame:
    """Parse and check rows holding whole orders (all of the file, or one partition of it);
    problems go to ``report``, store-day totals to ``days``. Returns the typed lines.
    ``stripped``: every cell of ``raw`` is already stripped (``str.strip``)."""
    # from here on the file's columns carry our headers (unmapped ones keep their own)
    raw = raw.reset_index(drop=True).rename(columns=mapping.renames)
    lines = pd.DataFrame({"sheet_row": rows})
    failed: dict[str, np.ndarray] = {}  # column name → cells that failed
    for col in COLUMNS:
        lines[col.name], mask = _parse_column(col, _text(raw, col, stripped), rows, report)
        if mask.any():  # kept only for columns with a failed cell (a bool per row each)
            failed[col.name] = mask

    # 利润额 defaults to 实收价格 × 月售 − 商品采购成本 (docs/METRICS.md §1)
    profit_defaulted = lines["profit"].isna().to_numpy() & _passed(failed, "profit", len(lines))
    lines["profit"] = lines["profit"].fillna(lines["received_price"] * lines["quantity"] - lines["cost"])
    lines["store_key"] = lines["store_code"].fillna(lines["store_name"])
    lines["sku_key"] = sku_keys(lines)
    _check_key_lengths(lines, failed, report)
    layout.sum_shares(lines, ORDER_KEY, per_line)
    _check_order_consistency(lines, raw, failed, report, skip=set(per_line))
    _check_duplicates(raw, rows, report)
    check_computed_figures(lines, profit_defaulted, ORDER_KEY, report, days)
    return lines


def finish(report: ValidationReport, mapping: layout.Mapping, days: DayTotals) -> None:
    """The checks that need every partition (store-day totals); column names as in the file."""
    days.check(report)
    if not report.ok:
        # a cell is named by the file's own column: "商品数量 (月售)" when it was read by alias
        report.rename_columns(
            {_header(n): f"{s} ({_header(n)})" for n, s in mapping.columns.items() if s != _header(n)}
        )


def _text(raw: pd.DataFrame, col, stripped: bool = False) -> pd.Series:
    if col.header in raw.columns:
        text = raw[col.header].astype(str)
        return text if stripped else text.str.strip()
    return pd.Series([""] * len(raw), dtype=str)


def _parse_column(col, text: pd.Series, rows: np.ndarray, report: ValidationReport) -> tuple[pd.Series, np.ndarray]:
    """(parsed values, mask of the cells that failed); failed numbers are NaN."""
    empty = (text == "").to_numpy()
    failed = np.zeros(len(text), dtype=bool)

    def reject(mask: np.ndarray, reason: str) -> None:
        idx = np.flatnonzero(mask & ~failed)
        if len(idx):
            report.add_many(rows[idx], col.header, text.iloc[idx].tolist(), reason)
            failed[idx] = True

    if col.required:
        reject(empty, "必填字段为空")
    if col.kind == "text":
        limit = text_lengths().get(col.name)
        if limit is not None:
            reject((text.str.len() > limit).to_numpy(), f"超过 {limit} 个字符")
        return text.where(~empty, None), failed  # stays Arrow-backed text; empty cells become NA
    if col.kind == "datetime":
        parsed = _parse_datetimes(text)
        reject(parsed.isna().to_numpy() & ~empty, "无法解析的时间 (应为 YYYY-MM-DD HH:MM:SS)")
        return parsed, failed
    # numeric kinds: a strict cast first (fast); only a column that fails it is parsed cell by
    # cell, after dropping "¥" and thousands separators, to find the bad cells.
    try:
        numbers = text.where(~empty, None).astype("float64")
    except (ValueError, TypeError):
        cleaned = text.str.replace(",", "", regex=False).str.replace("¥", "", regex=False)
        numbers = pd.to_numeric(cleaned.where(~empty, None), errors="coerce").astype(float)
    values = numbers.to_numpy(dtype=float, copy=True)
    limit = cell_limits()[col.name]
    with np.errstate(invalid="ignore"):
        reject(np.isnan(values) & ~empty, "不是有效数字")
        reject(np.isinf(values), "不是有限数字 (无穷大)")
        reject(np.abs(values) > limit, f"超出数据库列的范围 (绝对值不能超过 {limit:,})")
        if not col.signed:
            reject(values < 0, NEGATIVE_REASON[col.kind])
    values[failed] = np.nan
    if col.default is not None:
        values[empty] = float(col.default)
    return pd.Series(values, index=text.index), failed


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


def sku_keys(lines: pd.DataFrame) -> pd.Series:
    """SKU key: 条码, else "code:" + 店内码, else "name:" + 商品名称 (docs/METRICS.md §1)."""
    by_code = "code:" + lines["product_code"].astype("string")
    by_name = "name:" + lines["product_name"].astype("string")
    return lines["barcode"].astype("string").fillna(by_code).fillna(by_name).astype(object)


def _check_key_lengths(lines: pd.DataFrame, failed: dict[str, np.ndarray], report: ValidationReport) -> None:
    """A name standing in for a missing id (门店名称 for 门店ID, 商品名称 for 条码 and 店内码) must
    fit the key column too."""
    limits = key_lengths()
    for key, source, why in (("store_key", "store_name", "无门店ID时作为门店键"),
                             ("sku_key", "product_name", "无条码和店内码时作为商品键 (name:商品名称)")):  # fmt: skip
        too_long = (lines[key].str.len() > limits[key]).to_numpy() & _passed(failed, source, len(lines))
        if too_long.any():
            header = _header(source)
            report.add_many(lines["sheet_row"].to_numpy()[too_long], header, lines[source][too_long].tolist(),
                            f"{why}，超过 {limits[key]} 个字符")  # fmt: skip


def _check_order_consistency(
    lines: pd.DataFrame,
    raw: pd.DataFrame,
    failed: dict[str, np.ndarray],
    report: ValidationReport,
    skip: set[str] = frozenset(),
) -> None:
    """Order-level fields must be identical on every row of one order (failed cells aside);
    ``skip``: money given per line (summed per order instead)."""
    key = lines[ORDER_KEY]
    if key.isna().any(axis=None):
        return  # rows without an order id / channel are already reported as empty
    present = [c for c in ORDER_COLUMNS if c not in ORDER_KEY and c not in skip and _header(c) in raw.columns]
    key_headers = [_header(c) for c in ORDER_KEY]
    headers = key_headers + [_header(c) for c in present]
    # Fast path on the text: only orders whose rows differ at all are looked at cell by cell.
    order_part = raw[headers].drop_duplicates()
    conflicted = order_part[order_part.duplicated(key_headers, keep=False)]
    if conflicted.empty:
        return
    bad_keys = conflicted[key_headers].drop_duplicates()
    candidates = raw[headers].reset_index().merge(bad_keys, on=key_headers, how="inner")
    positions = candidates["index"].to_numpy()
    order_codes = candidates.groupby(key_headers, sort=False).ngroup().to_numpy().astype(np.int64)
    sheet_rows = lines["sheet_row"].to_numpy()
    for name in present:
        header = _header(name)
        value_codes, uniques = pd.factorize(candidates[header])
        # failed cells are not compared with their siblings
        compared = _passed(failed, name, len(lines))[positions] & (value_codes >= 0)
        width = len(uniques) + 1
        pairs = np.unique(order_codes[compared] * width + value_codes[compared])
        distinct = np.bincount(pairs // width, minlength=order_codes.max() + 1)[order_codes]
        bad = compared & (distinct > 1)
        if not bad.any():
            continue
        orders = candidates[key_headers[1]].to_numpy()[bad]
        report.add_many(
            sheet_rows[positions[bad]], header, candidates[header].to_numpy()[bad], INCONSISTENT,
            [f"订单 {o}，共 {n} 种取值" for o, n in zip(orders, distinct[bad], strict=True)],
        )  # fmt: skip


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


def _passed(failed: dict[str, np.ndarray], name: str, n: int) -> np.ndarray:
    """Cells of column ``name`` that did not fail."""
    mask = failed.get(name)
    return np.ones(n, dtype=bool) if mask is None else ~mask


def _header(name: str) -> str:
    return BY_NAME[name].header
