"""Figures in Chinese numbers (components/charts.py) and the date presets (components/filter_bar.py)."""

from __future__ import annotations

from components.charts import COUNT, MONEY, PERCENT, figure
from components.filter_bar import preset_ranges
from readmodel.selection import day


def test_charts001_money_axis_in_wan_with_formatted_hovers():
    revenue = [5000.0, 25000.0, -12345.678]
    traces = [{"type": "bar", "x": ["a", "b", "c"], "y": revenue, "name": "实收"},
              {"type": "scatter", "x": ["a", "b", "c"], "y": [1, 3, 2], "name": "订单数", "yaxis": "y2"}]  # fmt: skip
    fig = figure(traces, "t", "金额", y_kind=MONEY, y2_kind=COUNT, y2_title="订单数")
    bar, line = fig["data"]
    assert bar["y"] == [0.5, 2.5, -1.2345678]  # in 万: the axis reaches ¥2.5万
    assert revenue == [5000.0, 25000.0, -12345.678]  # the caller's list is not scaled
    assert bar["customdata"] == ["¥5,000.00", "¥2.50万", "-¥1.23万"]
    assert "%{customdata}" in bar["hovertemplate"] and line["customdata"] == ["1", "3", "2"]
    left, right = fig["layout"]["yaxis"], fig["layout"]["yaxis2"]
    assert left["ticksuffix"] == "万" and left["tickformat"].startswith("$")  # ¥ from GRAPH_CONFIG's currency
    assert right["dtick"] == 1 and right["tickformat"] == ",d"  # 0…3 orders: a tick at every whole number
    for axis in (left, right, fig["layout"]["xaxis"]):
        assert axis["automargin"] is True and axis["exponentformat"] == "none"


def test_charts002_small_money_stays_in_yuan_and_percent_in_percent():
    fig = figure([{"type": "bar", "x": ["a"], "y": [9999.99], "name": "实收"}], "t", "实收", y_kind=MONEY)
    assert fig["data"][0]["y"] == [9999.99] and "ticksuffix" not in fig["layout"]["yaxis"]
    fig = figure([{"type": "scatter", "x": ["a", "b"], "y": [0.1225, -0.05], "name": "利润率"}], "t", "比率",
                 y_kind=PERCENT)  # fmt: skip
    assert fig["data"][0]["customdata"] == ["12.3%", "-5.0%"]
    assert fig["layout"]["yaxis"]["tickformat"].endswith("%")


def test_charts003_presets_count_back_from_the_last_day_with_data():
    ranges = preset_ranges(day("2026-09-29"), day("2026-11-25"))
    assert ranges == {
        "昨天": ("2026-11-25", "2026-11-25"),
        "近7天": ("2026-11-19", "2026-11-25"),  # 25 − 6
        "近30天": ("2026-10-27", "2026-11-25"),  # 25 − 29 = Oct 27
        "本月": ("2026-11-01", "2026-11-25"),
        "上月": ("2026-10-01", "2026-10-31"),
    }
    clipped = preset_ranges(day("2026-11-03"), day("2026-11-10"))  # data from Nov 3 to Nov 10
    assert clipped["近30天"] == ("2026-11-03", "2026-11-10") and clipped["本月"] == ("2026-11-03", "2026-11-10")
    assert clipped["上月"] is None  # October has no data
    january = preset_ranges(day("2025-12-15"), day("2026-01-02"))
    assert january["上月"] == ("2025-12-15", "2025-12-31") and january["近7天"] == ("2025-12-27", "2026-01-02")
