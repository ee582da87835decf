"""今日必做 in Debian chromium, offline: grouped items with 展开, every item a link to the view
holding its evidence (a SKU → 商品分析 on that SKU, an order → its detail, a store → its
diagnosis), filters in the URL; 今日必做 and 门店健康分 download as tables. Screenshots go to
test-artifacts/e2e/."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlparse

import pytest

from components import ids
from config.rules import RuleSettings
from tests.e2e.offline import ARTIFACTS, open_offline

pytestmark = pytest.mark.e2e
rules = RuleSettings().todo  # the defaults the app under test runs with
TODO = f"#{ids.DIAG_TODO}"


URGENT_ORDER = "#todo-urgent a.todo-link[href^='/channels']"
URGENT_SKU = "#todo-urgent a.todo-link[href^='/products']"


@pytest.fixture(scope="module")
def store(demo_site, browser):
    """The first store whose 今日必做 shows an urgent order and an urgent SKU, each as a link."""
    context, page, _, _ = open_offline(browser)
    for candidate in demo_site.stores:
        page.goto(f"{demo_site.base}/?stores={candidate['id']}", wait_until="networkidle")
        page.locator(f"{TODO} .card-title").first.wait_for(timeout=30000)
        page.wait_for_timeout(500)
        if page.locator(URGENT_ORDER).count() and page.locator(URGENT_SKU).count():
            context.close()
            return candidate
    context.close()
    raise AssertionError("no store's 今日必做 links an urgent order and an urgent SKU to their evidence")


def _open_diagnosis(page, base: str, store: dict) -> None:
    page.goto(f"{base}/?stores={store['id']}", wait_until="networkidle")
    page.locator(f"{TODO} .todo-group").first.wait_for(timeout=30000)


def _csv(download) -> list[list[str]]:
    return list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))


def test_e2e201_todo_groups_expand_and_download(demo_site, store, browser):
    base = demo_site.base
    context, page, errors, blocked = open_offline(browser, accept_downloads=True)
    _open_diagnosis(page, base, store)
    urgent = page.locator("#todo-urgent .todo-item")
    assert urgent.count() >= 2
    for text in urgent.all_text_contents():  # every urgent item (shown or behind 展开) says how much money is at stake
        assert "亏损 ¥" in text or "预计损失销售额 ¥" in text, text
    # at most three items of a group are visible; the rest open with 展开
    group = page.locator(f"{TODO} .todo-group").filter(has=page.locator(".todo-more")).first
    more = group.locator(".todo-more")
    hidden = more.locator(".todo-item").first
    assert group.locator(".todo-item:visible").count() == rules.shown_items_per_rule
    assert not hidden.is_visible()
    more.locator("summary").click()
    hidden.wait_for(state="visible", timeout=5000)
    assert group.locator(".todo-item:visible").count() > rules.shown_items_per_rule
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(TODO).screenshot(path=str(ARTIFACTS / "todo-expanded.png"))

    # the flat table: 级别, 规则, 门店, 对象, 金额, 说明 — one row per listed item
    page.locator(f"{TODO} summary", has_text="明细表").click()
    with page.expect_download() as download:
        page.locator(f"{TODO} button", has_text="下载 CSV").click()
    rows = _csv(download)
    assert rows[0] == ["级别", "规则", "门店", "对象", "金额", "说明"]
    listed = page.locator(f"{TODO} .todo-item").count()
    assert len(rows) - 1 == listed and {r[0] for r in rows[1:]} <= {"紧急", "关注", "亮点"}
    assert {r[2] for r in rows[1:]} == {store["name"]}
    assert all(not r[3].startswith("[") for r in rows[1:])  # links written as their text
    with page.expect_download() as download:
        page.locator(f"#{ids.DIAG_HEALTH} button", has_text="下载 Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    with page.expect_download() as download:
        page.locator(f"#{ids.DIAG_HEALTH} button", has_text="下载 CSV").click()
    health = _csv(download)
    assert health[0][:2] == ["门店", "健康分"] and [r[0] for r in health[1:]] == [store["name"]]
    assert errors == [] and blocked == []
    context.close()


def test_e2e202_item_links_land_on_the_filtered_evidence(demo_site, store, browser):
    base, last = demo_site.base, demo_site.last_day
    context, page, errors, blocked = open_offline(browser, accept_downloads=True)
    _open_diagnosis(page, base, store)

    # a SKU → 商品分析 on that SKU and store, ending the 今日必做 day
    link = page.locator(URGENT_SKU).first
    name = link.inner_text()
    link.click()
    page.wait_for_function("window.location.pathname === '/products'", timeout=20000)
    query = parse_qs(urlparse(page.url).query)
    assert query["stores"] == [str(store["id"])] and query["end"] == [last] and query["sku"][0].isdigit()
    title = page.locator("#products-focus-title")
    title.wait_for(timeout=30000)
    assert title.inner_text() == f"商品：{name}"
    assert store["name"] in page.locator(f"#{ids.PRODUCTS.store}").inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "todo-sku-link.png"), full_page=True)

    # an order → its detail on 渠道分析
    _open_diagnosis(page, base, store)
    link = page.locator(URGENT_ORDER).first
    order_no = link.inner_text()
    link.click()
    page.wait_for_function("window.location.pathname === '/channels'", timeout=20000)
    query = parse_qs(urlparse(page.url).query)
    assert query["stores"] == [str(store["id"])] and query["order"][0].isdigit()
    detail = page.locator(f"#{ids.CHANNELS_ORDER}")
    detail.get_by_text(f"订单 {order_no}").wait_for(timeout=30000)
    assert "订单实际利润" in detail.inner_text()
    # the link asked for that order: its detail is brought into view, not left below the tables
    page.wait_for_function(f"""() => {{
        const box = document.getElementById("{ids.CHANNELS_ORDER}").getBoundingClientRect();
        return box.top >= 0 && box.top < window.innerHeight; }}""", timeout=10000)
    page.screenshot(path=str(ARTIFACTS / "todo-order-link.png"))

    # a store → its diagnosis over the two weeks the store rules compare
    _open_diagnosis(page, base, store)
    stores_links = page.locator(f"{TODO} a.todo-link[href^='/?']")
    if stores_links.count():
        stores_links.first.click()
        page.wait_for_function("window.location.search.includes('start=')", timeout=20000)
        query = parse_qs(urlparse(page.url).query)
        assert query["stores"] == [str(store["id"])] and query["end"] == [last]
        page.locator("[data-kpi=orders]").wait_for(timeout=30000)
    assert errors == [] and blocked == []
    context.close()
