"""时段分析 — weekday × hour heatmap and the eight time slots (清晨 … 凌晨)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from components import ids
from components.charts import AVERAGE, MONEY, bar_chart, figure, graph
from components.grid import column, data_grid
from components.messages import NO_DATA, info_alert
from pages._downloads import register_export
from pages._frame import UrlParams, filtered_section, frame_layout, register_frame_callbacks
from services.analysis import time_analysis
from web.prop_kinds import TEXT

PATH = "/time"
dash.register_page(__name__, path=PATH, name="时段分析", title="时段分析 · 门店诊断看板", order=3)

PAGE = ids.TIME
MEASURES = {"orders": "订单数", "revenue": "实收"}


def _read_measure(query: dict, _options: dict) -> dict:
    """The heat map's measure from the URL (a repeated parameter arrives as a list)."""
    measure = query.get("measure")
    return {"measure": measure if isinstance(measure, str) and measure in MEASURES else "orders"}


MEASURE = UrlParams({"measure": (ids.TIME_MEASURE, "value")}, _read_measure, {"measure": TEXT})
register_frame_callbacks(PAGE, PATH, MEASURE)
register_export(PAGE.page)

SLOT_COLUMNS = [
    column("slot", "时段", pinned="left"), column("hours", "时间"), column("orders", "订单数", "count"),
    column("revenue", "实收", "money"), column("avg_order_value", "客单价", "money"),
    column("actual_profit", "实际利润", "money"), column("profit_margin", "利润率", "percent"),
]  # fmt: skip
HOUR_COLUMNS = [column("hour", "小时", "count"), *SLOT_COLUMNS[2:]]


def layout(**query: str) -> html.Div:
    frame = frame_layout(PAGE, "时段分析", query, params=MEASURE)
    if frame.selection is None:
        return html.Div(frame.children)
    measure = frame.params["measure"]
    picker = dbc.Row(
        dbc.Col(
            [dbc.Label("热力图指标", className="small mb-1 d-block"),
             dbc.RadioItems(id=ids.TIME_MEASURE, options=[{"label": v, "value": k} for k, v in MEASURES.items()],
                            value=measure, inline=True)],
            md=4,
        ),
        className="mb-2",
    )  # fmt: skip
    return html.Div([*frame.children, picker, dcc.Loading(html.Div(id=ids.TIME_BODY), type="dot")])


@dash.callback(Output(ids.TIME_BODY, "children"), *PAGE.inputs(), Input(ids.TIME_MEASURE, "value"))
def update_time(stores, start, end, channels, measure):
    return filtered_section("time", (stores, start, end, channels), time_analysis,
                            lambda result: _render(result, measure if measure in MEASURES else "orders"))  # fmt: skip


def _render(result: dict, measure: str) -> list:
    if result["empty"]:
        return [info_alert(NO_DATA)]
    label = MEASURES[measure]
    heatmap = figure([{
        "type": "heatmap", "z": result["matrix"][measure], "x": [f"{h}时" for h in range(24)],
        "y": result["weekdays"], "colorscale": "YlOrRd", "colorbar": {"title": {"text": "日均"}},
        "hovertemplate": "%{y} %{x}<br>日均" + label + " %{customdata}<extra></extra>",
    }], f"星期 × 小时 日均{label}", "", height=360, z_kind=MONEY if measure == "revenue" else AVERAGE,
        yaxis={"autorange": "reversed"})  # fmt: skip
    slots = result["slots"]
    slot_chart = bar_chart([s["slot"] for s in slots], {"实收": [s["revenue"] for s in slots],
                                                      "实际利润": [s["actual_profit"] for s in slots]},
                           "各时段实收与利润", "金额", y_kind=MONEY)  # fmt: skip
    return [
        graph(heatmap, "time-heatmap"),
        graph(slot_chart),
        data_grid(PAGE.page, "slots", "时段汇总", slots, SLOT_COLUMNS, height=330),
        data_grid(PAGE.page, "hours", "分小时明细", result["hours"], HOUR_COLUMNS, height=420),
    ]
