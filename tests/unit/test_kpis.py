"""KPI cards, comparison periods and Chinese number formatting."""

import datetime as dt

import pandas as pd
import pytest

from analytics.kpis import comparison_periods, coverage, kpi_cards
from components import format as fmt
from components.kpi_card import kpi_row

D = dt.date


def test_kpis001_comparison_periods():
    p = comparison_periods(D(2026, 11, 21), D(2026, 11, 27))  # 7 days: 环比 the week before, 同比 4 weeks back
    assert (p["previous"].start, p["previous"].end) == (D(2026, 11, 14), D(2026, 11, 20))
    assert (p["weeks_ago"].start, p["weeks_ago"].end) == (D(2026, 10, 24), D(2026, 10, 30))
    p = comparison_periods(D(2026, 11, 27), D(2026, 11, 27))  # 1 day: the day before / a week before
    assert p["previous"].start == D(2026, 11, 26) and p["weeks_ago"].start == D(2026, 11, 20)
    p = comparison_periods(D(2026, 10, 31), D(2026, 11, 27))  # 28 days: 4 weeks back would be 环比 itself
    assert (p["previous"].start, p["previous"].end) == (D(2026, 10, 3), D(2026, 10, 30))
    assert (p["weeks_ago"].start, p["weeks_ago"].end) == (D(2026, 9, 26), D(2026, 10, 23))  # 5 weeks back
    with pytest.raises(ValueError):
        comparison_periods(D(2026, 11, 27), D(2026, 11, 1))


@pytest.mark.parametrize("days", range(1, 61))
def test_kpis005_the_two_comparisons_never_coincide(days):
    """For every window of 1..60 days (each weekday as its first): 环比 is the equal-length period
    just before; 同比 has the same length and weekdays, lies wholly before the window and is
    never the 环比 period."""
    for first in range(7):
        start = D(2026, 11, 2) + dt.timedelta(days=first)
        end = start + dt.timedelta(days=days - 1)
        periods = comparison_periods(start, end)
        previous = periods["previous"]
        (same_weekdays,) = [p for name, p in periods.items() if name not in ("current", "previous")]
        assert (previous.start, previous.end) == (start - dt.timedelta(days=days), start - dt.timedelta(days=1))
        assert (same_weekdays.start, same_weekdays.end) != (previous.start, previous.end), (days, start)
        assert same_weekdays.days == days and same_weekdays.start.weekday() == start.weekday()
        assert same_weekdays.end < start


def _full(period) -> dict:
    return {"start": period.start.isoformat(), "end": period.end.isoformat(), "days": period.days,
            "covered_days": period.days, "stores": 1, "short_stores": 0, "full": True}  # fmt: skip


def test_kpis002_cards_from_daily_totals():
    daily = pd.DataFrame(
        {
            "day": [D(2026, 11, 20), D(2026, 11, 26), D(2026, 11, 27), D(2026, 10, 29), D(2026, 10, 30)],
            "orders": [10.0, 4.0, 6.0, 5.0, 3.0],
            "revenue": [200.0, 100.0, 150.0, 80.0, 120.0],
            "actual_profit": [40.0, 10.0, 20.0, 8.0, 12.0],
        }
    )
    periods = comparison_periods(D(2026, 11, 26), D(2026, 11, 27))  # 环比 24–25, 同比 (1 week) 19–20
    coverages = {name: _full(p) for name, p in periods.items()}
    result = kpi_cards(daily, {"current": 30, "previous": 0, "weeks_ago": 25}, periods, coverages)
    cards = {c["key"]: c for c in result["cards"]}
    assert cards["orders"]["value"] == 10 and cards["orders"]["weeks_ago"] == 10
    assert cards["orders"]["vs_weeks_ago"] == 0.0
    assert cards["orders"]["vs_previous"] is None  # no orders 24–25: no base
    assert cards["revenue"]["value"] == 250 and cards["revenue"]["vs_weeks_ago"] == pytest.approx(0.25)
    assert cards["avg_order_value"]["value"] == pytest.approx(25.0)
    assert cards["profit_margin"]["value"] == pytest.approx(30 / 250)
    assert cards["profit_margin"]["vs_weeks_ago"] == pytest.approx(30 / 250 - 40 / 200)  # points
    assert cards["active_skus"]["vs_weeks_ago"] == pytest.approx(0.2)
    assert result["comparisons"]["weeks_ago"]["weeks"] == 1 and result["comparisons"]["previous"]["weeks"] is None

    periods = comparison_periods(D(2026, 11, 21), D(2026, 11, 27))  # a week: 同比 = 10-24..10-30
    coverages = {name: _full(p) for name, p in periods.items()}
    cards = {c["key"]: c for c in kpi_cards(daily, {}, periods, coverages)["cards"]}
    assert (cards["orders"]["value"], cards["orders"]["previous"], cards["orders"]["weeks_ago"]) == (10, 10, 8)
    assert cards["orders"]["vs_previous"] == 0.0 and cards["orders"]["vs_weeks_ago"] == pytest.approx(0.25)
    assert cards["revenue"]["vs_weeks_ago"] == pytest.approx(250 / 200 - 1)


SPANS = pd.DataFrame({  # store 1 from 09-29, store 2 from 10-05 and silent after 11-20; data ends 11-27
    "store_id": [1, 2],
    "first_day": [D(2026, 9, 29), D(2026, 10, 5)],
    "last_day": [D(2026, 11, 27), D(2026, 11, 20)],
})  # fmt: skip


def test_kpis006_coverage_partial_full_and_store_without_data():
    periods = comparison_periods(D(2026, 10, 1), D(2026, 10, 27))  # 27 days
    previous = coverage(SPANS, periods["previous"], [1])  # 09-04..09-30: store 1 has 09-29 and 09-30
    assert (previous["start"], previous["end"]) == ("2026-09-04", "2026-09-30")
    assert (previous["covered_days"], previous["days"], previous["full"]) == (2, 27, False)
    assert coverage(SPANS, periods["current"], [1])["full"] is True
    both = coverage(SPANS, periods["current"], None)  # store 2 starts 10-05: 23 of 27 days
    assert (both["covered_days"], both["stores"], both["short_stores"], both["full"]) == (23, 2, 1, False)
    week = comparison_periods(D(2026, 11, 21), D(2026, 11, 27))["current"]
    # store 2 sold nothing after 11-20 while the data goes on to 11-27: a real drop, covered
    assert coverage(SPANS, week, None)["full"] is True
    assert coverage(SPANS, week, [1, 3])["short_stores"] == 1  # store 3 has no data at all
    assert coverage(SPANS, week, [3])["covered_days"] == 0 and not coverage(SPANS, week, [3])["full"]
    beyond = comparison_periods(D(2026, 11, 25), D(2026, 12, 1))["current"]  # past the data's last day
    assert coverage(SPANS, beyond, [1])["covered_days"] == 3
    assert coverage(SPANS.iloc[:0], week, None)["full"] is False  # nothing imported


def test_kpis007_a_short_base_withholds_the_change():
    """10-01..10-27 selected, data from 09-29: the old cards said 订单 环比 +1452.9 %."""
    days = [D(2026, 9, 29) + dt.timedelta(days=i) for i in range(29)]
    daily = pd.DataFrame({"day": days, "orders": 20.0, "revenue": 400.0, "actual_profit": 40.0})
    periods = comparison_periods(D(2026, 10, 1), D(2026, 10, 27))
    coverages = {name: coverage(SPANS, p, [1]) for name, p in periods.items()}
    result = kpi_cards(daily, {"current": 50, "previous": 3, "weeks_ago": 0}, periods, coverages)
    for card in result["cards"]:
        assert card["vs_previous"] is None and card["vs_weeks_ago"] is None, card
    assert result["cards"][0]["previous"] == 40  # the base is kept, only the change is withheld
    previous, weeks_ago = result["comparisons"]["previous"], result["comparisons"]["weeks_ago"]
    assert previous["withheld"] == "base" and previous["period"]["covered_days"] == 2
    assert weeks_ago["withheld"] == "base" and weeks_ago["weeks"] == 4  # 09-03..09-29: 1 day
    assert weeks_ago["period"]["covered_days"] == 1
    row = kpi_row(result)
    lines = [c for c in _walk(row) if getattr(c, "title", None)]  # the comparison lines
    assert len(lines) == 12 and all(_text(line).endswith(" 上期数据不足") for line in lines)
    assert not any("%" in _text(line) or "个百分点" in _text(line) for line in lines)
    assert "上期 2026-09-04~2026-09-30 仅 2/27 天有数据" in lines[0].title
    assert "上期 2026-09-03~2026-09-29 仅 1/27 天有数据" in lines[1].title
    assert _text(lines[0]).startswith("环比 09-04~09-30") and _text(lines[1]).startswith("同比4周前")

    selection = {name: coverage(SPANS, p, [1, 2]) for name, p in periods.items()}  # store 2 from 10-05
    result = kpi_cards(daily, {}, periods, selection)
    assert result["comparisons"]["previous"]["withheld"] == "base"
    short_now = {**{n: _full(p) for n, p in periods.items()}, "current": selection["current"]}
    result = kpi_cards(daily, {}, periods, short_now)  # bases covered, the selection is not
    assert result["comparisons"]["previous"]["withheld"] == "current"
    assert all(c["vs_previous"] is None for c in result["cards"])
    assert "本期数据不足" in _text(kpi_row(result))


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            yield from _walk(child)


def _text(component) -> str:
    parts = []
    for c in _walk(component):
        children = getattr(c, "children", None)
        for child in children if isinstance(children, list) else [children]:
            if isinstance(child, str):
                parts.append(child)
    return "".join(parts)


def test_kpis003_chinese_formatting():
    assert fmt.money(1234.4) == "¥1,234.40"  # two decimals below ¥1万 (issue 13)
    assert fmt.money(123456.0) == "¥12.35万"
    assert fmt.money(-15000.0) == "-¥1.50万"
    assert fmt.money(None) == "—"
    assert fmt.percent(0.1234) == "12.3%"
    assert fmt.change(-0.052) == "-5.2%"
    assert fmt.change(0.021, rate=True) == "+2.1个百分点"
    assert fmt.count(123456) == "12.3万"


def test_kpis004_all_is_exclusive_in_the_dropdowns():
    from readmodel.selection import ALL, exclusive_all

    assert exclusive_all([ALL, "3"]) == ["3"]  # a store picked while 全部门店 was on
    assert exclusive_all(["3", "5", ALL]) == [ALL]  # 全部门店 picked last
    assert exclusive_all([]) == [ALL] and exclusive_all(None) == [ALL]
    assert exclusive_all(["3", "5"]) == ["3", "5"]
