"""Per-tier counters and latency windows; read-only snapshots for the monitor and /metrics.

In a worker of a multi-process instance (``config.metrics.shared_metrics_dir``) every count is
also added to a prometheus_client ``Counter``, whose value that mode keeps in a memory-mapped
file of the worker: /metrics sums them over the instance's workers, a dead one's included,
while the snapshot (the monitor panel, /healthz) stays the answering process's own.
"""

from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import Counter

from config.metrics import shared_metrics_dir

TIERS = ("l1", "l2", "l3")
WINDOW = 2048
# The counters /metrics exports, by snapshot key: (metric name, help). Request counters, then
# per tier (label ``tier``), then per cached view function (label ``view``).
REQUEST_COUNTERS = {
    "requests": ("o2o_cache_requests", "Requests through the cache"),
    "computed": ("o2o_cache_computed", "Requests computed from the database"),
    "assembled": ("o2o_cache_assembled", "Requests computed from the read model alone (no SQL)"),
    "warmed": ("o2o_cache_warmed", "Values computed in the background by the cache warmer"),
}
TIER_COUNTERS = {
    "hits": ("o2o_cache_hits", "Cache lookups answered by the tier"),
    "misses": ("o2o_cache_misses", "Cache lookups missed in the tier"),
    "errors": ("o2o_cache_errors", "Cache tier errors (treated as misses)"),
}
VIEW_COUNTERS = {
    "requests": ("o2o_cache_view_requests", "Requests per cached view function"),
    "computed": ("o2o_cache_view_computed", "Computed (missed) per cached view function"),
    "compute_s": ("o2o_cache_view_compute_seconds", "Seconds computing per view function"),
    "assembled": ("o2o_cache_view_assembled", "Computed from the read model alone per view function"),
}
# Set while the cache warmer computes: its lookups and computations are not users' requests and
# stay out of the hit rate (they are counted as ``warmed`` instead).
_background: ContextVar[bool] = ContextVar("cache_background", default=False)


@contextmanager
def background():
    """Run the block as background work: cache statistics ignore its lookups."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


@dataclass
class TierStats:
    hits: int = 0
    misses: int = 0
    errors: int = 0
    writes: int = 0
    bytes_raw: int = 0  # serialised size before compression of values written
    bytes_stored: int = 0  # what was actually stored
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=WINDOW))

    def snapshot(self) -> dict:
        lat = np.fromiter(self.latencies_ms, dtype=float) if self.latencies_ms else None
        lookups = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "errors": self.errors,
            "writes": self.writes,
            "hit_rate": self.hits / lookups if lookups else None,
            "bytes_raw": self.bytes_raw,
            "bytes_stored": self.bytes_stored,
            "bytes_saved_ratio": 1 - self.bytes_stored / self.bytes_raw if self.bytes_raw else None,
            "latency_p50_ms": float(np.percentile(lat, 50)) if lat is not None else None,
            "latency_p95_ms": float(np.percentile(lat, 95)) if lat is not None else None,
        }


class CacheStats:
    """Thread-safe counters of requests (outermost cached calls: cached functions a view calls
    are part of its request). Hit rate = requests answered without the database / requests;
    view hit rate also leaves out those assembled from the read model's tables in memory."""

    def __init__(self, shared: bool | None = None) -> None:
        """``shared``: also count into prometheus_client counters (default: in a worker of a
        multi-process instance). One such CacheStats per process: the counters' values are
        keyed by metric name in the process's file."""
        self._lock = threading.Lock()
        if shared is None:
            shared = shared_metrics_dir() is not None
        self._shared = _SharedCounters() if shared else None
        self.tiers = {name: TierStats() for name in TIERS}
        self.requests = 0
        self.computed = 0  # computed with the database (SQL ran while answering)
        self.assembled = 0  # computed from other cached values alone (no SQL)
        self.warmed = 0  # values computed in the background by the warmer
        self.compute_ms: deque = deque(maxlen=WINDOW)
        # per cached function: [requests, computed, seconds computing, assembled] (which views
        # miss, and what their misses cost)
        self.views: dict[str, list] = {}

    def lookup(self, tier: str, hit: bool, elapsed_ms: float) -> None:
        if _background.get():
            return
        with self._lock:
            stats = self.tiers[tier]
            if hit:
                stats.hits += 1
            else:
                stats.misses += 1
            stats.latencies_ms.append(elapsed_ms)
        if self._shared is not None:
            self._shared.tiers["hits" if hit else "misses"][tier].inc()

    def error(self, tier: str) -> None:
        with self._lock:
            self.tiers[tier].errors += 1
        if self._shared is not None:
            self._shared.tiers["errors"][tier].inc()

    def wrote(self, tier: str, raw: int, stored: int) -> None:
        with self._lock:
            stats = self.tiers[tier]
            stats.writes += 1
            stats.bytes_raw += raw
            stats.bytes_stored += stored

    def request(self, view: str) -> None:
        if _background.get():
            return
        with self._lock:
            self.requests += 1
            self.views.setdefault(view, [0, 0, 0.0, 0])[0] += 1
        if self._shared is not None:
            self._shared.requests["requests"].inc()
            self._shared.views["requests"].labels(view=view).inc()

    def compute(self, elapsed_ms: float, view: str, queried: bool = True) -> None:
        """A request's value was computed: with the database (``queried``) or from the tables in memory."""
        if _background.get():
            with self._lock:
                self.warmed += 1
            if self._shared is not None:
                self._shared.requests["warmed"].inc()
            return
        with self._lock:
            self.compute_ms.append(elapsed_ms)
            counts = self.views.setdefault(view, [0, 0, 0.0, 0])
            counts[2] += elapsed_ms / 1000
            if queried:
                self.computed += 1
                counts[1] += 1
            else:
                self.assembled += 1
                counts[3] += 1
        if self._shared is not None:
            kind = "computed" if queried else "assembled"
            self._shared.requests[kind].inc()
            self._shared.views[kind].labels(view=view).inc()
            self._shared.views["compute_s"].labels(view=view).inc(elapsed_ms / 1000)

    def snapshot(self) -> dict:
        with self._lock:
            answered = self.requests - self.computed
            return {
                "requests": self.requests,
                "computed": self.computed,
                "assembled": self.assembled,
                "warmed": self.warmed,
                "hit_rate": answered / self.requests if self.requests else None,
                "view_hit_rate": (answered - self.assembled) / self.requests if self.requests else None,
                "views": {
                    view: {"requests": n, "computed": c, "compute_s": sec, "assembled": a}
                    for view, (n, c, sec, a) in sorted(self.views.items())
                },
                "tiers": {name: t.snapshot() for name, t in self.tiers.items()},
            }


class _SharedCounters:
    """The exported counters as prometheus_client ``Counter`` objects, in no registry: in
    multiprocess mode /metrics reads every worker's values from the files."""

    def __init__(self) -> None:
        self.requests = {key: Counter(name, text, registry=None) for key, (name, text) in REQUEST_COUNTERS.items()}
        self.tiers: dict[str, dict[str, Counter]] = {}
        for key, (name, text) in TIER_COUNTERS.items():
            counter = Counter(name, text, ["tier"], registry=None)
            self.tiers[key] = {tier: counter.labels(tier=tier) for tier in TIERS}
        self.views = {key: Counter(name, text, ["view"], registry=None) for key, (name, text) in VIEW_COUNTERS.items()}
