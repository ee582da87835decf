"""Every analysis page in Debian chromium, offline: it loads with demo data without console
errors, a filter change updates its figures and the URL, reloading the URL restores the view,
and a table downloads as a non-empty CSV and XLSX. Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlparse

import pytest
from openpyxl import load_workbook

from tests.e2e.offline import ARTIFACTS, open_offline, settled

pytestmark = pytest.mark.e2e

# path, the section that renders the figures, a page-specific control (selector, action, URL parameter)
PAGES = [
    ("/overview", "#overview-body", None),
    ("/products", "#products-body", ("#products-sell-split", "fill:40", "sell")),
    ("/time", "#time-body", ("#time-measure label:has-text('实收')", "click", "measure")),
    ("/channels", "#channels-body", None),
    ("/distance", "#distance-body", None),
]  # fmt: skip
# the name of each page's first table: the download's file and sheet name
FIRST_TABLE = {"/overview": "门店一览", "/products": "商品明细", "/time": "时段汇总", "/channels": "渠道对比",
               "/distance": "距离段汇总"}  # fmt: skip


# what a section shows once it has rendered: a grid, a chart or a message
RENDERED = (".ag-root", ".js-plotly-plot", ".alert")


def _settled(page, selector: str, unlike: str | None = None) -> str:
    return settled(page, selector, RENDERED, unlike)


@pytest.mark.parametrize(("path", "body", "control"), PAGES, ids=[p[0].strip("/") for p in PAGES])
def test_e2e101_page_filters_url_reload_and_downloads(demo_site, browser, path, body, control):
    base, store = demo_site.base, demo_site.stores[0]
    context, page, errors, blocked = open_offline(browser, accept_downloads=True)

    page.goto(base + path, wait_until="networkidle")
    everything = _settled(page, body)
    assert "¥" in everything or "%" in everything, everything[:300]  # figures formatted for Chinese readers
    assert page.locator(f"{body} .alert-danger").count() == 0

    prefix = path.strip("/")
    page.locator(f"#{prefix}-store-filter").click()
    page.keyboard.type(store["name"])
    page.get_by_text(f"{store['city']} · {store['name']}").click()
    page.keyboard.press("Escape")
    page.wait_for_function(f"window.location.search.includes('stores={store['id']}')", timeout=20000)
    one_store = _settled(page, body, unlike=everything)
    if control:
        selector, action, parameter = control
        target = page.locator(selector).first
        if action.startswith("fill:"):
            target.fill(action.split(":", 1)[1])
            target.press("Enter")
        else:
            target.click()
        page.wait_for_function(f"window.location.search.includes('{parameter}=')", timeout=20000)
        one_store = _settled(page, body, unlike=one_store)
    query = parse_qs(urlparse(page.url).query)
    assert query["stores"] == [str(store["id"])] and "start" in query and "end" in query

    page.reload(wait_until="networkidle")  # the link alone restores the view
    assert _settled(page, body) == one_store
    assert store["name"] in page.locator(f"#{prefix}-store-filter").inner_text()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-{prefix}.png"), full_page=True)
    with page.expect_download() as csv_download:
        page.locator(f"{body} button", has_text="下载 CSV").first.click()
    assert csv_download.value.suggested_filename == f"{FIRST_TABLE[path]}.csv"  # as named, no "_" put in
    rows = list(csv.reader(io.StringIO(csv_download.value.path().read_text(encoding="utf-8-sig"))))
    assert len(rows) >= 2 and all("\u4e00" <= ch <= "\u9fff" for ch in rows[0][0][:1]), rows[:2]
    with page.expect_download() as xlsx_download:
        page.locator(f"{body} button", has_text="下载 Excel").first.click()
    assert xlsx_download.value.suggested_filename == f"{FIRST_TABLE[path]}.xlsx"
    sheet = load_workbook(io.BytesIO(xlsx_download.value.path().read_bytes())).active
    assert sheet.title == FIRST_TABLE[path]
    assert sheet.max_row == len(rows) and [c.value for c in sheet[1]] == rows[0]
    assert errors == []
    assert blocked == []
    context.close()
