"""Chinese formatting in Debian chromium, offline (issue 13 §6): chart ticks and hovers in ¥ / 万 / %
without plotly's SI suffixes, whole-number ticks for counts, axis titles clear of their tick labels,
the mode bar in Chinese, the date picker's calendar in Chinese and its presets setting the dates.
Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.offline import ARTIFACTS, open_offline

pytestmark = pytest.mark.e2e

SI_SUFFIX = re.compile(r"\d[kMGTμ]$")  # "100k", "99.172k"
MONEY_TICK = re.compile(r"^[−-]?¥\d{1,3}(,\d{3})*(\.\d+)?万?$")
WHOLE_TICK = re.compile(r"^\d{1,3}(,\d{3})*$")
PERCENT_TICK = re.compile(r"^[−-]?\d+(\.\d+)?%$")
CJK = re.compile(r"[\u4e00-\u9fff]")
# The demo's days: DemoSpec(days=21) ends on 2026-11-27, so its first day is 11-27 − 20 = 11-07.
LAST_DAY, FIRST_DAY = "2026-11-27", "2026-11-07"

AXES_JS = """section => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const plot = document.querySelector(section + ' .js-plotly-plot');
  const out = {};
  for (const axis of ['x', 'y', 'y2']) {
    out[axis] = {
      ticks: Array.from(plot.querySelectorAll('.' + axis + 'tick text')).map(e => [e.textContent, box(e)]),
      title: Array.from(plot.querySelectorAll('.g-' + axis + 'title text')).map(box),
    };
  }
  return out;
}"""


def _overlaps(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _axes(page, section: str) -> dict:
    page.wait_for_selector(f"{section} .js-plotly-plot .ytick text", timeout=30000)
    page.wait_for_timeout(500)  # plotly's second pass (automargin) moves the labels once more
    return page.evaluate(AXES_JS, section)


def _assert_clear_titles(axes: dict, where: str) -> None:
    for name, axis in axes.items():
        for title in axis["title"]:
            hits = [text for text, box in axis["ticks"] if _overlaps(title, box)]
            assert not hits, f"{where}: the {name} axis title covers its tick labels {hits}"


# (path, section, left axis pattern, right axis pattern)
CHARTS = [
    ("/", "#diagnosis-trend", MONEY_TICK, WHOLE_TICK),  # 每日趋势: 实收 / 实际利润 in ¥, 订单数 on the right
    ("/distance", "#distance-body", WHOLE_TICK, PERCENT_TICK),  # 订单数 on the left, 利润率 / 配送成本率
]  # fmt: skip


@pytest.mark.parametrize(("path", "section", "left", "right"), CHARTS, ids=["trend", "distance"])
def test_e2e201_chart_ticks_hovers_and_mode_bar_in_chinese(demo_site, browser, path, section, left, right):
    context, page, errors, blocked = open_offline(browser)
    page.goto(demo_site.base + path, wait_until="networkidle")
    axes = _axes(page, section)
    ticks = {name: [text for text, _ in axis["ticks"]] for name, axis in axes.items()}
    assert ticks["y"] and ticks["y2"], ticks
    assert not [t for values in ticks.values() for t in values if SI_SUFFIX.search(t)], ticks
    assert all(left.match(t) for t in ticks["y"]), ticks["y"]
    assert all(right.match(t) for t in ticks["y2"]), ticks["y2"]
    _assert_clear_titles(axes, path)

    # a hover speaks the same language as the cards: the formatted value of the point
    plot = page.locator(f"{section} .js-plotly-plot").first
    plot.evaluate("gd => Plotly.Fx.hover(gd, [{curveNumber: 1, pointNumber: 0}])")
    hover = page.locator(f"{section} .hoverlayer .hovertext").first.text_content()
    assert not SI_SUFFIX.search(hover), hover
    if path == "/":
        assert re.search(r"实收：-?¥[\d,]+\.\d\d(万)?$", hover), hover
    else:
        assert re.search(r"利润率：-?\d+\.\d%$", hover), hover

    plot.hover()  # the mode bar shows on hover; its tooltips come from data-title
    titles = plot.locator(".modebar-btn").evaluate_all("bs => bs.map(b => b.getAttribute('data-title'))")
    assert "下载图表为PNG格式" in titles and all(CJK.search(t) for t in titles), titles
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(section).screenshot(path=str(ARTIFACTS / f"format-{section.strip('#')}.png"))
    assert errors == [] and blocked == []
    context.close()


def test_e2e202_date_picker_in_chinese_with_presets(demo_site, browser):
    context, page, errors, blocked = open_offline(browser)
    page.goto(demo_site.base + "/", wait_until="networkidle")
    start = page.locator("#diagnosis-date-filter")
    start.wait_for(timeout=15000)
    start.click()
    calendar = page.locator(".dash-datepicker-calendar").first
    calendar.wait_for(timeout=10000)
    text = page.locator(".dash-datepicker-content").inner_text()
    assert "十一月" in text and "2026年" in text, text[:300]  # the default week lies in November 2026
    weekdays = re.findall(r"^[一二三四五六日]$", text, flags=re.MULTILINE)
    assert weekdays[:7] == ["一", "二", "三", "四", "五", "六", "日"], text[:300]  # weeks start on Monday
    assert not re.search(r"November|December|\bMo\b|\bSu\b", text), text[:300]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "format-datepicker.png"))
    page.keyboard.press("Escape")

    end = page.locator(".filter-bar .dash-datepicker-end-date")
    presets = page.locator(".filter-bar .date-presets")
    assert presets.get_by_role("button", name="上月").is_disabled()  # October has no data (first day 11-07)
    presets.get_by_role("button", name="昨天").click()  # the last day with data
    page.wait_for_function(f"window.location.search.includes('start={LAST_DAY}&end={LAST_DAY}')", timeout=20000)
    assert start.input_value() == LAST_DAY and end.input_value() == LAST_DAY
    presets.get_by_role("button", name="本月").click()  # 11-01 … 11-27, from the first day with data
    page.wait_for_function(f"window.location.search.includes('start={FIRST_DAY}&end={LAST_DAY}')", timeout=20000)
    assert start.input_value() == FIRST_DAY and end.input_value() == LAST_DAY
    query = parse_qs(urlparse(page.url).query)
    assert query["start"] == [FIRST_DAY] and query["end"] == [LAST_DAY]
    page.locator("[data-kpi=orders]").wait_for(timeout=15000)
    page.screenshot(path=str(ARTIFACTS / "format-presets.png"), full_page=True)
    assert errors == [] and blocked == []
    context.close()
