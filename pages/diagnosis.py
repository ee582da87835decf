"""门店诊断 — the store diagnosis page (home)."""

from __future__ import annotations

import dash
from dash import Output, dcc, html

from components import ids
from components.charts import COUNT, DATE_AXIS, MONEY, figure, graph
from components.kpi_card import kpi_row
from components.messages import NO_DATA, info_alert
from components.monitor_panel import monitor_panel
from components.todo_panel import health_table, todo_card
from pages._downloads import register_export
from pages._frame import filtered_section, frame_layout, register_frame_callbacks, selection_section
from pages._links import item_href, store_href
from pages._monitor import register_callbacks
from pages._url import to_query
from readmodel.selection import Selection
from services.analysis import channel_analysis
from services.diagnosis import store_kpis
from services.runtime import get_runtime
from services.todo import daily_trend, store_health, todo_list

PATH = "/"
dash.register_page(__name__, path=PATH, name="门店诊断", title="门店诊断看板", order=0)

register_callbacks()  # the monitor panel's own callbacks, registered with this page
PAGE = ids.DIAGNOSIS
register_frame_callbacks(PAGE, PATH)
register_export(PAGE.page)  # 今日必做 and 门店健康分 download as CSV / Excel

TITLE = "门店诊断看板"
MONITOR_SLOT = ids.MONITOR_SLOT
KPI_CONTAINER = ids.DIAG_KPI_CONTAINER


def layout(**query: str) -> html.Div:
    monitor = [html.Div(monitor_panel(), id=MONITOR_SLOT, className="mb-3")]
    frame = frame_layout(PAGE, TITLE, query, header_extra=monitor)
    if frame.selection is None:
        return html.Div(frame.children)
    sections = [KPI_CONTAINER, ids.DIAG_ABNORMAL, ids.DIAG_TODO, ids.DIAG_HEALTH, ids.DIAG_TREND]
    return html.Div([*frame.children, *[dcc.Loading(html.Div(id=i), type="dot") for i in sections]])


def _kpis(result: dict):
    cards = result["cards"]
    if not cards or cards[0]["value"] == 0:
        return info_alert(NO_DATA)
    return kpi_row(result)


@dash.callback(Output(KPI_CONTAINER, "children"), *PAGE.inputs())
def update_kpis(*values):
    return filtered_section("KPI cards", values, store_kpis, _kpis)


@dash.callback(Output(ids.DIAG_TODO, "children"), *PAGE.inputs())
def update_todo(*values):
    rules = get_runtime().settings.rules.todo

    def render(todo: dict, selection: Selection):  # links keep the channels
        return todo_card(todo, lambda item: item_href(item, todo["as_of"], selection.channels, rules), rules)

    return selection_section("今日必做", values, todo_list, render, quiet=True)


def trend_chart(rows: list[dict]):
    """每日趋势: 实收 and 实际利润 in ¥ on the left, 订单数 as bars on the right."""
    if not rows:
        return info_alert("所选范围内没有订单，无法绘制趋势。")
    days = [r["day"] for r in rows]
    traces = [
        {"type": "bar", "x": days, "y": [r["orders"] for r in rows], "name": "订单数", "yaxis": "y2", "opacity": 0.35},
        {"type": "scatter", "mode": "lines+markers", "x": days, "y": [r["revenue"] for r in rows], "name": "实收"},
        {"type": "scatter", "mode": "lines+markers", "x": days, "y": [r["actual_profit"] for r in rows],
         "name": "实际利润"},
    ]  # fmt: skip
    return graph(figure(traces, "每日趋势", "金额", y_kind=MONEY, y2_kind=COUNT, y2_title="订单数", xaxis=DATE_AXIS))


@dash.callback(Output(ids.DIAG_TREND, "children"), *PAGE.inputs())
def update_trend(*values):
    return filtered_section("trend", values, daily_trend, trend_chart, quiet=True)


@dash.callback(Output(ids.DIAG_HEALTH, "children"), *PAGE.inputs())
def update_health(*values):
    rules = get_runtime().settings.rules.health

    def render(rows: list[dict], selection: Selection):  # a store opens its diagnosis, same days and channels
        return health_table(rows, lambda store_id: store_href(selection, store_id), rules)

    return selection_section("health score", values, store_health, render, quiet=True)


@dash.callback(Output(ids.DIAG_ABNORMAL, "children"), *PAGE.inputs())
def update_abnormal(*values):
    """The count of abnormal orders (left out of every figure) with a link to their list."""

    def render(result: dict, selection: Selection):
        if not result["abnormal"]:
            return None
        link = dcc.Link("查看明细", href="/channels" + to_query(selection), className="ms-2")
        return html.Div([f"⚠️ 所选范围内有 {result['abnormal']} 单异常订单（收费渠道但平台服务费和佣金均为 0），"
                         "已从全部指标中排除。", link], className="small text-muted mb-2")  # fmt: skip

    return selection_section("abnormal count", values, channel_analysis, render, quiet=True)
