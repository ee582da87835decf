"""Per-tier counters and latency windows; read-only snapshots for the monitor and /metrics."""

from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np

TIERS = ("l1", "l2", "l3")
WINDOW = 2048
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

    def __init__(self) -> None:
        self._lock = threading.Lock()
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

    def error(self, tier: str) -> None:
        with self._lock:
            self.tiers[tier].errors += 1

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

    def compute(self, elapsed_ms: float, view: str, queried: bool = True) -> None:
        """A request's value was computed: with the database (``queried``) or from the tables in memory."""
        if _background.get():
            with self._lock:
                self.warmed += 1
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
