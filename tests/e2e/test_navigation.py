"""Browser history in Debian chromium, offline: Back / Forward restore the filters and page controls
shown (not only the address) with the figures that go with them, across pages; an unknown path
answers 404 and shows 页面不存在. Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from components import ids
from tests.e2e.offline import ARTIFACTS, open_offline, settled

pytestmark = pytest.mark.e2e

KPIS = f"#{ids.DIAG_KPI_CONTAINER}"
PRODUCTS = f"#{ids.PRODUCTS_BODY}"


def _kpis(page, unlike: str | None = None) -> str:
    return settled(page, KPIS, "[data-kpi=orders]", unlike)


def _products(page, unlike: str | None = None) -> str:
    return settled(page, PRODUCTS, ".ag-root", unlike)


def _pick_store(page, prefix: str, store) -> None:
    page.locator(f"#{prefix}-store-filter").click()
    page.keyboard.type(store["name"])
    page.get_by_text(f"{store['city']} · {store['name']}").click()
    page.keyboard.press("Escape")
    page.wait_for_function(f"window.location.search.includes('stores={store['id']}')", timeout=20000)


def _set_split(page, selector: str, value: str, parameter: str) -> None:
    page.locator(selector).fill(value)
    page.locator(selector).press("Enter")
    page.wait_for_function(f"window.location.search.includes('{parameter}={value}')", timeout=20000)


def _query(page) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _store_shown(page, prefix: str) -> str:
    return page.locator(f"#{prefix}-store-filter").inner_text()


def test_e2e201_back_and_forward_restore_filters_controls_and_figures(demo_site, browser):
    """门店诊断 then 商品分析: every Back / Forward shows the filters, the quadrant splits and the
    figures of its address. Dash Pages re-renders a page only when the address differs from the
    one it last saw, so Back to the entry it last saw (the first one) used to change the address
    alone."""
    base, store = demo_site.base, demo_site.stores[0]
    context, page, errors, blocked = open_offline(browser)

    page.goto(base + "/", wait_until="networkidle")
    everything = _kpis(page)
    _pick_store(page, "diagnosis", store)
    one_store = _kpis(page, unlike=everything)

    page.go_back()
    page.wait_for_function("!window.location.search.includes('stores=')", timeout=20000)
    assert _kpis(page) == everything
    shown = _store_shown(page, "diagnosis")
    assert "全部门店" in shown and store["name"] not in shown, shown
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "history-back-diagnosis.png"), full_page=True)

    page.go_forward()
    page.wait_for_function(f"window.location.search.includes('stores={store['id']}')", timeout=20000)
    assert _kpis(page) == one_store
    assert store["name"] in _store_shown(page, "diagnosis")

    page.get_by_role("link", name="商品分析").click()  # the navbar: a client-side navigation
    page.wait_for_url("**/products", timeout=20000)
    products_all = _products(page)
    _set_split(page, f"#{ids.PRODUCTS_SELL_SPLIT}", "30", "sell")
    sell_30 = _products(page, unlike=products_all)

    page.go_back()  # 商品分析 as first opened
    page.wait_for_function("!window.location.search.includes('sell=30')", timeout=20000)
    assert _products(page) == products_all
    assert page.locator(f"#{ids.PRODUCTS_SELL_SPLIT}").input_value() == "50"
    page.go_forward()
    page.wait_for_function("window.location.search.includes('sell=30')", timeout=20000)
    assert _products(page) == sell_30
    assert page.locator(f"#{ids.PRODUCTS_SELL_SPLIT}").input_value() == "30"

    _set_split(page, f"#{ids.PRODUCTS_MARGIN_SPLIT}", "10", "margin")
    _products(page, unlike=sell_30)
    page.go_back()  # margin split back to its default, sell split still 30
    page.wait_for_function("!window.location.search.includes('margin=10')", timeout=20000)
    assert _products(page) == sell_30
    assert page.locator(f"#{ids.PRODUCTS_MARGIN_SPLIT}").input_value() == "25"
    assert page.locator(f"#{ids.PRODUCTS_SELL_SPLIT}").input_value() == "30"
    page.screenshot(path=str(ARTIFACTS / "history-back-products.png"), full_page=True)

    page.go_back()
    page.go_back()  # 门店诊断 with the store picked before leaving
    page.wait_for_url("**/?*", timeout=20000)
    assert _query(page)["stores"] == str(store["id"])
    assert _kpis(page) == one_store
    assert store["name"] in _store_shown(page, "diagnosis")
    assert errors == []
    assert blocked == []
    context.close()


def test_e2e202_back_on_one_page_restores_the_store_and_its_figures(demo_site, browser):
    """商品分析 alone: a store, Back, Forward, 全部门店, Back — each step shows its address's store."""
    base, store = demo_site.base, demo_site.stores[0]
    context, page, errors, blocked = open_offline(browser)
    page.goto(base + "/products", wait_until="networkidle")
    everything = _products(page)
    _pick_store(page, "products", store)
    one_store = _products(page, unlike=everything)
    store_search = page.evaluate("window.location.search")

    page.go_back()
    page.wait_for_function("window.location.search === ''", timeout=20000)
    assert _products(page) == everything
    assert store["name"] not in _store_shown(page, "products")
    page.go_forward()
    page.wait_for_function(f"window.location.search === {store_search!r}", timeout=20000)
    assert _products(page) == one_store
    assert store["name"] in _store_shown(page, "products")

    page.locator("#products-store-filter").click()  # 全部门店 picked again: a new entry
    page.get_by_text("全部门店").last.click()
    page.keyboard.press("Escape")
    page.wait_for_function("!window.location.search.includes('stores=')", timeout=20000)
    assert _products(page, unlike=one_store) == everything
    page.go_back()
    page.wait_for_function(f"window.location.search === {store_search!r}", timeout=20000)
    assert _products(page) == one_store
    assert store["name"] in _store_shown(page, "products")
    assert errors == []
    assert blocked == []
    context.close()


def test_e2e204_back_and_forward_walk_the_channel_drill_down(demo_site, browser):
    """渠道分析: a click on a channel opens its SKUs (channel= in the address, one history entry);
    Back returns to the page as opened, SKUs closed; Forward reopens the same channel."""
    base = demo_site.base
    context, page, errors, blocked = open_offline(browser)
    page.goto(base + "/channels", wait_until="networkidle")
    skus = f"#{ids.CHANNELS_SKUS}"
    closed = settled(page, skus, ".alert")
    assert "点击渠道对比表中的一行" in closed
    settled(page, f"#{ids.CHANNELS_BODY}", ".ag-root")
    row = page.locator(f"#{ids.CHANNELS_BODY} .ag-pinned-left-cols-container .ag-row").first  # 渠道 is pinned
    channel = row.inner_text()
    row.click()
    page.wait_for_function("window.location.search.includes('channel=')", timeout=20000)
    opened = settled(page, skus, ".ag-root")
    assert channel.strip() in opened

    page.go_back()  # opening the page pushed no entry of its own: Back is the address it was opened at
    page.wait_for_function("window.location.search === ''", timeout=20000)
    assert settled(page, skus, ".alert") == closed
    page.go_forward()
    page.wait_for_function("window.location.search.includes('channel=')", timeout=20000)
    assert settled(page, skus, ".ag-root") == opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "history-forward-channels.png"), full_page=True)
    assert errors == []
    assert blocked == []
    context.close()


def test_e2e203_unknown_path_is_404_with_the_chinese_page(demo_site, browser):
    base = demo_site.base
    context, page, errors, blocked = open_offline(browser)
    response = page.goto(base + "/no-such-page", wait_until="networkidle")
    assert response.status == 404
    page.get_by_role("heading", name="页面不存在").wait_for(timeout=15000)
    assert page.title().startswith("页面不存在")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "not-found.png"), full_page=True)
    page.get_by_role("link", name="返回门店诊断").click()
    page.locator("[data-kpi=orders]").wait_for(timeout=20000)
    # the document's own 404 is the only console error (Chromium logs it for the page itself)
    assert all("404" in e for e in errors), errors
    assert blocked == []
    context.close()
