"""The 系统监控面板's callbacks (components.monitor_panel): its cards every 5 s from the runtime's
in-memory snapshots, and the 显示详细信息 toggle. The page that shows the panel registers them."""

from __future__ import annotations

import dash
from dash import Input, Output, State

from components import ids
from components.monitor_panel import PanelData, panel_view
from monitoring.redis_health import SUCCESS_WINDOW_S
from services.runtime import Runtime, get_runtime
from web.prop_kinds import COUNT, FLAG, declare


def panel_data(runtime: Runtime) -> PanelData:
    """The snapshots the panel shows; pure reads, safe every 5 s."""
    monitors, settings = runtime.monitors, runtime.settings
    return PanelData(
        redis=monitors.redis.snapshot if monitors else None,
        sample=monitors.system.latest if monitors else None,
        machine=monitors.system.machine if monitors else None,
        cache=runtime.cache.snapshot() if runtime.cache else None,
        cpu_busy_percent=settings.cpu_busy_percent, cpu_high_percent=settings.cpu_high_percent,
        window_s=SUCCESS_WINDOW_S,
    )  # fmt: skip


def register_callbacks() -> None:
    declare(ids.MONITOR_INTERVAL, "n_intervals", COUNT)
    declare(ids.MONITOR_COLLAPSE, "is_open", FLAG)
    declare(ids.MONITOR_TOGGLE, "n_clicks", COUNT)

    @dash.callback(
        Output(ids.MONITOR_CARDS, "children"),
        Output(ids.MONITOR_DETAILS, "children"),
        Input(ids.MONITOR_INTERVAL, "n_intervals"),
        Input(ids.MONITOR_COLLAPSE, "is_open"),
    )
    def refresh_monitor(_n, details_open):
        # The details tables are most of the payload: build them only while they are shown.
        cards, details = panel_view(panel_data(get_runtime()), with_details=bool(details_open))
        return cards, details if details_open else dash.no_update

    @dash.callback(
        Output(ids.MONITOR_COLLAPSE, "is_open"),
        Output(ids.MONITOR_TOGGLE, "children"),
        Input(ids.MONITOR_TOGGLE, "n_clicks"),
        State(ids.MONITOR_COLLAPSE, "is_open"),
        prevent_initial_call=True,
    )
    def toggle_details(_clicks, is_open):
        return (not is_open), ("隐藏详细信息" if not is_open else "显示详细信息")
