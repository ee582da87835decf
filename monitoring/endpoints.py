"""/healthz (JSON) and /metrics (Prometheus text), plus the Dash callback latency histogram.

Each app gets its own CollectorRegistry, so several apps in one process (tests) never clash. In a
worker of a multi-process instance (monitoring/workers.py) the counters, the callback histogram
and the workers' gauges come from every worker's files (``MultiProcessCollector``); the other
figures are the answering process's own.
Both endpoints read in-memory snapshots; /healthz also runs ``SELECT 1`` (that is its job) and
/metrics one small count of import batches (skipped while the database does not answer), each
bounded by the engine's timeout and guarded, so a failing database never turns into a 500
with a traceback nor a hung scrape.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from flask import Flask, Response, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from cache.stats import REQUEST_COUNTERS, TIER_COUNTERS, VIEW_COUNTERS
from config.metrics import shared_metrics_dir
from db.engine import probing
from db.models import ImportBatch
from monitoring import Monitors
from monitoring.workers import SHARED_HELP

log = logging.getLogger(__name__)
CALLBACK_PATH = "/_dash-update-component"
DATABASE_DOWN = "数据库不可用"
UNKNOWN_OUTPUT = "unknown"  # the label of refused callback requests
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# ``flask.g`` key of the output the callback request guard accepted (web.callback_body sets it)
CALLBACK_OUTPUT_KEY = "o2o_callback_output"


class Runtime(Protocol):
    """What the endpoints read of the app's runtime (services.runtime.Runtime): monitoring sits
    below services, so it names the two attributes instead of importing the class."""

    engine: Engine
    cache: object | None  # cache.CacheManager: snapshot() → dict


class DashboardCollector(Collector):
    """``shared``: the instance's workers' merged metrics (multiprocess mode), else None."""

    def __init__(self, runtime: Runtime, monitors: Monitors | None,
                 shared: MultiProcessCollector | None = None) -> None:  # fmt: skip
        self.runtime = runtime
        self.monitors = monitors
        self.shared = shared

    def collect(self):
        shared = None
        if self.shared is not None:
            if self.monitors is not None and self.monitors.workers is not None:
                self.monitors.workers.publish()  # the answering worker's memory as of now
            shared = list(self.shared.collect())  # every worker's files, read once
        yield from self._cache(shared)
        if self.monitors is not None:
            yield from self._redis()
            yield from self._process()
        if shared is not None:
            yield from shared
        yield from self._imports()

    def _cache(self, shared: list | None):
        cache = self.runtime.cache
        if cache is None:
            return
        snap = {**cache.snapshot(), **self.runtime.tables.shared.snapshot()}
        for name, key, help_text in (("o2o_cache_l1_entries", "l1_entries", "Values in this process's L1"),
                                ("o2o_cache_l1_bytes", "l1_bytes", "Estimated bytes of this process's L1 values"),
                                ("o2o_cache_mapped_bytes", "mapped_bytes",
                                 "Bytes of read-model tables this process maps (shared by the host's workers)")):
            yield GaugeMetricFamily(name, help_text, value=snap[key])  # fmt: skip
        yield from _by_label("tier", snap["tiers"], {
            "latency_p50_ms": (GaugeMetricFamily, "o2o_cache_latency_p50_ms", "Tier lookup latency p50 (recent)"),
            "latency_p95_ms": (GaugeMetricFamily, "o2o_cache_latency_p95_ms", "Tier lookup latency p95 (recent)"),
        })  # fmt: skip
        if shared is None:  # one process: its own counters
            for key, (name, text) in REQUEST_COUNTERS.items():
                yield CounterMetricFamily(name, text, value=snap[key])
            yield from _by_label("tier", snap["tiers"], _counters(TIER_COUNTERS))
            yield from _by_label("view", snap["views"], _counters(VIEW_COUNTERS))
            requests, computed = snap["requests"], snap["computed"]
        else:  # the instance's: summed over the workers' files (yielded by ``collect``)
            totals = {family.name: sum(s.value for s in family.samples if s.name.endswith("_total"))
                      for family in shared}  # fmt: skip
            requests = totals.get(REQUEST_COUNTERS["requests"][0], 0)
            computed = totals.get(REQUEST_COUNTERS["computed"][0], 0)
        if requests:
            yield GaugeMetricFamily("o2o_cache_hit_ratio", "Requests answered without the database",
                                    value=(requests - computed) / requests)  # fmt: skip

    def _redis(self):
        health = self.monitors.redis.snapshot
        yield GaugeMetricFamily("o2o_redis_up", "1 when the last Redis check answered",
                                value=1.0 if health.state in ("online", "degraded") else 0.0)  # fmt: skip
        if health.latency_ms is not None:
            yield GaugeMetricFamily("o2o_redis_latency_ms", "Redis PING round trip", value=health.latency_ms)

    def _process(self):
        sample = self.monitors.system.latest
        if sample is None:
            return
        yield GaugeMetricFamily("o2o_process_cpu_percent", "Process CPU, % of one core",
                                value=sample.process_cpu_percent)  # fmt: skip
        yield GaugeMetricFamily("o2o_process_rss_bytes", "Process resident memory", value=sample.process_rss)
        if sample.process_shared is not None:
            yield GaugeMetricFamily("o2o_process_shared_bytes", SHARED_HELP, value=sample.process_shared)
        yield GaugeMetricFamily("o2o_system_cpu_percent", "Machine CPU %", value=sample.cpu_percent)
        yield GaugeMetricFamily(
            "o2o_system_memory_percent", "Machine memory used %", value=sample.memory_percent
        )

    def _imports(self):
        cache = self.runtime.cache
        if cache is not None:
            up = cache.database_status().available
            yield GaugeMetricFamily("o2o_database_up", "1 when the last data version check answered",
                                    value=1.0 if up else 0.0)  # fmt: skip
            if not up:  # the count would only wait for the bound
                return
        family = GaugeMetricFamily("o2o_import_batches", "Import batches by status", labels=["status"])
        try:
            with self.runtime.engine.connect() as conn:
                rows = conn.execute(
                    select(ImportBatch.status, func.count()).group_by(ImportBatch.status)
                ).all()
        except SQLAlchemyError:
            return
        for status, count in rows:
            family.add_metric([status], count)
        yield family


def register_endpoints(server: Flask, runtime: Runtime, monitors: Monitors | None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    directory = shared_metrics_dir()
    shared = MultiProcessCollector(None, str(directory)) if directory is not None else None
    registry.register(DashboardCollector(runtime, monitors, shared))
    callback_seconds = Histogram(
        "o2o_dash_callback_seconds", "Server-side duration of Dash callbacks", ["output"],
        registry=registry if shared is None else None,  # shared: read back from the files
        buckets=BUCKETS,
    )  # fmt: skip

    @server.before_request
    def _start_timer():
        if request.path == CALLBACK_PATH:
            g.o2o_started = time.perf_counter()

    @server.after_request
    def _observe(response):
        started = g.pop("o2o_started", None)
        if started is not None:
            # the output the callback guard accepted (one of the app's callbacks): a label from the
            # body itself would grow /metrics by one series per made-up output
            output = g.get(CALLBACK_OUTPUT_KEY) or UNKNOWN_OUTPUT
            callback_seconds.labels(output=output).observe(time.perf_counter() - started)
        return response

    @server.get("/metrics")
    def metrics():
        # content_type as it is: ``mimetype`` would add a second "; charset=utf-8"
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    @server.get("/healthz")
    def healthz():
        return _health(runtime, monitors)

    return registry


def _health(runtime: Runtime, monitors: Monitors | None):
    started = time.perf_counter()
    try:
        with probing(runtime.engine), runtime.engine.connect() as conn:  # its job: try even when down
            conn.execute(text("SELECT 1"))
        database = {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    except SQLAlchemyError as exc:  # the detail (host, port) goes to the log, not to the caller
        log.warning("/healthz: database unavailable: %s", str(getattr(exc, "orig", exc)).strip()[:500])
        database = {"ok": False, "error": DATABASE_DOWN}
    redis_state = monitors.redis.snapshot.state if monitors is not None else "unknown"
    cache = runtime.cache.snapshot() if runtime.cache is not None else None
    if not database["ok"]:
        status = "down"
    elif redis_state in ("online",) and (cache is None or cache["redis_breaker"] == "closed"):
        status = "ok"
    else:
        status = "degraded"
    body = {
        "status": status,
        "database": database,
        "redis": {"state": redis_state, **({} if monitors is None else {
            "latency_ms": monitors.redis.snapshot.latency_ms,
            "success_rate": monitors.redis.snapshot.success_rate,
        })},
        "cache": None if cache is None else {
            "enabled": cache["enabled"], "redis_breaker": cache["redis_breaker"], "hit_rate": cache["hit_rate"],
            "tiers": {t: {"hits": s["hits"], "misses": s["misses"], "errors": s["errors"]}
                      for t, s in cache["tiers"].items()},
        },
    }  # fmt: skip
    return jsonify(body), 200 if database["ok"] else 503


def _counters(specs: dict[str, tuple[str, str]]) -> dict[str, tuple[type, str, str]]:
    return {key: (CounterMetricFamily, name, text) for key, (name, text) in specs.items()}


def _by_label(label: str, rows: dict[str, dict], specs: dict[str, tuple[type, str, str]]):
    """One metric family per spec key (kind, name, help), with a sample per row labelled
    ``label`` = the row's name (None values are left out)."""
    families = {key: kind(name, text, labels=[label]) for key, (kind, name, text) in specs.items()}
    for value, stats in rows.items():
        for key, family in families.items():
            if stats.get(key) is not None:
                family.add_metric([value], stats[key])
    return families.values()
