"""系统监控 — the last hour of CPU, memory, RSS, cache hit rates and Redis latency."""

from __future__ import annotations

import datetime as dt

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from components import ids
from components.charts import TIME_AXIS, figure, graph
from components.monitor_panel import panel_view
from pages._monitor import panel_data
from services.runtime import get_runtime
from web.prop_kinds import COUNT, declare

dash.register_page(__name__, path="/system", name="系统监控", title="系统监控", order=90)

REFRESH_MS = 10_000


def layout(**_query: str) -> html.Div:
    return html.Div(
        [
            html.H3("系统监控", className="mt-3"),
            html.P("最近一小时的进程与服务状态（每 10 秒刷新，数据来自内存中的采样）。", className="text-muted small"),
            dcc.Interval(id=ids.SYSTEM_INTERVAL, interval=REFRESH_MS, n_intervals=0),
            html.Div(id=ids.SYSTEM_CHARTS),
            html.H5("详细统计", className="mt-3"),
            html.Div(id=ids.SYSTEM_TABLES),
        ]
    )


def _figure(title: str, series: dict[str, tuple[list, list]], unit: str) -> dcc.Graph:
    traces = [{"type": "scatter", "mode": "lines", "x": xs, "y": ys, "name": name} for name, (xs, ys) in series.items()]
    return graph(figure(traces, title, unit, height=260, xaxis=TIME_AXIS, margin={"l": 40, "r": 10, "t": 40, "b": 30}))


def _times(stamps) -> list[dt.datetime]:
    return [dt.datetime.fromtimestamp(t) for t in stamps]


declare(ids.SYSTEM_INTERVAL, "n_intervals", COUNT)


@dash.callback(
    Output(ids.SYSTEM_CHARTS, "children"),
    Output(ids.SYSTEM_TABLES, "children"),
    Input(ids.SYSTEM_INTERVAL, "n_intervals"),
)
def refresh_system(_n):
    runtime = get_runtime()
    monitors = runtime.monitors
    samples = list(monitors.system.samples) if monitors else []
    extras = list(monitors.system.extras) if monitors else []
    history = monitors.redis.snapshot.history if monitors else ()
    at = _times(s.at for s in samples)
    tier_series = {}
    for tier, label in (("l1", "L1 内存"), ("l2", "L2 磁盘"), ("l3", "L3 Redis")):
        tier_series[label] = (_times(t for t, _ in extras),
                              [(e["tiers"][tier]["hit_rate"] or 0) * 100 for _, e in extras])  # fmt: skip
    tier_series["总体"] = (_times(t for t, _ in extras), [(e["hit_rate"] or 0) * 100 for _, e in extras])
    charts = dbc.Row(
        [
            dbc.Col(_figure("CPU", {"系统": (at, [s.cpu_percent for s in samples]),
                                    "本进程": (at, [s.process_cpu_percent for s in samples])}, "%"), md=6),
            dbc.Col(_figure("内存", {"系统已用": (at, [s.memory_percent for s in samples])}, "%"), md=6),
            dbc.Col(_figure("进程 RSS", {"RSS": (at, [s.process_rss / 1024**2 for s in samples])}, "MB"), md=6),
            dbc.Col(_figure("缓存命中率（累计）", tier_series, "%"), md=6),
            dbc.Col(_figure("Redis 延迟", {"PING": (_times(t for t, _ in history), [v for _, v in history])},
                            "ms"), md=6),
        ]
    )  # fmt: skip
    return charts, panel_view(panel_data(runtime))[1]
