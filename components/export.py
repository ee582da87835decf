"""Table downloads: CSV (UTF-8 with BOM, so Excel opens Chinese correctly) and XLSX.

Text cells that start with = + - @ (or tab / carriage return) are prefixed with an apostrophe
so a spreadsheet never runs them as formulas (CSV injection); numbers stay numbers. Money keeps
two decimals, rates are written as percentages.
"""

from __future__ import annotations

import csv
import io
import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MARKDOWN_LINK = re.compile(r"^\[(.*)\]\([^)]*\)$", re.S)
XLSX_FORMATS = {"money": "#,##0.00", "score": "0", "percent": "0.0%", "change": "+0.0%;-0.0%", "points": "+0.0%;-0.0%",
                "count": "#,##0", "number": "#,##0.00"}  # fmt: skip
RATE_KINDS = ("percent", "change", "points")


def escape_text(value: str) -> str:
    """Neutralise a text cell a spreadsheet would read as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _cell(value, kind: str):
    """The value to write: numbers as numbers, link columns as their text, text escaped."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    if kind == "link":
        match = MARKDOWN_LINK.match(text)
        text = match.group(1) if match else text
    return escape_text(text)


def table_rows(rows: list[dict], columns: list[dict]) -> tuple[list[str], list[list]]:
    """(headers, values) for ``columns`` (AG Grid column defs: field, headerName, type)."""
    headers = [c.get("headerName") or c["field"] for c in columns]
    values = [[_cell(row.get(c["field"]), c.get("type", "text")) for c in columns] for row in rows]
    return headers, values


def _csv_value(value, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if kind in RATE_KINDS:
        return f"{value * 100:.1f}%"
    if kind in ("money", "number"):
        return f"{value:.2f}"
    if kind == "count" and float(value).is_integer():
        return str(int(value))
    return str(value)


def csv_bytes(rows: list[dict], columns: list[dict]) -> bytes:
    headers, values = table_rows(rows, columns)
    kinds = [c.get("type", "text") for c in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([escape_text(h) for h in headers])
    for row in values:
        writer.writerow([_csv_value(v, k) for v, k in zip(row, kinds, strict=True)])
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(rows: list[dict], columns: list[dict], sheet: str) -> bytes:
    """One sheet, header bold and frozen, number formats per column kind. Written in openpyxl's
    write-only mode (rows streamed, no cell model kept): a download costs half the CPU. openpyxl
    is imported by the first download (~5 MB a serving process would hold from its start)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    def styled(value, *, font: Font | None = None, number_format: str | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=value)
        if font is not None:
            cell.font = font
        if number_format is not None:
            cell.number_format = number_format
        return cell

    headers, values = table_rows(rows, columns)
    formats = [XLSX_FORMATS.get(c.get("type", "text")) for c in columns]
    book = Workbook(write_only=True)
    ws = book.create_sheet(re.sub(r"[\[\]:*?/\\]", " ", sheet)[:31] or "Sheet1")
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    ws.append([styled(escape_text(h), font=bold) for h in headers])
    for row in values:
        ws.append([v if fmt is None or v is None else styled(v, number_format=fmt)
                   for v, fmt in zip(row, formats, strict=True)])  # fmt: skip
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
