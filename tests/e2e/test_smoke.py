"""Browser smoke test: Debian chromium via Playwright, every non-localhost request blocked."""

from __future__ import annotations

import re
import time

import pytest

from components import ids
from tests.e2e.offline import ARTIFACTS, open_offline

pytestmark = pytest.mark.e2e


def test_e2e001_diagnosis_page_renders_offline(demo_site, browser):
    context, page, console_errors, blocked = open_offline(browser)

    page.goto(demo_site.base + "/", wait_until="networkidle")
    page.get_by_role("heading", name="门店诊断看板").wait_for(timeout=15000)
    orders = page.locator("[data-kpi=orders]")
    orders.wait_for(timeout=15000)
    kpis = {
        k: page.locator(f"[data-kpi={k}]").inner_text()
        for k in ("orders", "revenue", "actual_profit", "avg_order_value", "profit_margin", "active_skus")
    }
    assert all(re.search(r"\d", text) for text in kpis.values()), kpis
    assert int(kpis["orders"].replace(",", "")) > 100  # 4 stores × 7 days of demo orders
    # Bootstrap is served locally: the navbar gets .bg-dark's colour, the cards a border radius.
    navbar_bg = page.locator("nav.navbar").evaluate("e => getComputedStyle(e).backgroundColor")
    assert navbar_bg == "rgb(33, 37, 41)"
    # The monitor panel sits under the title and refreshes itself every 5 s.
    title_box = page.get_by_role("heading", name="门店诊断看板").bounding_box()
    panel_box = page.locator("[data-monitor=redis]").bounding_box()
    assert panel_box["y"] > title_box["y"] and panel_box["y"] < orders.bounding_box()["y"]
    refreshes: list[float] = []
    page.on("response", lambda r: refreshes.append(time.monotonic())
            if "/_dash-update-component" in r.url and ids.MONITOR_CARDS in (r.request.post_data or "")
            else None)  # fmt: skip
    started = time.monotonic()
    page.wait_for_timeout(6500)
    assert refreshes and refreshes[0] - started <= 6.0, refreshes
    # The store dropdown speaks Chinese too (Dash 4's own texts are English by default).
    page.locator(f"#{ids.DIAG_STORE_FILTER}").click()
    page.get_by_text("全选").wait_for(timeout=5000)
    assert page.get_by_text("Select All").count() == 0
    page.keyboard.press("Escape")
    toggle = page.locator(f"#{ids.MONITOR_TOGGLE}")
    toggle.click()
    page.get_by_text("Redis 版本").wait_for(timeout=5000)
    assert toggle.inner_text() == "隐藏详细信息"
    page.wait_for_timeout(600)  # let the collapse animation finish before the screenshot
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "diagnosis.png"), full_page=True)
    assert console_errors == []
    assert blocked == []  # the page asked for nothing outside localhost
    context.close()


def test_e2e002_filters_live_in_the_url(demo_site, browser):
    store = demo_site.stores[0]
    context, page, errors, _ = open_offline(browser, console_errors=False)
    page.goto(demo_site.base + "/", wait_until="networkidle")
    orders = page.locator("[data-kpi=orders]")
    orders.wait_for(timeout=15000)
    all_stores = orders.inner_text()

    page.locator(f"#{ids.DIAG_STORE_FILTER}").click()
    page.keyboard.type(store["name"])
    page.get_by_text(f"{store['city']} · {store['name']}").click()
    page.keyboard.press("Escape")
    page.wait_for_function(f"window.location.search.includes('stores={store['id']}')", timeout=20000)
    page.wait_for_function(f"(document.querySelector('[data-kpi=orders]') || {{}}).innerText !== '{all_stores}'",
                           timeout=20000)  # fmt: skip
    one_store = orders.inner_text()

    page.reload(wait_until="networkidle")  # the link alone restores the view
    orders.wait_for(timeout=15000)
    page.wait_for_function(f"(document.querySelector('[data-kpi=orders]') || {{}}).innerText === '{one_store}'",
                           timeout=20000)  # fmt: skip
    assert store["name"] in page.locator(f"#{ids.DIAG_STORE_FILTER}").inner_text()

    page.go_back(wait_until="networkidle")  # back to the all-stores view
    page.wait_for_function(f"(document.querySelector('[data-kpi=orders]') || {{}}).innerText === '{all_stores}'",
                           timeout=20000)  # fmt: skip
    assert "stores=" not in page.evaluate("window.location.search")
    assert errors == []
    context.close()
