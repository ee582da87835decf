"""What every analysis page shares: the filter bar restored from the URL, the URL kept in step
with the filters (and page-specific controls) both ways, 全部 exclusive in the dropdowns,
sections that turn a database failure or a bug into a Chinese message instead of a traceback,
and a strip saying so while the database does not answer and the views come from the cache.

Pages call ``frame_layout`` from ``layout(**query)`` and ``register_frame_callbacks`` once at
module level; callbacks take ``ids.inputs()`` and build filters with ``view_filters``.

Back / Forward: the page's ``dcc.Location(refresh=False)`` pushes a history entry per filter
change without telling Dash Pages' own location, so on popstate the router re-runs ``layout``
only when the URL happens to differ from the one it last saw (Back to the first entry does not).
The page therefore restores its controls itself: ``url_to_filters`` follows the Location's
``search``. Both directions compare with one ``dcc.Store`` holding the query string of what is
shown: a search equal to it is the page's own write (no round trip), and filters set from the
URL produce that same string, so ``filters_to_url`` pushes nothing — no loop, no extra entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import dash
from dash import Input, Output, State, dcc, html

from components.filter_bar import filter_bar
from components.ids import PageIds
from components.messages import SECTION_FAILED, empty_database_alert, error_alert, info_alert, stale_alert
from components.prop_kinds import CHANNELS, DATE, STORES, TEXT, Kind, declare
from db.errors import DataLayerError
from readmodel.selection import Selection, exclusive_all
from services.diagnosis import default_range, filter_options
from services.runtime import database_status, get_runtime
from services.url_state import FilterState, from_query, query_params, to_query

log = logging.getLogger(__name__)
INCOMPLETE = "请选择完整的日期范围，并至少选择一个门店和一个渠道。"


def _no_params(query: dict, options: dict) -> dict:
    return {}


@dataclass(frozen=True)
class UrlParams:
    """A page's own URL parameters beyond the filters: parameter → (component id, property), and
    ``read(query, options)`` → parameter → value (validated; a default for anything unknown).
    The layout and Back/Forward both go through ``read``, so they restore the same view.
    ``kinds``: parameter → what its control's property carries in a callback request."""

    controls: dict[str, tuple[str, str]] = field(default_factory=dict)
    read: Callable[[dict, dict], dict] = _no_params
    kinds: dict[str, Kind] = field(default_factory=dict)

    def values(self, query: dict, options: dict) -> dict:
        found = self.read(query, options)
        return {key: found.get(key) for key in self.controls}


NO_PARAMS = UrlParams()


@dataclass(frozen=True)
class Frame:
    children: list  # header, URL location and filter bar; or the header and a message
    state: FilterState | None  # None when the page cannot show data (message in children)
    options: dict | None
    params: dict = field(default_factory=dict)  # the page's own URL parameters, restored


def _restore(query: dict, options: dict, params: UrlParams) -> tuple[FilterState, dict, str] | None:
    """(filters, page parameters, the query string they stand for); None on an empty database."""
    window = default_range(options["last_day"])
    if window is None:
        return None
    state = from_query(query, options, window)
    values = params.values(query, options)
    return state, values, to_query(state.stores, state.start, state.end, state.channels, values)


def frame_layout(ids: PageIds, title: str, query: dict, header_extra: list | None = None,
                 params: UrlParams = NO_PARAMS) -> Frame:  # fmt: skip
    """Title, filter bar and URL location of a page, restored from ``query``."""
    header = [html.H2(title, className="mt-3 mb-2"), *(header_extra or [])]
    try:
        options = filter_options(get_runtime())
    except DataLayerError:
        log.exception("%s page: filter options unavailable", ids.page)
        return Frame([*header, error_alert()], None, None)
    restored = _restore(query, options, params)
    if restored is None:
        return Frame([*header, empty_database_alert()], None, options)
    state, values, shown = restored
    bar = filter_bar(options, state.start, state.end, store_id=ids.store, date_id=ids.date, channel_id=ids.channel,
                     stores=state.stores, channels=state.channels)  # fmt: skip
    # ``search`` given: the Location does not report the address on mount (no round trip per load)
    location = dcc.Location(id=ids.url, refresh=False, search=shown)
    children = [*header, html.Div(stale_strip(), id=ids.stale), location, dcc.Store(id=ids.url_state, data=shown), bar]
    return Frame(children, state, options, values)


def stale_strip():
    """A warning while the database does not answer (the views come from the cache), else None."""
    status = database_status(get_runtime())
    return None if status is None or status.available else stale_alert(status.confirmed_at)


def view_filters(stores, start, end, channels) -> Selection | None:
    """Filters from the bar's values; None while the selection is incomplete."""
    if not start or not end or not stores or not channels:
        return None
    return Selection.build(start, end, stores, channels)


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


def register_frame_callbacks(ids: PageIds, path: str, params: UrlParams = NO_PARAMS) -> None:
    """全部门店/全部渠道 exclusive, the query string following the filters plus ``params``, and the
    filters and ``params`` following the query string on Back / Forward (``path``: the page's).
    Declares what each of these properties may carry (components.prop_kinds)."""
    _declare_kinds(ids, params)
    for component_id in (ids.store, ids.channel):
        _register_all_exclusive(component_id)
    controls = [Input(cid, prop) for cid, prop in params.controls.values()]

    @dash.callback(Output(ids.url, "search"), Output(ids.url_state, "data"), *ids.inputs(), *controls,
                   State(ids.url_state, "data"), prevent_initial_call=True)  # fmt: skip
    def filters_to_url(stores, start, end, channels, *rest):
        *control_values, shown = rest
        search = to_query(stores, start, end, channels, dict(zip(params.controls, control_values, strict=True)))
        return (dash.no_update, dash.no_update) if search == (shown or "") else (search, search)

    @dash.callback(Output(ids.stale, "children"), *ids.inputs(), prevent_initial_call=True)
    def show_stale(*_filters):
        """Re-checked whenever the filters change (no I/O: the cache's last version check)."""
        return stale_strip()

    targets = [(i.component_id, i.component_property) for i in (*ids.inputs(), *controls)]

    @dash.callback(*[Output(cid, prop, allow_duplicate=True) for cid, prop in targets],
                   Output(ids.url_state, "data", allow_duplicate=True),
                   Input(ids.url, "search"), State(ids.url, "pathname"), State(ids.url_state, "data"),
                   *[State(cid, prop) for cid, prop in targets], prevent_initial_call=True)  # fmt: skip
    def url_to_filters(search, pathname, shown, *current):
        unchanged = [dash.no_update] * (len(targets) + 1)
        # the page's own write, or the Location of a page being left (a link changes its pathname)
        if (search or "") == (shown or "") or not _same_path(pathname, path):
            return unchanged
        try:
            restored = _restore(query_params(search), filter_options(get_runtime()), params)
        except DataLayerError:
            log.exception("%s page: filter options unavailable", ids.page)
            return unchanged
        if restored is None:
            return unchanged
        state, values, normalised = restored
        wanted = [state.stores, state.start.isoformat(), state.end.isoformat(), state.channels, *values.values()]
        shown_now = list(current)
        shown_now[1:3] = [str(day)[:10] if day else day for day in current[1:3]]  # the picker may add a time
        # an unchanged value is left alone: setting it again would re-run the page's sections
        return [dash.no_update if w == c else w for w, c in zip(wanted, shown_now, strict=True)] + [normalised]


def _declare_kinds(ids: PageIds, params: UrlParams) -> None:
    for component_id, prop, kind in ((ids.store, "value", STORES), (ids.date, "start_date", DATE),
                                     (ids.date, "end_date", DATE), (ids.channel, "value", CHANNELS),
                                     (ids.url, "search", TEXT), (ids.url, "pathname", TEXT),
                                     (ids.url_state, "data", TEXT)):  # fmt: skip
        declare(component_id, prop, kind)
    for name, (component_id, prop) in params.controls.items():
        if name not in params.kinds:
            raise ValueError(f"{ids.page}: URL parameter {name!r} has no kind (UrlParams.kinds)")
        declare(component_id, prop, params.kinds[name])


def _same_path(pathname: str | None, path: str) -> bool:
    return (pathname or "/").rstrip("/") == dash.get_relative_path(path).rstrip("/")


def _register_all_exclusive(component_id: str) -> None:
    @dash.callback(Output(component_id, "value", allow_duplicate=True), Input(component_id, "value"),
                   prevent_initial_call=True)  # fmt: skip
    def keep_all_exclusive(values):
        fixed = exclusive_all(values)
        return dash.no_update if fixed == values else fixed
