"""Metrics of several serving processes (prometheus_client's multiprocess mode), the supervisor's
signal handling and the Waitress queue digest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.multiprocess import MultiProcessCollector

from config.metrics import MULTIPROC_ENV

ROOT = Path(__file__).resolve().parents[2]

# One worker: counts through CacheStats and publishes its memory; "stop" stops like a worker
# that shuts down, "kill" leaves as a killed one (no clean-up).
_WORKER = """
import os, sys
from cache.stats import CacheStats
from monitoring.workers import WorkerGauges
stats, gauges = CacheStats(), WorkerGauges(interval_s=60)
gauges.start()
for _ in range(int(sys.argv[1])):
    stats.request("services.diagnosis.store_kpis")
    stats.lookup("l1", False, 0.1)
    stats.compute(500.0, "services.diagnosis.store_kpis", queried=True)
stats.lookup("l2", True, 0.2)
print(os.getpid(), flush=True)
if sys.argv[2] == "stop":
    gauges.stop()
os._exit(0)
"""


def _worker(directory: Path, requests: int, ending: str) -> int:
    env = {**os.environ, MULTIPROC_ENV: str(directory)}
    done = subprocess.run([sys.executable, "-c", _WORKER, str(requests), ending], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def _merged(directory: Path) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in MultiProcessCollector(None, str(directory)).collect() for s in family.samples}  # fmt: skip


def test_workers001_counters_add_up_over_workers_and_survive_them(tmp_path):
    """Counters are summed over every worker, dead ones included; the gauges are per live worker
    and leave with a worker that stops or that the supervisor retires."""
    from monitoring.workers import worker_died

    killed = _worker(tmp_path, 3, "kill")
    stopped = _worker(tmp_path, 5, "stop")
    merged = _merged(tmp_path)
    assert merged[("o2o_cache_requests_total", ())] == 8
    assert merged[("o2o_cache_computed_total", ())] == 8 and merged[("o2o_cache_assembled_total", ())] == 0
    view = (("view", "services.diagnosis.store_kpis"),)
    assert merged[("o2o_cache_view_requests_total", view)] == 8
    assert merged[("o2o_cache_view_compute_seconds_total", view)] == 4.0
    assert merged[("o2o_cache_misses_total", (("tier", "l1"),))] == 8
    assert merged[("o2o_cache_hits_total", (("tier", "l2"),))] == 2
    rss = {dict(labels)["pid"] for (name, labels) in merged if name == "o2o_worker_rss_bytes"}
    assert rss == {str(killed)} and str(stopped) not in rss and merged[("o2o_workers", ())] == 1
    os.environ[MULTIPROC_ENV] = str(tmp_path)  # as in the supervisor
    try:
        worker_died(killed)
    finally:
        del os.environ[MULTIPROC_ENV]
    merged = _merged(tmp_path)
    assert not [name for (name, _) in merged if name.startswith("o2o_worker")]
    assert merged[("o2o_cache_requests_total", ())] == 8  # its counts stay


def test_workers002_one_process_shares_nothing(tmp_path):
    """Without PROMETHEUS_MULTIPROC_DIR (the debug launcher, one worker, the tests' apps) the
    counters are the process's own and no file is written."""
    from cache.stats import CacheStats
    from config import Settings
    from monitoring import Monitors

    assert MULTIPROC_ENV not in os.environ
    stats = CacheStats()
    stats.request("v")
    assert stats.snapshot()["requests"] == 1 and stats._shared is None
    assert Monitors.from_settings(Settings.from_env({}, data_dir=tmp_path)).workers is None


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
