"""Counters of several serving processes: each worker's published record, summed by /metrics."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from monitoring.workers import STALE_S, WorkerBoard, combined_cache


def _snapshot(requests: int, computed: int, l1_hits: int, view_requests: int, view_seconds: float) -> dict:
    return {
        "requests": requests, "computed": computed, "assembled": 3, "warmed": 1, "hit_rate": None,
        "tiers": {"l1": {"hits": l1_hits, "misses": requests - l1_hits, "errors": 0, "writes": 2, "bytes_raw": 100,
                         "bytes_stored": 40, "latency_p50_ms": 0.02}},
        "views": {"services.diagnosis.store_kpis": {"requests": view_requests, "computed": computed,
                                                    "compute_s": view_seconds, "assembled": 3}},
    }  # fmt: skip


def test_workers001_counters_add_up_and_the_hit_rate_is_recomputed():
    own = _snapshot(requests=10, computed=4, l1_hits=6, view_requests=10, view_seconds=1.5)
    peer = {"pid": 1, "cache": {**_snapshot(requests=30, computed=2, l1_hits=28, view_requests=20, view_seconds=0.5)}}
    peer["cache"]["views"]["services.todo._todo_as_of"] = {"requests": 10, "computed": 1, "compute_s": 2.0,
                                                           "assembled": 0}  # fmt: skip
    total = combined_cache(own, [peer, {"pid": 2, "cache": None}])
    assert (total["requests"], total["computed"], total["assembled"], total["warmed"]) == (40, 6, 6, 2)
    assert total["hit_rate"] == (40 - 6) / 40 and total["view_hit_rate"] == (40 - 6 - 6) / 40
    assert total["tiers"]["l1"]["hits"] == 34 and total["tiers"]["l1"]["misses"] == 6
    assert total["tiers"]["l1"]["latency_p50_ms"] == 0.02  # a latency is this worker's, never summed
    assert total["views"]["services.diagnosis.store_kpis"] == {"requests": 30, "computed": 6, "compute_s": 2.0,
                                                               "assembled": 6}  # fmt: skip
    assert total["views"]["services.todo._todo_as_of"]["requests"] == 10
    assert own["requests"] == 10 and own["views"]["services.diagnosis.store_kpis"]["requests"] == 10  # not mutated


def test_workers002_peers_are_live_fresh_and_not_self(tmp_path):
    snapshot = _snapshot(requests=5, computed=1, l1_hits=4, view_requests=5, view_seconds=0.1)
    board = WorkerBoard(tmp_path, lambda: snapshot, interval_s=0.05)
    live = subprocess.Popen(["sleep", "30"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        board.start()
        assert json.loads((tmp_path / f"{board.pid}.json").read_text())["cache"]["requests"] == 5
        now = time.time()
        records = {"live": (live.pid, now), "dead": (dead.pid, now), "stale": (live.pid, now - STALE_S - 1)}
        for name, (pid, at) in records.items():
            (tmp_path / f"{name}.json").write_text(json.dumps({"pid": pid, "at": at, "rss": 1, "cache": None}))
        (tmp_path / "broken.json").write_text("{")
        peers = board.peers()
        assert [(p["pid"], p["at"]) for p in peers] == [records["live"]]
        board.stop()
        assert not (tmp_path / f"{board.pid}.json").exists()  # a stopped worker leaves no record
    finally:
        board.stop()
        live.kill()
        live.wait()


_TWO_SIGNALS = """
import os, signal, time
from serving.signals import stop_on_first_signal
both = {signal.SIGINT, signal.SIGTERM}
stop_on_first_signal()
signal.pthread_sigmask(signal.SIG_BLOCK, both)
os.kill(os.getpid(), signal.SIGINT)   # Ctrl+C to the console's process group ...
os.kill(os.getpid(), signal.SIGTERM)  # ... and the supervisor's SIGTERM, both pending at once
stops = 0
try:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, both)
    time.sleep(0.2)
except KeyboardInterrupt:
    stops += 1
for _ in range(20):  # the second signal is handled at one of these checks
    time.sleep(0.01)
print("stops", stops)
"""


def test_workers003_a_second_stop_signal_is_ignored_without_an_error():
    """Ctrl+C and SIGTERM arriving together stop once and print nothing (with SIG_IGN the second
    printed 'OSError: Signal 15 ignored due to race condition' with a traceback)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _TWO_SIGNALS], cwd=root, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "stops 1", "")


def test_workers004_waitress_queue_warnings_are_digested():
    """One queue warning per interval passes, naming how many were held back and the deepest."""
    import logging

    from serving.worker import QueueWarningDigest

    now = [100.0]
    digest = QueueWarningDigest(interval_s=10.0, clock=lambda: now[0])
    logger = logging.getLogger("test.waitress.queue")
    logger.propagate = False
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger.addHandler(handler)
    logger.addFilter(digest)
    try:
        for at, depth in ((100.0, 1), (101.0, 7), (105.0, 3), (109.9, 2), (110.0, 4), (111.0, 1)):
            now[0] = at
            logger.warning("Task queue depth is %d", depth)
    finally:
        logger.removeHandler(handler)
        logger.removeFilter(digest)
    assert seen == [
        "Waitress 请求排队: 队列深度 1 (所有线程忙); 上条报告后另有 0 次排队, 最深 1",
        "Waitress 请求排队: 队列深度 4 (所有线程忙); 上条报告后另有 3 次排队, 最深 7",
    ]


def test_workers005_a_dead_workers_counters_stay_in_the_totals(tmp_path):
    """A worker that died still counts (its file, then the retired total): the sum never drops,
    nothing is counted twice, and its record leaves the gauges and the directory."""
    from monitoring.workers import RETIRED, retire

    board = WorkerBoard(tmp_path, lambda: _snapshot(requests=5, computed=1, l1_hits=4, view_requests=5,
                                                    view_seconds=0.1))  # fmt: skip
    live = subprocess.Popen(["sleep", "30"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        now = time.time()
        for pid, requests in ((live.pid, 30), (dead.pid, 20)):
            cache = _snapshot(requests=requests, computed=2, l1_hits=1, view_requests=requests, view_seconds=1.0)
            record = {"pid": pid, "at": now, "rss": 1, "cache": cache}
            (tmp_path / f"{pid}.json").write_text(json.dumps(record))

        def total() -> int:
            return combined_cache(board.own()["cache"], board.counted())["requests"]

        assert total() == 5 + 30 + 20  # killed, not yet seen by the supervisor: still counted
        assert [p["pid"] for p in board.peers()] == [live.pid]  # gauges: live workers only
        retire(tmp_path, dead.pid)
        assert not (tmp_path / f"{dead.pid}.json").exists()
        assert total() == 55
        merged = combined_cache(board.own()["cache"], board.counted())
        assert merged["views"]["services.diagnosis.store_kpis"]["requests"] == 55
        assert merged["tiers"]["l1"]["misses"] == 1 + 29 + 19  # requests − l1 hits each
        retire(tmp_path, dead.pid)  # seen twice: counted once
        (tmp_path / f"{dead.pid}.json").write_text((tmp_path / RETIRED).read_text())  # a stray copy
        assert total() == 55
        assert [p["pid"] for p in board.peers()] == [live.pid]
    finally:
        live.kill()
        live.wait()
