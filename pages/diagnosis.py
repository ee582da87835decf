"""门店诊断 — the store diagnosis page (home)."""

from __future__ import annotations

import logging

import dash
from dash import Input, Output, State, dcc, html

from components import ids
from components.filter_bar import filter_bar
from components.kpi_card import kpi_row
from components.messages import EMPTY_DATABASE, NO_DATA, SECTION_FAILED, error_alert, info_alert
from components.monitor_panel import monitor_panel, register_callbacks
from components.todo_panel import health_table, todo_card, trend_chart
from db.errors import DataLayerError
from services.diagnosis import default_range, filter_options, store_kpis
from services.filters import ViewFilters, exclusive_all
from services.runtime import get_runtime
from services.todo import daily_trend, store_health, todo_list
from services.url_state import from_query, to_query

dash.register_page(__name__, path="/", name="门店诊断", title="门店诊断看板", order=0)

log = logging.getLogger(__name__)
register_callbacks()  # the monitor panel's own callbacks, registered with this page

TITLE = "门店诊断看板"
MONITOR_SLOT = ids.MONITOR_SLOT
STORE_FILTER = ids.DIAG_STORE_FILTER
DATE_FILTER = ids.DIAG_DATE_FILTER
CHANNEL_FILTER = ids.DIAG_CHANNEL_FILTER
KPI_CONTAINER = ids.DIAG_KPI_CONTAINER


def layout(**query: str) -> html.Div:
    header = [
        html.H2(TITLE, className="mt-3 mb-2"),
        html.Div(monitor_panel(), id=MONITOR_SLOT, className="mb-3"),
    ]
    try:
        options = filter_options(get_runtime())
    except DataLayerError:
        log.exception("diagnosis page: filter options unavailable")
        return html.Div([*header, error_alert()])
    window = default_range(options["last_day"])
    if window is None:
        return html.Div([*header, info_alert(EMPTY_DATABASE)])
    state = from_query(query, options, window)
    return html.Div(
        [
            *header,
            dcc.Location(id=ids.DIAG_URL, refresh=False),  # filters → query string (no reload)
            filter_bar(
                options,
                state.start,
                state.end,
                store_id=STORE_FILTER,
                date_id=DATE_FILTER,
                channel_id=CHANNEL_FILTER,
                stores=state.stores,
                channels=state.channels,
            ),
            dcc.Loading(html.Div(id=KPI_CONTAINER), type="dot"),
            dcc.Loading(html.Div(id=ids.DIAG_TODO), type="dot"),
            dcc.Loading(html.Div(id=ids.DIAG_HEALTH), type="dot"),
            dcc.Loading(html.Div(id=ids.DIAG_TREND), type="dot"),
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


FILTER_INPUTS = (
    Input(STORE_FILTER, "value"),
    Input(DATE_FILTER, "start_date"),
    Input(DATE_FILTER, "end_date"),
    Input(CHANNEL_FILTER, "value"),
)


def _section(service, render, what: str, stores, start, end, channels):
    """Run one section's service for the filter bar's values and render it; a database failure
    becomes the friendly alert, incomplete filters render nothing."""
    if not start or not end or not stores or not channels:
        return None
    try:
        return render(service(get_runtime(), ViewFilters.build(start, end, stores, channels)))
    except DataLayerError:
        log.exception("diagnosis page: %s failed", what)
        return error_alert()
    except Exception:  # a bug must cost one section, never the page: logged with its traceback
        log.exception("diagnosis page: %s crashed", what)
        return error_alert(SECTION_FAILED)


@dash.callback(Output(ids.DIAG_TODO, "children"), *FILTER_INPUTS)
def update_todo(*values):
    return _section(todo_list, todo_card, "今日必做", *values)


@dash.callback(Output(ids.DIAG_TREND, "children"), *FILTER_INPUTS)
def update_trend(*values):
    return _section(daily_trend, trend_chart, "trend", *values)


@dash.callback(Output(ids.DIAG_HEALTH, "children"), *FILTER_INPUTS)
def update_health(*values):
    return _section(store_health, health_table, "health score", *values)


def _register_all_exclusive(component_id: str) -> None:
    @dash.callback(Output(component_id, "value", allow_duplicate=True), Input(component_id, "value"),
                   prevent_initial_call=True)  # fmt: skip
    def keep_all_exclusive(values):
        fixed = exclusive_all(values)
        return dash.no_update if fixed == values else fixed


_register_all_exclusive(STORE_FILTER)
_register_all_exclusive(CHANNEL_FILTER)


@dash.callback(Output(ids.DIAG_URL, "search"), *FILTER_INPUTS, State(ids.DIAG_URL, "search"),
               prevent_initial_call=True)  # fmt: skip
def filters_to_url(stores, start, end, channels, current):
    """Keep the query string in step with the filters, so the link reproduces the view."""
    search = to_query(stores, start, end, channels)
    return dash.no_update if search == (current or "") else search
