"""CSV / XLSX downloads: formula cells escaped, numbers kept as numbers and rounded as the grid
shows them, times without T and seconds, headers in Chinese, files and sheets named after the
section."""

import csv
import datetime as dt
import io

from openpyxl import load_workbook

from components.export import TEXT_FIELD, csv_bytes, escape_text, file_name, sheet_name, table_file, xlsx_bytes
from components.grid import column, data_grid

COLUMNS = [column("name", "商品"), column("revenue", "实收", "money"), column("margin", "利润率", "percent"),
           column("link", "门店", "link"), column("orders", "订单数", "count")]  # fmt: skip
ROWS = [
    {"name": "=HYPERLINK(\"http://x\")", "revenue": -12.5, "margin": 0.1234, "link": "+门店A",
     "link_href": "/?stores=1", "orders": 3.0},
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
    assert values[1] == ['=HYPERLINK("http://x")', -12.5, 0.123, "+门店A", 3]  # 12.3% as shown
    assert sheet["B2"].number_format == "#,##0.00" and sheet["C2"].number_format == "0.0%"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)  # no formula anywhere
    assert sheet["A1"].font.b and not sheet["A2"].font.b and sheet.freeze_panes == "A2"


def _csv(rows, columns) -> list[list[str]]:
    return list(csv.reader(io.StringIO(csv_bytes(rows, columns).decode("utf-8-sig"))))


def _xlsx(rows, columns, sheet="表"):
    return load_workbook(io.BytesIO(xlsx_bytes(rows, columns, sheet)))


def test_exp004_ratios_and_scores_rounded_as_the_grid_shows_them():
    # The grid (assets/dashAgGridFunctions.js, like components/format.py) rounds half-up on the
    # decimal a number prints as: 56.5 → "57", 0.125 → "0.13", 0.1235 → "12.4%" (12.35, not the
    # binary 12.3499…), 1.005 → "1.01" (not toFixed's 1.00), 0.0005 → "0.1%"; -0.04 % shows as 0.0
    columns = [column("score", "健康分", "score"), column("rate", "利润率", "percent"),
               column("change", "实收环比", "change"), column("money", "实收", "money")]  # fmt: skip
    rows = [{"score": 56.5, "rate": 0.12345, "change": 0.0005, "money": 0.125},
            {"score": 57.4, "rate": 0.1235, "change": -0.0004, "money": 1.005}]  # fmt: skip
    assert _csv(rows, columns)[1:] == [["57", "12.3%", "0.1%", "0.13"], ["57", "12.4%", "0.0%", "1.01"]]
    sheet = _xlsx(rows, columns)["表"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert values == [[57, 0.123, 0.001, 0.13], [57, 0.124, 0.0, 1.01]]
    assert isinstance(values[0][0], int)
    assert [sheet.cell(2, i).number_format for i in (1, 2, 4)] == ["0", "0.0%", "#,##0.00"]


def test_exp005_times_without_t_or_seconds():
    columns = [column("ordered_at", "下单时间", "datetime"), column("name", "商品")]
    rows = [{"ordered_at": "2026-11-25T20:24:37", "name": "牛奶"}, {"ordered_at": None, "name": "面包"}]
    assert _csv(rows, columns)[1:] == [["2026-11-25 20:24", "牛奶"], ["", "面包"]]
    sheet = _xlsx(rows, columns)["表"]
    assert sheet["A2"].value == dt.datetime(2026, 11, 25, 20, 24)
    assert sheet["A2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["A3"].value is None


def test_exp006_file_and_sheet_named_after_the_section():
    assert file_name("渠道对比", "csv") == "渠道对比.csv"
    assert file_name("美团闪购 · 含该商品的订单", "xlsx") == "美团闪购 · 含该商品的订单.xlsx"
    # characters no file system accepts are left out, never replaced by "_"
    assert file_name('亏损商品 <利润>: "a/b\\c|d?e*"', "csv") == "亏损商品 利润 abcde.csv"
    assert sheet_name("京东到家 · 商品[2]: a/b?") == "京东到家 · 商品2 ab"
    long = "异常订单收费渠道但平台服务费为零已从全部指标中排除共计三十二个字"
    assert len(long) > 31 and sheet_name(long) == long[:31]
    content, name = table_file([{"name": "牛奶"}], [column("name", "商品")], "滞销商品", "xlsx")
    assert name == "滞销商品.xlsx" and load_workbook(io.BytesIO(content)).sheetnames == ["滞销商品"]


def _find(node, wanted_id):
    if getattr(node, "id", None) == wanted_id:
        return node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = _find(child, wanted_id)
            if found is not None:
                return found
    return None


def test_exp007_grid_title_is_the_name_and_the_hint_stands_beside_it():
    grid = data_grid("channels", "channels", "渠道对比", [], [column("channel", "渠道")], clickable=True,
                     hint="点击一行查看该渠道的商品")  # fmt: skip
    title = _find(grid, {"type": "title", "page": "channels", "table": "channels"})
    assert title.children == "渠道对比"  # what the download callback names the file and sheet after
    assert "点击一行查看该渠道的商品" in str(grid)


def test_exp008_a_withheld_change_exports_as_the_grid_shows_it():
    # 经营总览's 环比 columns show the withheld reason instead of a percentage (their context names
    # the field); the download must hold the same words, not an empty cell, and a covered store
    # still gets its number
    columns = [column("name", "门店"), column("orders_change", "单量环比", "change", context={TEXT_FIELD: "why"}),
               column("margin_change", "利润率环比", "points", context={TEXT_FIELD: "why"})]  # fmt: skip
    rows = [{"name": "A", "orders_change": None, "margin_change": None, "why": "上期数据不足"},
            {"name": "B", "orders_change": 0.25, "margin_change": -0.012, "why": None}]  # fmt: skip
    assert _csv(rows, columns)[1:] == [["A", "上期数据不足", "上期数据不足"], ["B", "25.0%", "-1.2%"]]
    sheet = _xlsx(rows, columns)["表"]
    assert [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)] == [
        ["A", "上期数据不足", "上期数据不足"], ["B", 0.25, -0.012]]


def test_exp009_overview_change_columns_name_their_withheld_text():
    import dash

    dash.Dash(__name__, use_pages=True, pages_folder="")  # register_page needs an app instance
    from pages.overview import STORE_COLUMNS

    changes = [c["field"] for c in STORE_COLUMNS if (c.get("context") or {}).get(TEXT_FIELD) == "change_withheld"]
    assert changes == ["orders_change", "revenue_change", "margin_change"]


def test_exp010_xlsx_formula_like_text_is_a_text_cell_without_an_apostrophe():
    """Text that starts like a formula is exported as a quote-prefixed text cell: read back, the
    value is the original text (no apostrophe in it) and the cell is text, not a formula."""
    rows = [{"name": name, "revenue": 1.0, "margin": 0.1, "link": name, "link_href": "/?stores=1", "orders": 1}
            for name in ("=1+1", "+86 138", "-5", "@SUM(A1)", "\tTab", "正常=文本")]  # fmt: skip
    sheet = _xlsx(rows, COLUMNS)["表"]
    for row, cells in zip(rows, sheet.iter_rows(min_row=2), strict=True):
        for cell, text in ((cells[0], row["name"]), (cells[3], row["name"])):
            assert cell.value == text and cell.data_type == "s", (cell.coordinate, cell.value)
            assert cell.quotePrefix == text.startswith(("=", "+", "-", "@", "\t")), cell.coordinate
    header = _xlsx(ROWS, [column("name", "=标题")])["表"]["A1"]
    assert (header.value, header.data_type, header.quotePrefix, header.font.b) == ("=标题", "s", True, True)
