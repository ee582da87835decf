"""配送分析 — distance bands 0–1 … 6 km+: orders, profit, 利润率, 配送成本率, 客单价."""

from __future__ import annotations

import dash
from dash import Output, html

from components import ids
from components.charts import figure, graph
from components.grid import column, data_grid, register_export
from components.messages import NO_DATA, info_alert
from components.page_frame import filtered_section, register_frame_callbacks, single_body_layout
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


def _render(rows: list[dict]) -> list:
    if not rows or not any(r["orders"] for r in rows):
        return [info_alert(NO_DATA)]
    bands = [r["band"] for r in rows]
    traces = [{"type": "bar", "x": bands, "y": [r["orders"] for r in rows], "name": "订单数", "opacity": 0.5}] + [
        {"type": "scatter", "mode": "lines+markers", "x": bands, "y": [r[field] for r in rows], "name": name,
         "yaxis": "y2"}
        for field, name in (("profit_margin", "利润率"), ("delivery_rate", "配送成本率"))
    ]  # fmt: skip
    chart = figure(
        traces,
        "距离段：订单、利润率与配送成本率",
        "订单数",
        yaxis2={"title": "比率", "tickformat": ".0%", "overlaying": "y", "side": "right", "showgrid": False},
    )
    return [graph(chart, "distance-chart"), data_grid(PAGE.page, "bands", "距离段汇总", rows, COLUMNS, height=360)]
