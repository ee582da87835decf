"""XLSX caps are enforced while the sheet is read: sheets without a <dimension> element (what the
row/column caps used to rely on) are refused quickly and in bounded memory, with one line naming
the file, the cap and the setting that raises it.

Each file is written by streaming sheet XML into a zip (no spreadsheet library), and the reader
runs in a fresh interpreter so that its peak RSS can be measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from config import PROJECT_ROOT

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
    "</Relationships>"
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="订单明细" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
    "</Relationships>"
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = "</sheetData></worksheet>"

READER = """
import json, resource, sys, time
from pathlib import Path
from config import Settings
from db.errors import ImportRejectedError
from db.importer import read_limits
from db.importer.reader import open_sheet
limits = read_limits(Settings.from_env({}))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    with open_sheet(Path(sys.argv[1]), limits, 50_000) as sheet:
        rows = sum(len(chunk) for chunk in sheet)
    message = f"read {rows} rows"
except ImportRejectedError as exc:
    message = str(exc)
print(json.dumps({"message": message, "seconds": time.perf_counter() - started,
                  "rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}))
"""


def _col(n: int) -> str:
    letters = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _write_xlsx(path: Path, blocks) -> Path:
    """A minimal workbook whose only sheet is SHEET_HEAD + the blocks + SHEET_TAIL, no <dimension>."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(SHEET_HEAD.encode())
            for block in blocks:
                sheet.write(block.encode())
            sheet.write(SHEET_TAIL.encode())
    return path


def _read_in_subprocess(path: Path) -> dict:
    """Old readers took minutes on these files; 60 s is the point where the answer is 'too slow'."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", READER, str(path)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return {"message": "still reading after 60 s", "seconds": 60.0, "rss_growth_mb": None}
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _narrow_rows(rows: int):
    header = '<c r="{}1" t="inlineStr"><is><t>{}</t></is></c>'
    yield '<row r="1">' + header.format("A", "订单号") + header.format("B", "数量") + "</row>"
    for start in range(2, rows + 1, 20_000):
        yield "".join(
            f'<row r="{n}"><c r="A{n}"><v>{n}</v></c><c r="B{n}"><v>1</v></c></row>'
            for n in range(start, min(start + 20_000, rows + 1))
        )


def test_xlsxcap001_narrow_sheet_without_dimension_is_refused_at_the_row_cap(tmp_path):
    """2,000,000 rows × 2 columns, no <dimension>: over the 1,048,576-row cap."""
    path = _write_xlsx(tmp_path / "narrow.xlsx", _narrow_rows(2_000_000))
    result = _read_in_subprocess(path)
    assert "narrow.xlsx" in result["message"] and "O2O_MAX_XLSX_ROWS" in result["message"], result
    assert result["seconds"] <= 5 and result["rss_growth_mb"] <= 300, result


def _wide_rows(rows: int, columns: int):
    for r in range(1, rows + 1):
        yield (
            f'<row r="{r}">' + "".join(f'<c r="{_col(c)}{r}"><v>{c}</v></c>' for c in range(1, columns + 1)) + "</row>"
        )


def test_xlsxcap002_wide_sheet_without_dimension_is_refused_at_the_column_cap(tmp_path):
    """60 rows × 16,384 columns (the widest sheet Excel allows), no <dimension>: over 200 columns."""
    path = _write_xlsx(tmp_path / "wide.xlsx", _wide_rows(60, 16_384))
    result = _read_in_subprocess(path)
    assert "wide.xlsx" in result["message"] and "O2O_MAX_XLSX_COLUMNS" in result["message"], result
    assert result["seconds"] <= 5 and result["rss_growth_mb"] <= 300, result


def test_xlsxcap003_wide_sheet_without_cell_references_is_refused(tmp_path):
    """Cells may omit r="A1" (their place is implied): 1,000 rows × 16,384 columns, no references,
    varied values so that the zip is not refused for its compression ratio alone."""
    blocks = (
        "<row>" + "".join(f"<c><v>{r * 16_384 + c}</v></c>" for c in range(16_384)) + "</row>" for r in range(1_000)
    )
    path = _write_xlsx(tmp_path / "implied.xlsx", blocks)
    result = _read_in_subprocess(path)
    assert "implied.xlsx" in result["message"] and "O2O_MAX_XLSX_COLUMNS" in result["message"], result
    assert result["seconds"] <= 5 and result["rss_growth_mb"] <= 300, result


def test_xlsxcap004_two_far_apart_cells_are_refused_for_the_grid_they_span(tmp_path):
    """A1 and GR1048576: two cells, but a reader that fills the rectangle between them would hold
    1,048,576 × 200 cells — over the 30,000,000-cell cap (rows and columns are each within theirs)."""
    blocks = [
        '<row r="1"><c r="A1" t="inlineStr"><is><t>订单号</t></is></c></row>',
        '<row r="1048576"><c r="GR1048576"><v>1</v></c></row>',
    ]
    path = _write_xlsx(tmp_path / "sparse.xlsx", blocks)
    result = _read_in_subprocess(path)
    assert "sparse.xlsx" in result["message"] and "O2O_MAX_XLSX_CELLS" in result["message"], result
    assert result["seconds"] <= 5 and result["rss_growth_mb"] <= 300, result
