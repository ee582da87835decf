"""The validation report: every problem names file, row, column, value and reason.

Problems are kept per (column, reason) group in compact arrays (a row number and a reference to
the cell text each), because a broken export can carry hundreds of thousands of them. On screen
each group shows its count and at most ``MAX_EXAMPLES`` rows; the full list is streamed to JSON
(``import_orders.py --report``) without building it in memory.
"""

from __future__ import annotations

import csv
import json
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, astuple, dataclass, field
from typing import Any, TextIO

import numpy as np

MAX_EXAMPLES = 20
VALUE_CHARS = 80


@dataclass(frozen=True)
class Problem:
    file: str
    row: int  # sheet row number (header is row 1)
    column: str  # Chinese header, or the name of a figure computed from several cells
    value: str
    reason: str
    detail: str = ""  # e.g. the order an inconsistency belongs to


class _Group:
    __slots__ = ("column", "details", "reason", "rows", "values")

    def __init__(self, column: str, reason: str) -> None:
        self.column, self.reason = column, reason
        self.rows = array("q")
        self.values: list[str] = []
        self.details: list[str] | None = None  # only for groups whose problems carry one


@dataclass
class ValidationReport:
    file: str
    rows: int = 0
    warnings: list[str] = field(default_factory=list)
    layout: Any = None  # db.importer.layout.Mapping once the headers were recognised
    _groups: dict[tuple[str, str], _Group] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return not self._groups

    @property
    def error_count(self) -> int:
        return sum(len(g.rows) for g in self._groups.values())

    def add(self, row: int, column: str, value: object, reason: str, detail: str = "") -> None:
        self.add_many([row], column, [value], reason, [detail] if detail else None)

    def add_many(
        self,
        rows: Iterable[int],
        column: str,
        values: Sequence[object],
        reason: str,
        details: Sequence[str] | None = None,
    ) -> None:
        """Record one problem per row (``values[i]`` the cell of ``rows[i]``)."""
        group = self._groups.get((column, reason))
        if group is None:
            group = self._groups[(column, reason)] = _Group(column, reason)
        start = len(group.rows)
        group.rows.extend(int(r) for r in rows)
        group.values.extend(_short(v) for v in values)
        if details is not None or group.details is not None:
            if group.details is None:
                group.details = [""] * start
            group.details.extend(details if details is not None else [""] * (len(group.rows) - start))

    def rename_columns(self, names: dict[str, str]) -> None:
        """Show problems under other column names (our header → the file's own column)."""
        for group in self._groups.values():
            group.column = names.get(group.column, group.column)

    def groups(self) -> list[dict]:
        """Problems grouped by (column, reason), largest first, with a few examples each."""
        ordered = sorted(self._groups.values(), key=lambda g: -len(g.rows))
        return [
            {
                "column": g.column,
                "reason": g.reason,
                "count": len(g.rows),
                "examples": [_example(g, i) for i in _first_rows(g, MAX_EXAMPLES)],
            }
            for g in ordered
        ]

    def iter_problems(self) -> Iterator[Problem]:
        """Every problem in sheet-row order (stable within a row)."""
        groups = list(self._groups.values())
        if not groups:
            return
        rows = np.concatenate([np.frombuffer(g.rows, dtype=np.int64) for g in groups])
        owner = np.concatenate([np.full(len(g.rows), n, dtype=np.int32) for n, g in enumerate(groups)])
        position = np.concatenate([np.arange(len(g.rows), dtype=np.int64) for g in groups])
        for i in np.argsort(rows, kind="stable"):
            g, k = groups[owner[i]], int(position[i])
            yield Problem(self.file, int(g.rows[k]), g.column, g.values[k], g.reason,
                          g.details[k] if g.details is not None else "")  # fmt: skip

    @property
    def problems(self) -> list[Problem]:
        return list(self.iter_problems())

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "rows": self.rows,
            "error_count": self.error_count,
            "groups": self.groups(),
            "warnings": self.warnings,
        }

    def format_text(self) -> str:
        """Human-readable report (Chinese): one block per group, at most MAX_EXAMPLES rows each."""
        if self.ok:
            return f"{self.file}: 校验通过 ({self.rows} 行)"
        lines = [f"{self.file}: 发现 {self.error_count} 个错误，文件未导入 (共 {self.rows} 行)"]
        for group in self.groups():
            lines.append(f"  [{group['column']}] {group['reason']} — {group['count']} 处")
            for ex in group["examples"]:
                note = f" ({ex['detail']})" if ex.get("detail") else ""
                lines.append(f"      第 {ex['row']} 行: {ex['value']!r}{note}")
            if group["count"] > len(group["examples"]):
                lines.append(f"      … 另有 {group['count'] - len(group['examples'])} 处 (完整列表: --report)")
        return "\n".join(lines)


def write_json(reports: Iterable[ValidationReport], out: TextIO) -> None:
    """The reports with every problem, streamed (one problem per line)."""
    out.write("[")
    for n, report in enumerate(reports):
        summary = json.dumps(report.to_dict(), ensure_ascii=False)
        out.write((",\n" if n else "\n") + summary[:-1] + ', "problems": [')
        for i, problem in enumerate(report.iter_problems()):
            out.write(("," if i else "") + "\n  " + json.dumps(asdict(problem), ensure_ascii=False))
        out.write("\n]}")
    out.write("\n]\n")


CSV_HEADER = ("文件", "行号", "列", "值", "原因", "说明")


def write_csv(report: ValidationReport, out: TextIO) -> None:
    """Every problem of ``report`` as CSV rows (file, row, column, value, reason, detail), streamed.
    Cells that a spreadsheet would run as a formula are written as text (a leading apostrophe)."""
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for problem in report.iter_problems():
        writer.writerow([_csv_text(v) for v in astuple(problem)])


def _csv_text(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _first_rows(group: _Group, limit: int) -> list[int]:
    """Positions of the group's ``limit`` first problems in sheet-row order."""
    rows = np.frombuffer(group.rows, dtype=np.int64)
    if len(rows) <= limit:
        return list(np.argsort(rows, kind="stable"))
    first = np.argpartition(rows, limit)[:limit]
    return list(first[np.argsort(rows[first], kind="stable")])


def _example(group: _Group, i: int) -> dict:
    example = {"row": int(group.rows[i]), "value": group.values[i]}
    if group.details is not None and group.details[i]:
        example["detail"] = group.details[i]
    return example


def _short(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"
