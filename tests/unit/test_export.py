"""CSV / XLSX downloads: formula cells escaped, numbers kept as numbers, headers in Chinese."""

import csv
import io

from openpyxl import load_workbook

from components.export import csv_bytes, escape_text, xlsx_bytes
from components.grid import column

COLUMNS = [column("name", "商品"), column("revenue", "实收", "money"), column("margin", "利润率", "percent"),
           column("link", "门店", "link"), column("orders", "订单数", "count")]  # fmt: skip
ROWS = [
    {"name": "=HYPERLINK(\"http://x\")", "revenue": -12.5, "margin": 0.1234, "link": "[+门店A](/?stores=1)",
     "orders": 3.0},
    {"name": "@SUM(A1)", "revenue": 1000.0, "margin": None, "link": "普通", "orders": 10},
    {"name": "-1+2", "revenue": 0.0, "margin": -0.05, "link": "\tTab", "orders": 0},
]  # fmt: skip


def test_exp001_escape_only_formula_starts():
    assert [escape_text(t) for t in ("=1", "+1", "-1", "@a", "\tx", "\rx", "正常", "a=b")] == [
        "'=1", "'+1", "'-1", "'@a", "'\tx", "'\rx", "正常", "a=b"]  # fmt: skip


def test_exp002_csv_has_bom_chinese_headers_and_escaped_text():
    data = csv_bytes(ROWS, COLUMNS)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["商品", "实收", "利润率", "门店", "订单数"]
    assert rows[1] == ['\'=HYPERLINK("http://x")', "-12.50", "12.3%", "'+门店A", "3"]
    assert rows[2] == ["'@SUM(A1)", "1000.00", "", "普通", "10"]
    assert rows[3][0] == "'-1+2" and rows[3][2] == "-5.0%" and rows[3][3] == "'\tTab"


def test_exp003_xlsx_keeps_numbers_numeric_with_formats():
    book = load_workbook(io.BytesIO(xlsx_bytes(ROWS, COLUMNS, "商品明细")))
    sheet = book["商品明细"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == ["商品", "实收", "利润率", "门店", "订单数"]
    assert values[1] == ['\'=HYPERLINK("http://x")', -12.5, 0.1234, "'+门店A", 3]
    assert sheet["B2"].number_format == "#,##0.00" and sheet["C2"].number_format == "0.0%"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)  # no formula anywhere
    assert sheet["A1"].font.b and not sheet["A2"].font.b and sheet.freeze_panes == "A2"
