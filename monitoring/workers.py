"""Counters shared by the serving processes of one production instance.

Each worker (``O2O_WORKERS`` > 1) writes its cache counters and its resident memory to
``<peer_dir>/<pid>.json`` once a second (atomically); /metrics, answered by whichever worker
the request reached, adds the other live workers' files to its own figures, so a scrape sees
the whole instance. Files of processes that are gone, or not rewritten for STALE_S, are ignored.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from monitoring._thread import BackgroundLoop

log = logging.getLogger(__name__)

STALE_S = 10.0
# counters of CacheStats.snapshot() that add up across processes
CACHE_COUNTERS = ("requests", "computed", "assembled", "warmed")
TIER_COUNTERS = ("hits", "misses", "errors", "writes", "bytes_raw", "bytes_stored")
VIEW_COUNTERS = ("requests", "computed", "compute_s", "assembled")


class WorkerBoard(BackgroundLoop):
    """Publishes this worker's counters; reads the other workers' (see the module docstring)."""

    thread_name = "worker-board"

    def __init__(self, directory: Path, cache_snapshot: Callable[[], dict] | None, interval_s: float = 1.0) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.cache_snapshot = cache_snapshot
        self.interval_s = interval_s
        self.pid = os.getpid()
        self._process = psutil.Process(self.pid)
        self._file = self.directory / f"{self.pid}.json"

    def _before_start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.publish()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.publish()
            except OSError:
                log.warning("worker board: could not publish %s", self._file, exc_info=True)

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        self._file.unlink(missing_ok=True)

    def own(self) -> dict:
        """This worker's record, as published."""
        cache = self.cache_snapshot() if self.cache_snapshot is not None else None
        memory = self._process.memory_info()
        return {"pid": self.pid, "at": time.time(), "rss": memory.rss, "shared": getattr(memory, "shared", None),
                "cache": None if cache is None else _counters(cache)}  # fmt: skip

    def publish(self) -> None:
        record = self.own()
        tmp = self._file.with_name(f".{self._file.name}.tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, self._file)

    def peers(self) -> list[dict]:
        """The other live workers' last records."""
        found = []
        now = time.time()
        for path in self.directory.glob("*.json"):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                pid = int(record["pid"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # being replaced, or not ours
            if pid == self.pid or now - float(record.get("at", 0)) > STALE_S or not psutil.pid_exists(pid):
                continue
            found.append(record)
        return found


def _counters(snapshot: dict) -> dict:
    return {
        **{k: snapshot[k] for k in CACHE_COUNTERS},
        "tiers": {t: {k: s[k] for k in TIER_COUNTERS} for t, s in snapshot["tiers"].items()},
        "views": {v: {k: s[k] for k in VIEW_COUNTERS} for v, s in snapshot["views"].items()},
    }


def combined_cache(own: dict, peers: list[dict]) -> dict:
    """``own`` (a CacheStats snapshot) with every peer's counters added; hit rate recomputed."""
    total = {**own, "tiers": {t: dict(s) for t, s in own["tiers"].items()},
             "views": {v: dict(s) for v, s in own["views"].items()}}  # fmt: skip
    for peer in peers:
        cache = peer.get("cache")
        if not cache:
            continue
        for key in CACHE_COUNTERS:
            total[key] += cache[key]
        for tier, stats in cache["tiers"].items():
            mine = total["tiers"].setdefault(tier, dict.fromkeys(TIER_COUNTERS, 0))
            for key in TIER_COUNTERS:
                mine[key] = mine.get(key, 0) + stats[key]
        for view, stats in cache["views"].items():
            mine = total["views"].setdefault(view, dict.fromkeys(VIEW_COUNTERS, 0))
            for key in VIEW_COUNTERS:
                mine[key] = mine.get(key, 0) + stats[key]
    answered = total["requests"] - total["computed"]
    total["hit_rate"] = answered / total["requests"] if total["requests"] else None
    total["view_hit_rate"] = (answered - total["assembled"]) / total["requests"] if total["requests"] else None
    return total
