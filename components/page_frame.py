"""What every analysis page shares: the filter bar restored from the URL, the URL kept in step
with the filters (and page-specific controls), 全部 exclusive in the dropdowns, and sections that
turn a database failure or a bug into a Chinese message instead of a traceback.

Pages call ``frame_layout`` from ``layout(**query)`` and ``register_frame_callbacks`` once at
module level; callbacks take ``ids.inputs()`` and build filters with ``view_filters``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import dash
from dash import Input, Output, State, dcc, html

from components.filter_bar import filter_bar
from components.ids import PageIds
from components.messages import EMPTY_DATABASE, SECTION_FAILED, error_alert, info_alert
from db.errors import DataLayerError
from services.diagnosis import default_range, filter_options
from services.filters import ViewFilters, exclusive_all
from services.runtime import get_runtime
from services.url_state import FilterState, from_query, to_query

log = logging.getLogger(__name__)
INCOMPLETE = "请选择完整的日期范围，并至少选择一个门店和一个渠道。"


@dataclass(frozen=True)
class Frame:
    children: list  # header, URL location and filter bar; or the header and a message
    state: FilterState | None  # None when the page cannot show data (message in children)
    options: dict | None


def frame_layout(ids: PageIds, title: str, query: dict, header_extra: list | None = None) -> Frame:
    """Title, filter bar and URL location of a page, restored from ``query``."""
    header = [html.H2(title, className="mt-3 mb-2"), *(header_extra or [])]
    try:
        options = filter_options(get_runtime())
    except DataLayerError:
        log.exception("%s page: filter options unavailable", ids.page)
        return Frame([*header, error_alert()], None, None)
    window = default_range(options["last_day"])
    if window is None:
        return Frame([*header, info_alert(EMPTY_DATABASE)], None, options)
    state = from_query(query, options, window)
    bar = filter_bar(options, state.start, state.end, store_id=ids.store, date_id=ids.date, channel_id=ids.channel,
                     stores=state.stores, channels=state.channels)  # fmt: skip
    return Frame([*header, dcc.Location(id=ids.url, refresh=False), bar], state, options)


def view_filters(stores, start, end, channels) -> ViewFilters | None:
    """Filters from the bar's values; None while the selection is incomplete."""
    if not start or not end or not stores or not channels:
        return None
    return ViewFilters.build(start, end, stores, channels)


def section(what: str, compute: Callable[[], object], render: Callable[[object], object]):
    """Run one section: a database failure becomes the friendly alert, a bug costs only this
    section (logged with its traceback)."""
    try:
        return render(compute())
    except DataLayerError:
        log.exception("%s failed", what)
        return error_alert()
    except ValueError:
        log.warning("%s: invalid filters", what, exc_info=True)
        return info_alert("筛选条件无效，请重新选择。")
    except Exception:
        log.exception("%s crashed", what)
        return error_alert(SECTION_FAILED)


def single_body_layout(ids: PageIds, title: str, query: dict, body_id: str) -> html.Div:
    """A page that is its filter frame plus one body its callback fills."""
    frame = frame_layout(ids, title, query)
    if frame.state is None:
        return html.Div(frame.children)
    return html.Div([*frame.children, dcc.Loading(html.Div(id=body_id), type="dot")])


def filtered_section(what: str, values: tuple, service: Callable, render: Callable, *args, quiet: bool = False):
    """``section`` for a service taking (runtime, filters, *args); an incomplete selection
    shows what is missing (or nothing when ``quiet``: another section of the page says it)."""
    try:
        filters = view_filters(*values)
    except ValueError:
        return info_alert("筛选条件无效，请重新选择。")
    if filters is None:
        return None if quiet else info_alert(INCOMPLETE)
    return section(what, lambda: service(get_runtime(), filters, *args), render)


def register_frame_callbacks(ids: PageIds, extras: dict[str, tuple[str, str]] | None = None) -> None:
    """全部门店/全部渠道 exclusive, and the query string following the filters plus ``extras``
    (URL parameter → (component id, property))."""
    for component_id in (ids.store, ids.channel):
        _register_all_exclusive(component_id)
    extras = extras or {}
    extra_states = [Input(cid, prop) for cid, prop in extras.values()]

    @dash.callback(Output(ids.url, "search"), *ids.inputs(), *extra_states, State(ids.url, "search"),
                   prevent_initial_call=True)  # fmt: skip
    def filters_to_url(stores, start, end, channels, *rest):
        *extra_values, current = rest
        search = to_query(stores, start, end, channels, dict(zip(extras, extra_values, strict=True)))
        return dash.no_update if search == (current or "") else search


def _register_all_exclusive(component_id: str) -> None:
    @dash.callback(Output(component_id, "value", allow_duplicate=True), Input(component_id, "value"),
                   prevent_initial_call=True)  # fmt: skip
    def keep_all_exclusive(values):
        fixed = exclusive_all(values)
        return dash.no_update if fixed == values else fixed
