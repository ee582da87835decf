"""门店诊断 — the store diagnosis page (home)."""

from __future__ import annotations

import logging

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from components import ids
from components.kpi_card import kpi_row
from components.messages import EMPTY_DATABASE, NO_DATA, error_alert, info_alert
from db.errors import DataLayerError
from services.diagnosis import default_range, filter_options, store_kpis
from services.filters import ALL, ViewFilters
from services.runtime import get_runtime

dash.register_page(__name__, path="/", name="门店诊断", title="门店诊断看板", order=0)

log = logging.getLogger(__name__)

TITLE = "门店诊断看板"
MONITOR_SLOT = ids.MONITOR_SLOT
STORE_FILTER = ids.DIAG_STORE_FILTER
DATE_FILTER = ids.DIAG_DATE_FILTER
CHANNEL_FILTER = ids.DIAG_CHANNEL_FILTER
KPI_CONTAINER = ids.DIAG_KPI_CONTAINER


def _filter_bar(options: dict, start, end) -> dbc.Row:
    store_options = [{"label": "全部门店", "value": ALL}] + [
        {"label": f"{s['city'] or ''} · {s['name']}", "value": str(s["id"])} for s in options["stores"]
    ]
    channel_options = [{"label": "全部渠道", "value": ALL}] + [
        {"label": c, "value": c} for c in options["channels"]
    ]
    return dbc.Row(
        [
            dbc.Col(
                [
                    dbc.Label("门店", html_for=STORE_FILTER, className="small mb-1"),
                    dcc.Dropdown(
                        id=STORE_FILTER,
                        options=store_options,
                        value=[ALL],
                        multi=True,
                        placeholder="选择门店",
                        clearable=False,
                    ),
                ],
                md=5,
            ),
            dbc.Col(
                [
                    dbc.Label("日期", className="small mb-1 d-block"),
                    dcc.DatePickerRange(
                        id=DATE_FILTER,
                        start_date=start,
                        end_date=end,
                        min_date_allowed=options["first_day"],
                        max_date_allowed=options["last_day"],
                        display_format="YYYY-MM-DD",
                        start_date_placeholder_text="开始日期",
                        end_date_placeholder_text="结束日期",
                        first_day_of_week=1,
                    ),
                ],
                md=4,
            ),
            dbc.Col(
                [
                    dbc.Label("渠道", html_for=CHANNEL_FILTER, className="small mb-1"),
                    dcc.Dropdown(
                        id=CHANNEL_FILTER,
                        options=channel_options,
                        value=[ALL],
                        multi=True,
                        placeholder="选择渠道",
                        clearable=False,
                    ),
                ],
                md=3,
            ),
        ],
        className="g-3 mb-3 filter-bar",
    )


def layout(**_query: str) -> html.Div:
    header = [
        html.H2(TITLE, className="mt-3 mb-2"),
        html.Div(id=MONITOR_SLOT, className="mb-3"),  # the monitor panel mounts here
    ]
    try:
        options = filter_options(get_runtime())
    except DataLayerError:
        log.exception("diagnosis page: filter options unavailable")
        return html.Div([*header, error_alert()])
    window = default_range(options["last_day"])
    if window is None:
        return html.Div([*header, info_alert(EMPTY_DATABASE)])
    start, end = window
    return html.Div(
        [
            *header,
            _filter_bar(options, start, end),
            dcc.Loading(html.Div(id=KPI_CONTAINER), type="dot"),
        ]
    )


@dash.callback(
    Output(KPI_CONTAINER, "children"),
    Input(STORE_FILTER, "value"),
    Input(DATE_FILTER, "start_date"),
    Input(DATE_FILTER, "end_date"),
    Input(CHANNEL_FILTER, "value"),
)
def update_kpis(stores, start, end, channels):
    if not start or not end:
        return info_alert("请选择完整的日期范围。")
    if not stores or not channels:
        return info_alert("请至少选择一个门店和一个渠道。")
    try:
        filters = ViewFilters.build(start, end, stores, channels)
        cards = store_kpis(get_runtime(), filters)
    except DataLayerError:
        log.exception("diagnosis page: KPI query failed")
        return error_alert()
    except ValueError:
        return info_alert("筛选条件无效，请重新选择。")
    if not cards or cards[0]["value"] == 0:
        return info_alert(NO_DATA)
    return kpi_row(cards)
