"""KPI cards, comparison periods and Chinese number formatting."""

import datetime as dt

import pandas as pd
import pytest

from analytics.kpis import comparison_periods, kpi_cards
from components import format as fmt

D = dt.date


def test_kpis001_comparison_periods():
    p = comparison_periods(D(2026, 11, 21), D(2026, 11, 27))
    assert (p["previous"].start, p["previous"].end) == (D(2026, 11, 14), D(2026, 11, 20))
    assert (p["last_week"].start, p["last_week"].end) == (D(2026, 11, 14), D(2026, 11, 20))
    p = comparison_periods(D(2026, 11, 27), D(2026, 11, 27))
    assert p["previous"].start == D(2026, 11, 26) and p["last_week"].start == D(2026, 11, 20)
    with pytest.raises(ValueError):
        comparison_periods(D(2026, 11, 27), D(2026, 11, 1))


def test_kpis002_cards_from_daily_totals():
    daily = pd.DataFrame(
        {
            "day": [D(2026, 11, 20), D(2026, 11, 26), D(2026, 11, 27)],
            "orders": [10.0, 4.0, 6.0],
            "revenue": [200.0, 100.0, 150.0],
            "actual_profit": [40.0, 10.0, 20.0],
        }
    )
    periods = comparison_periods(D(2026, 11, 26), D(2026, 11, 27))  # prev 24–25, last week 19–20
    cards = {c["key"]: c for c in kpi_cards(daily, {"current": 30, "previous": 0, "last_week": 25}, periods)}
    assert cards["orders"]["value"] == 10 and cards["orders"]["last_week"] == 10
    assert cards["orders"]["vs_last_week"] == 0.0
    assert cards["orders"]["vs_previous"] is None  # no orders 24–25: no base
    assert cards["revenue"]["value"] == 250 and cards["revenue"]["vs_last_week"] == pytest.approx(0.25)
    assert cards["avg_order_value"]["value"] == pytest.approx(25.0)
    assert cards["profit_margin"]["value"] == pytest.approx(30 / 250)
    assert cards["profit_margin"]["vs_last_week"] == pytest.approx(30 / 250 - 40 / 200)  # points
    assert cards["active_skus"]["vs_last_week"] == pytest.approx(0.2)


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
    from services.filters import ALL, exclusive_all

    assert exclusive_all([ALL, "3"]) == ["3"]  # a store picked while 全部门店 was on
    assert exclusive_all(["3", "5", ALL]) == [ALL]  # 全部门店 picked last
    assert exclusive_all([]) == [ALL] and exclusive_all(None) == [ALL]
    assert exclusive_all(["3", "5"]) == ["3", "5"]
