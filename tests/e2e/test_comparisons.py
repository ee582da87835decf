"""环比 / 同比 in Debian chromium, offline: on the default window the two lines compare different
periods (and say which); a window whose previous period starts before the data reads 上期数据不足
with the coverage in the tooltip, on the KPI cards and in 经营总览's 环比 columns, never a
percentage. Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from components import ids
from db.demo_data import DemoSpec
from tests.e2e.offline import ARTIFACTS, open_offline, serve_demo

pytestmark = pytest.mark.e2e

SPEC = DemoSpec(stores=3, days=42, seed=11)  # 6 weeks: the default week's 同比 (4 weeks back) is in the data
CARDS = ("orders", "revenue", "actual_profit", "avg_order_value", "profit_margin", "active_skus")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """SPEC on SQLite behind Waitress: its base URL."""
    with serve_demo(SPEC, tmp_path_factory.mktemp("comparisons")) as demo:
        yield demo.base


@pytest.fixture
def page(browser):
    context, tab, errors, blocked = open_offline(browser, console_errors=False)
    yield tab
    assert errors == [] and blocked == []
    context.close()


def _lines(page, label: str) -> list[tuple[str, str]]:
    """(text, tooltip) of each card's line starting with ``label`` (环比 / 同比), in card order."""
    found = []
    for key in CARDS:
        card = page.locator(".card", has=page.locator(f"[data-kpi={key}]"))
        line = card.locator("div.small", has_text=re.compile(f"^{label}"))
        found.append((line.inner_text(), line.get_attribute("title") or ""))
    return found


def _cards(page, url: str) -> None:
    page.goto(url, wait_until="networkidle")
    page.locator(f"#{ids.DIAG_KPI_CONTAINER} [data-kpi=orders]").wait_for(timeout=30000)


def test_e2e201_default_window_compares_two_different_periods(site, page):
    _cards(page, site + "/")
    end = SPEC.end_date
    previous, weeks_ago = _lines(page, "环比"), _lines(page, "同比")
    week_before = f"{(end - dt.timedelta(days=13)).isoformat()}~{(end - dt.timedelta(days=7)).isoformat()}"
    month_before = f"{(end - dt.timedelta(days=34)).isoformat()}~{(end - dt.timedelta(days=28)).isoformat()}"
    for (text, tooltip), (other, other_tooltip) in zip(previous, weeks_ago, strict=True):
        assert text.startswith(f"环比 {week_before[5:10]}~{week_before[-5:]}"), text
        assert other.startswith("同比4周前"), other
        assert week_before in tooltip and month_before in other_tooltip, (tooltip, other_tooltip)
        assert "数据不足" not in text + other
    figures = [t.split(" ")[-1] for t, _ in previous], [t.split(" ")[-1] for t, _ in weeks_ago]
    assert all("%" in f or "个百分点" in f or f == "—" for f in figures[0] + figures[1]), figures
    assert figures[0] != figures[1], figures  # not the same comparison printed twice
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "comparisons-default.png"), full_page=True)


def test_e2e202_previous_period_before_the_data_is_not_compared(site, page):
    start = SPEC.start_date + dt.timedelta(days=2)  # 9 days; the 9 before them hold 2 days of data
    end = start + dt.timedelta(days=8)
    query = f"?start={start.isoformat()}&end={end.isoformat()}"
    _cards(page, site + "/" + query)
    lines = _lines(page, "环比") + _lines(page, "同比")
    for text, tooltip in lines:
        assert text.endswith("上期数据不足"), text
        assert "%" not in text and "个百分点" not in text, text
        assert "天有数据" in tooltip, tooltip
    base = f"{(start - dt.timedelta(days=9)).isoformat()}~{(start - dt.timedelta(days=1)).isoformat()}"
    assert f"上期 {base} 仅 2/9 天有数据" in lines[0][1], lines[0][1]
    assert "仅 0/9 天有数据" in lines[-1][1], lines[-1][1]  # 同比 4 weeks back: before all the data
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "comparisons-short-base.png"), full_page=True)

    page.goto(site + "/overview" + query, wait_until="networkidle")
    cells = page.locator(f"#{ids.OVERVIEW_BODY} .ag-cell[col-id=orders_change]")
    cells.first.wait_for(timeout=30000)
    page.wait_for_timeout(500)
    texts = cells.all_inner_texts()
    assert len(texts) == SPEC.stores and set(texts) == {"上期数据不足"}, texts
    assert not any("%" in t for t in page.locator(f"#{ids.OVERVIEW_BODY} .ag-cell[col-id=revenue_change]")
                   .all_inner_texts())  # fmt: skip
    # the words are read in full, not cut to "上期数据…" by a narrow column
    values = page.locator(f"#{ids.OVERVIEW_BODY} .ag-cell[col-id=orders_change] .ag-cell-value")
    cut = values.evaluate_all("cells => cells.filter(c => c.scrollWidth > c.clientWidth).length")
    assert cut == 0, f"{cut} 环比 cells cut off"
    page.screenshot(path=str(ARTIFACTS / "comparisons-overview.png"), full_page=True)
