"""Table downloads: CSV (UTF-8 with BOM, so Excel opens Chinese correctly) and XLSX.

Text cells that start with = + - @ (or tab / carriage return) never run as formulas (formula
injection): in CSV they are prefixed with an apostrophe (a CSV cell has no type), in XLSX they are
text cells with Excel's quote-prefix style, so Excel shows the text as it is (no apostrophe) and
keeps it text when the cell is edited; numbers stay numbers. Every number
is rounded as the grid shows it (a rate shown as 12.3% is 12.3% in CSV and 0.123 formatted 0.0%
in XLSX; a score shown as 57 is 57), times are written as 2026-11-25 20:24, and the file and
sheet are named after the section.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from components.format import rounded

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_FORMATS = {"money": "#,##0.00", "score": "0", "percent": "0.0%", "change": "+0.0%;-0.0%", "points": "+0.0%;-0.0%",
                "count": "#,##0", "number": "#,##0.00", "datetime": "yyyy-mm-dd hh:mm"}  # fmt: skip
RATE_KINDS = ("percent", "change", "points")
TEXT_FIELD = "text_field"  # ColDef.context key: the row field whose text the grid shows instead
# Decimals the grid shows (components/grid.py FORMATTERS); rates in percent points
DISPLAY_PLACES = {"money": 2, "number": 2, "score": 0, "count": 0, "percent": 1, "change": 1, "points": 1}
TIME_FORMAT = "%Y-%m-%d %H:%M"
# Windows forbids these in file names (and browsers turn them into "_"); control characters too
FILE_NAME_ILLEGAL = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
SHEET_NAME_ILLEGAL = re.compile(r"[\[\]:*?/\\]")  # Excel's own rule for sheet names
SHEET_NAME_MAX = 31


def escape_text(value: str) -> str:
    """Neutralise a CSV text cell a spreadsheet would read as a formula."""
    return "'" + value if is_formula_like(value) else value


def is_formula_like(value: str) -> bool:
    return value.startswith(FORMULA_START)


def _tidy(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip()


def file_name(title: str, extension: str) -> str:
    """``title`` as a file name: characters no file system accepts are left out (not replaced,
    so a Chinese name stays readable); a trailing dot or space would be dropped by Windows."""
    name = _tidy(FILE_NAME_ILLEGAL.sub("", title)).rstrip(". ")
    return f"{name or '表格'}.{extension}"


def sheet_name(title: str) -> str:
    """``title`` as an Excel sheet name: without []:*?/\\, at most 31 characters (Excel refuses
    longer names), no apostrophe at either end."""
    name = _tidy(SHEET_NAME_ILLEGAL.sub("", title))[:SHEET_NAME_MAX].strip().strip("'")
    return name or "Sheet1"


def _time(text: str) -> dt.datetime | None:
    """An ISO time to the minute, as the grid shows it (cut, not rounded)."""
    try:
        return dt.datetime.fromisoformat(text).replace(second=0, microsecond=0, tzinfo=None)  # Excel has no zones
    except ValueError:
        return None


def _cell(value, kind: str):
    """The value to write: numbers rounded as shown (rates as fractions), times as datetimes,
    text as it is, a link column's too (its name; each format neutralises formulas its own way)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (int, float)):
        places = DISPLAY_PLACES.get(kind)
        if places is None or value != value or value in (float("inf"), float("-inf")):
            return value
        if kind in RATE_KINDS:  # shown as (value × 100) to ``places`` decimals
            return round(rounded(value, places, shift=2) / 100, places + 2)
        shown = rounded(value, places)
        return int(shown) if places == 0 else shown
    text = str(value)
    if kind == "datetime":
        stamp = _time(text)
        if stamp is not None:
            return stamp
    return text


def _value(row: dict, column: dict):
    """What the grid shows in ``column``: a text that stands in for the value where the column's
    ``context.text_field`` names one (上期数据不足 instead of an empty 环比), else the value."""
    text_field = (column.get("context") or {}).get(TEXT_FIELD)
    if text_field and row.get(text_field):
        return str(row[text_field])
    return row.get(column["field"])


def table_rows(rows: list[dict], columns: list[dict]) -> tuple[list[str], list[list]]:
    """(headers, values) for ``columns`` (AG Grid column defs: field, headerName, type)."""
    headers = [c.get("headerName") or c["field"] for c in columns]
    values = [[_cell(_value(row, c), c.get("type", "text")) for c in columns] for row in rows]
    return headers, values


def _csv_value(value, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_text(value)
    if isinstance(value, dt.datetime):
        return value.strftime(TIME_FORMAT)
    if kind in RATE_KINDS:
        return f"{value * 100:.{DISPLAY_PLACES[kind]}f}%"
    if kind in ("money", "number"):
        return f"{value:.2f}"
    if isinstance(value, float) and value.is_integer() and kind in ("count", "score"):
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
    """One sheet named after ``sheet``, header bold and frozen, number formats per column kind.
    Written in openpyxl's write-only mode (rows streamed, no cell model kept): a download costs
    half the CPU. openpyxl is imported by the first download (~5 MB a serving process would hold
    from its start)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    def styled(value, *, font: Font | None = None, number_format: str | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=value)
        if isinstance(value, str) and is_formula_like(value):
            cell.data_type = "s"  # openpyxl would write "=…" as a formula
            cell.quotePrefix = True  # Excel keeps it text when the cell is edited
        if font is not None:
            cell.font = font
        if number_format is not None:
            cell.number_format = number_format
        return cell

    headers, values = table_rows(rows, columns)
    kinds = [c.get("type", "text") for c in columns]
    formats = [XLSX_FORMATS.get(kind) for kind in kinds]
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet_name(sheet))
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    ws.append([styled(h, font=bold) for h in headers])
    for row in values:
        ws.append([styled(v) if isinstance(v, str) and is_formula_like(v) else
                   v if fmt is None or v is None or isinstance(v, str) else styled(v, number_format=fmt)
                   for v, fmt in zip(row, formats, strict=True)])  # fmt: skip
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_file(rows: list[dict], columns: list[dict], title: str, extension: str) -> tuple[bytes, str]:
    """(content, file name) of a table download: ``extension`` csv or xlsx, named after ``title``."""
    if extension == "xlsx":
        return xlsx_bytes(rows, columns, title), file_name(title, "xlsx")
    return csv_bytes(rows, columns), file_name(title, "csv")
