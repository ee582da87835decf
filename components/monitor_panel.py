"""系统监控面板: four cards refreshed every 5 s from in-memory snapshots (no Redis call, no
database query in the callback), with a 显示详细信息 toggle.

The panel owns its ``dcc.Interval``. Its callbacks (pages._monitor) hand ``panel_view`` the
snapshots as a ``PanelData``.
"""

from __future__ import annotations

from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import format as fmt
from components import ids

REFRESH_MS = 5000
REDIS_LABELS = {"online": ("在线", "success"), "degraded": ("降级", "warning"),
                "offline": ("离线", "danger"), "unknown": ("检测中", "secondary")}  # fmt: skip


@dataclass(frozen=True)
class PanelData:
    """What the panel shows: the samplers' last snapshots (monitoring; None before the first)
    and the cache's counters."""

    redis: object | None  # monitoring.RedisHealth
    sample: object | None  # monitoring.SystemSample
    machine: object | None  # the machine's cores and frequency (monitoring.system)
    cache: dict | None  # cache.CacheManager.snapshot()
    cpu_busy_percent: float
    cpu_high_percent: float
    window_s: float  # the Redis success rate's window while no check has run


def monitor_panel() -> html.Div:
    return html.Div(
        [
            dcc.Interval(id=ids.MONITOR_INTERVAL, interval=REFRESH_MS, n_intervals=0),
            html.Div(id=ids.MONITOR_CARDS),
            dbc.Button("显示详细信息", id=ids.MONITOR_TOGGLE, color="link", size="sm", className="px-0"),
            dbc.Collapse(html.Div(id=ids.MONITOR_DETAILS), id=ids.MONITOR_COLLAPSE, is_open=False),
        ],
        className="monitor-panel",
    )


def _card(icon_title: str, value: str, sub: str, colour: str, key: str, hint: str | None = None) -> dbc.Col:
    """``hint``: the sub line's tooltip (what a figure counts)."""
    return dbc.Col(
        dbc.Card(
            dbc.CardBody([
                html.Div(icon_title, className="small text-muted"),
                html.Div(value, className=f"fs-5 fw-semibold text-{colour}", **{"data-monitor": key}),
                html.Div(sub, className="small text-muted", title=hint),
            ], className="py-2"),
            className=f"border-{colour} h-100",
        ),
        xs=6, lg=3, className="mb-2",
    )  # fmt: skip


def _level(value: float | None, warn: float, bad: float) -> str:
    if value is None:
        return "secondary"
    return "danger" if value >= bad else "warning" if value >= warn else "success"


def _gb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1024**3:.1f}GB"


def _mb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1024**2:.0f}MB"


def panel_view(data: PanelData, with_details: bool = True) -> tuple[list, list]:
    """(cards, details) of the snapshots in ``data``."""
    redis, sample, cache = data.redis, data.sample, data.cache

    state, colour = REDIS_LABELS[redis.state if redis else "unknown"]
    rate = redis.success_rate if redis else None
    minutes = f"{(redis.window_s if redis else data.window_s) / 60:g}"
    cards = [_card("🗄️ Redis缓存", state, f"近{minutes}分钟成功率 {fmt.percent(rate)}", colour, "redis",
                   hint=f"最近 {minutes} 分钟内健康检查 (PING) 成功的比例; 缓存操作失败时立即重新检查")]  # fmt: skip

    hit = cache["hit_rate"] if cache else None
    answered = (cache["requests"] - cache["computed"]) if cache else 0
    hit_colour = "secondary" if hit is None else "success" if hit >= 0.8 else "warning" if hit >= 0.5 else "danger"
    cards.append(_card("🎯 缓存命中率", fmt.percent(hit), f"未查库 {answered}/{cache['requests'] if cache else 0}",
                       hit_colour, "hit"))  # fmt: skip

    mem = sample.memory_percent if sample else None
    cards.append(_card("💾 内存使用", fmt.percent(mem / 100 if mem is not None else None),
                       f"{_gb(sample.memory_used if sample else None)}/{_gb(sample.memory_total if sample else None)}"
                       f" · 进程 {_mb(sample.process_rss if sample else None)}",
                       _level(mem, 70, 85), "memory"))  # fmt: skip

    cpu = sample.cpu_percent if sample else None
    busy, high = data.cpu_busy_percent, data.cpu_high_percent
    status = "—" if cpu is None else "高负载" if cpu >= high else "繁忙" if cpu >= busy else "正常"
    cards.append(_card("⚡ 系统负载", fmt.percent(cpu / 100 if cpu is not None else None), status,
                       _level(cpu, busy, high), "cpu"))  # fmt: skip
    details = _details(data.machine, redis, sample, cache) if with_details else []
    return [dbc.Row(cards, className="g-2")], details


def _details(machine, redis, sample, cache) -> list:
    redis_rows = [] if redis is None else [
        ("Redis 版本", redis.version or "—"), ("地址", f"{redis.host}:{redis.port}"),
        ("运行时间", "—" if redis.uptime_s is None else f"{redis.uptime_s // 3600} 小时"),
        ("内存", f"{_mb(redis.used_memory)} / {_mb(redis.max_memory) if redis.max_memory else '未设上限'}"),
        ("淘汰策略", redis.policy or "—"),
        ("延迟", "—" if redis.latency_ms is None else f"{redis.latency_ms:.2f} ms"),
        *[("提示", w) for w in redis.warnings],
    ]  # fmt: skip
    system_rows = [] if sample is None or machine is None else [
        ("CPU 核数", f"{machine.cpu_cores} 物理 / {machine.cpu_logical} 逻辑"),
        ("CPU 频率", "—" if machine.cpu_freq_mhz is None else f"{machine.cpu_freq_mhz:.0f} MHz"),
        ("内存", f"{_gb(sample.memory_used)} / {_gb(sample.memory_total)} ({sample.memory_percent:.1f}%)"),
        ("进程内存 RSS", _mb(sample.process_rss)),
        *([] if sample.process_shared is None else [("其中可共享 (库文件、映射的明细块)", _mb(sample.process_shared))]),
        ("进程线程", str(sample.process_threads)),
        ("进程 CPU", f"{sample.process_cpu_percent:.1f}%"), ("1 分钟负载", f"{sample.load_1m:.2f}"),
    ]  # fmt: skip
    tier_rows = []
    if cache:
        for name, label in (("l1", "L1 内存"), ("l2", "L2 磁盘"), ("l3", "L3 Redis")):
            t = cache["tiers"][name]
            p95 = "—" if t["latency_p95_ms"] is None else f"{t['latency_p95_ms']:.2f} ms"
            tier_rows.append(html.Tr([html.Td(label), html.Td(t["hits"]), html.Td(t["misses"]),
                                      html.Td(t["errors"]), html.Td(p95)]))  # fmt: skip

    def kv_table(rows):
        return dbc.Table([html.Tbody([html.Tr([html.Th(k, className="fw-normal text-muted"), html.Td(v)])
                                      for k, v in rows])], size="sm", className="mb-2")  # fmt: skip

    tiers = dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in ("缓存层", "命中", "未命中", "错误", "p95 延迟")])),
         html.Tbody(tier_rows)], size="sm", className="mb-2",
    )  # fmt: skip
    return [dbc.Row([dbc.Col(kv_table(redis_rows), md=4), dbc.Col(kv_table(system_rows), md=4),
                     dbc.Col(tiers, md=4)], className="small")]  # fmt: skip
