"""配送分析 — distance bands 0–1 … 6 km+: orders, profit, 利润率, 配送成本率, 客单价; the orders
without a distance (到店 / 收银机) apart, never as a band."""

from __future__ import annotations

import dash
from dash import Output, html

from components import ids
from components.charts import COUNT, PERCENT, figure, graph
from components.format import count, money, percent
from components.grid import column, data_grid
from components.messages import NO_DATA, info_alert
from pages._downloads import register_export
from pages._frame import filtered_section, register_frame_callbacks, single_body_layout
from services.analysis import distance_analysis

PATH = "/distance"
dash.register_page(__name__, path=PATH, name="配送分析", title="配送分析 · 门店诊断看板", order=5)

PAGE = ids.DISTANCE
register_frame_callbacks(PAGE, PATH)
register_export(PAGE.page)

COLUMNS = [
    column("band", "距离段", pinned="left"), column("orders", "订单数", "count"), column("revenue", "实收", "money"),
    column("actual_profit", "实际利润", "money"), column("profit_margin", "利润率", "percent"),
    column("delivery_net_cost", "配送净成本", "money"), column("delivery_rate", "配送成本率", "percent"),
    column("delivery_cost_per_order", "单均配送成本", "money"), column("avg_order_value", "客单价", "money"),
]  # fmt: skip


def layout(**query: str) -> html.Div:
    return single_body_layout(PAGE, "配送分析", query, ids.DISTANCE_BODY)


@dash.callback(Output(ids.DISTANCE_BODY, "children"), *PAGE.inputs())
def update_distance(*values):
    return filtered_section("distance", values, distance_analysis, _render)


PERCENT_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0)  # round tick steps of a rate axis
MAX_TICKS = 8


def percent_axis(values: list) -> dict:
    """A rate axis with round ticks (5 %, 10 % … never 2.5 % shown as "3%"): the smallest round
    step that spans the values, 0 included, in at most MAX_TICKS intervals."""
    present = [v for v in values if v is not None]
    low, high = min([0.0, *present]), max([0.0, *present])
    step = next((s for s in PERCENT_STEPS if (high - low) / s <= MAX_TICKS), PERCENT_STEPS[-1])
    return {"tickformat": ".0%", "tickmode": "linear", "tick0": 0, "dtick": step}


def _no_distance(row: dict | None):
    """The orders without a distance, as one line apart from the bands."""
    if row is None:
        return None
    figures = (f"{count(row['orders'])} 单 · 实收 {money(row['revenue'])} · 实际利润 {money(row['actual_profit'])}"
               f" · 利润率 {percent(row['profit_margin'])}")  # fmt: skip
    note = "不属于任何距离段，未计入下图和距离段汇总。"
    return html.Div([html.Strong("到店/无距离订单"), f"（收银机等，无配送距离）：{figures}。", html.Br(), note],
                    className="small border rounded bg-light px-3 py-2 mb-3", id=ids.DISTANCE_NO_DISTANCE)  # fmt: skip


def _render(result: dict) -> list:
    rows = result["bands"]
    if not any(r["orders"] for r in rows) and result["no_distance"] is None:
        return [info_alert(NO_DATA)]
    bands = [r["band"] for r in rows]
    rates = (("profit_margin", "利润率"), ("delivery_rate", "配送成本率"))
    traces = [{"type": "bar", "x": bands, "y": [r["orders"] for r in rows], "name": "订单数", "opacity": 0.5}] + [
        {"type": "scatter", "mode": "lines+markers", "x": bands, "y": [r[field] for r in rows], "name": name,
         "yaxis": "y2"}
        for field, name in rates
    ]  # fmt: skip
    chart = figure(traces, "距离段：订单、利润率与配送成本率", "订单数", y_kind=COUNT, y2_kind=PERCENT, y2_title="比率",
                   yaxis2=percent_axis([r[field] for r in rows for field, _ in rates]))  # round steps, not 2.5 %
    return [_no_distance(result["no_distance"]), graph(chart, "distance-chart"),
            data_grid(PAGE.page, "bands", "距离段汇总", rows, COLUMNS, height=360)]  # fmt: skip
