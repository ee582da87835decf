"""Counters shared by the serving processes of one production instance.

Each worker (``O2O_WORKERS`` > 1) writes its cache counters and its resident memory to
``<peer_dir>/<pid>.json`` once a second (atomically); /metrics, answered by whichever worker
the request reached, adds the other workers' files to its own figures, so a scrape sees the
whole instance. Gauges (memory, the number of workers) come from live workers' fresh files
only. Counters must never go down while the instance runs: when a worker dies the supervisor
``retire()``s it — its last published counters move into ``retired.json`` (which names the
retired pids) and its file is removed — and until then a dead worker's file still counts. A
worker's counts since its last publication (at most a second) are lost with it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from monitoring._thread import BackgroundLoop

log = logging.getLogger(__name__)

STALE_S = 10.0
RETIRED = "retired.json"  # counters of the instance's dead workers, written by the supervisor only
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
        self._publishing = threading.Lock()

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

    def publish(self) -> dict:
        """Write this worker's record (taken under the lock, so the file's counters only grow)."""
        with self._publishing:
            record = self.own()
            tmp = self._file.with_name(f".{self._file.name}.tmp")
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, self._file)
        return record

    def instance_cache(self, own: dict) -> dict:
        """The instance's cache figures for /metrics: ``own`` (this worker's snapshot, for what
        is not a counter) with every worker's published counters summed, this one's published
        now. Every answer is then a sum of files that only grow, whichever worker gives it: a
        worker's own live counters ahead of its file would make the next answer, from another
        worker, go down."""
        mine = self.publish()["cache"] or own
        base = {**own, **{k: mine[k] for k in CACHE_COUNTERS}, "views": mine["views"],
                "tiers": {t: {**own["tiers"].get(t, {}), **s} for t, s in mine["tiers"].items()}}  # fmt: skip
        return combined_cache(base, self.counted())

    def peers(self) -> list[dict]:
        """The other live workers' last records (for gauges)."""
        now = time.time()
        return [record for record in self._records()
                if now - float(record.get("at", 0)) <= STALE_S and psutil.pid_exists(int(record["pid"]))]  # fmt: skip

    def counted(self) -> list[dict]:
        """Every record whose counters the instance's totals include besides this worker's: the
        other workers' (live or dead, until retired) and the retired total. Read so that a
        worker retired meanwhile is counted once: retired.json before and after the workers'
        files must agree (else read again)."""
        for _ in range(5):
            before = _read(self.directory / RETIRED)
            records = self._records()
            after = _read(self.directory / RETIRED)
            if before == after:
                break
        retired = set(after.get("pids", ())) if after else set()
        return [r for r in records if int(r["pid"]) not in retired] + ([after] if after else [])

    def _records(self) -> list[dict]:
        found = []
        for path in self.directory.glob("*.json"):
            if path.name == RETIRED:
                continue
            record = _read(path)
            try:
                pid = int(record["pid"])
            except (KeyError, TypeError, ValueError):
                continue  # being replaced, or not ours
            if pid != self.pid:
                found.append(record)
        return found


def _read(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def retire(directory: Path, pid: int) -> None:
    """A worker of the instance died: its last counters join the retired total and its file is
    removed (in that order, each step atomic; see ``WorkerBoard.counted``). The supervisor's
    job, and only its: one writer of retired.json."""
    path = Path(directory) / f"{pid}.json"
    record = _read(path)
    retired = _read(Path(directory) / RETIRED) or {"pid": "retired", "pids": [], "cache": None}
    try:
        if record is not None and pid not in retired["pids"]:
            retired["pids"].append(pid)
            if record.get("cache"):
                retired["cache"] = _counters(combined_cache(_as_snapshot(retired["cache"]), [record]))
            tmp = Path(directory) / f".{RETIRED}.tmp"
            tmp.write_text(json.dumps(retired), encoding="utf-8")
            os.replace(tmp, Path(directory) / RETIRED)
        path.unlink(missing_ok=True)
    except OSError as exc:  # the supervisor goes on: the file stays counted (not as a live worker)
        log.warning("worker board: could not retire %s (%s)", path, exc)


def _as_snapshot(counters: dict | None) -> dict:
    """Counters as a CacheStats-like snapshot that ``combined_cache`` can add to."""
    if not counters:
        return {**dict.fromkeys(CACHE_COUNTERS, 0), "tiers": {}, "views": {}}
    return counters


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
