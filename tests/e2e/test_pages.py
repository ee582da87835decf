"""Every analysis page in Debian chromium, offline: it loads with demo data without console
errors, a filter change updates its figures and the URL, reloading the URL restores the view,
and a table downloads as a non-empty CSV and XLSX. Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlparse

import pytest
from openpyxl import load_workbook

from app import create_app, stop_app
from config import Settings
from db.demo_data import DemoSpec
from db.engine import make_engine
from db.migrate import upgrade
from db.queries import stores
from db.seed import seed_demo
from tests.e2e.test_smoke import ARTIFACTS, CHROMIUM_ARGS, LOCAL_HOSTS, browser  # noqa: F401 (fixture)
from tests.live_server import waitress_in_thread

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


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A small demo on SQLite served by Waitress, shared by the page tests."""
    root = tmp_path_factory.mktemp("pages")
    settings = Settings.from_env({}, database_url=f"sqlite:///{root / 'o2o.sqlite3'}", data_dir=root / "var",
                                 redis_url="redis://127.0.0.1:1/0")  # fmt: skip
    engine = make_engine(settings.database_url)
    upgrade(engine)
    seed_demo(engine, settings, DemoSpec(stores=4, days=21, seed=11))
    with engine.connect() as conn:
        store = stores(conn).iloc[0]
    app = create_app(settings)
    with waitress_in_thread(app.server) as server:
        yield f"http://127.0.0.1:{server.effective_port}", store
    stop_app(app)
    engine.dispose()


def _settled(page, selector: str, unlike: str | None = None) -> str:
    """The section's text once it has rendered (a grid, a chart or a message), differs from
    ``unlike`` and has not changed for 1.5 s (a filter change may pass through intermediate
    renders, e.g. 全部门店 being dropped from the dropdown)."""
    page.wait_for_selector(f"{selector} .ag-root, {selector} .js-plotly-plot, {selector} .alert", timeout=30000)
    history: list[str] = []
    for _ in range(120):
        page.wait_for_timeout(500)
        text = page.locator(selector).inner_text()
        history.append(text)
        if len(history) >= 4 and len(set(history[-4:])) == 1 and text.strip() and text != unlike:
            return text
    raise AssertionError(f"{selector} did not settle: {history[-1][:200]!r}")


@pytest.mark.parametrize(("path", "body", "control"), PAGES, ids=[p[0].strip("/") for p in PAGES])
def test_e2e101_page_filters_url_reload_and_downloads(site, browser, path, body, control):  # noqa: F811
    base, store = site
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN", accept_downloads=True)
    blocked: list[str] = []
    context.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname in LOCAL_HOSTS
                  else (blocked.append(route.request.url), route.abort()))  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

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
