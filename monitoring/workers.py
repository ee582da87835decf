"""Metrics of the serving processes of one production instance: prometheus_client's multiprocess mode.

The launcher of several workers calls ``share_metrics`` before it starts them: it empties
``<data dir>/metrics/<port>`` (an earlier run's files) and sets ``PROMETHEUS_MULTIPROC_DIR``
to it, which the workers inherit. prometheus_client then keeps each worker's metric values in
memory-mapped files there as they change (``counter_<pid>.db``, ``histogram_<pid>.db``, ...),
and /metrics, answered by whichever worker the request reached, merges every file
(``MultiProcessCollector``): counters and the callback histogram are sums over the instance.

Counters never go down while the instance runs: a dead worker's files stay and keep counting,
and nothing it counted is lost (each increment is in its file at once). Gauges of the workers
(``WorkerGauges``) are "live" modes: when a worker dies the supervisor calls ``worker_died``
(prometheus_client's ``mark_process_dead``) and its gauges leave /metrics; a worker that stops
cleanly removes its own. Figures of one process (L1, latencies, CPU, Redis health) come from
the answering worker's collector, as in a single process.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import psutil
from prometheus_client import Gauge
from prometheus_client.multiprocess import mark_process_dead

from config.metrics import MULTIPROC_ENV, shared_metrics_dir
from monitoring._thread import BackgroundLoop

log = logging.getLogger(__name__)

SHARED_HELP = "Of the resident memory, file pages (libraries, mapped read-model tables) the processes share"


def share_metrics(data_dir: Path, port: int) -> Path:
    """Prepare the instance's metrics directory and point prometheus_client at it (this process's
    environment: the workers started after this call inherit it). The launcher's call."""
    directory = Path(data_dir) / "metrics" / str(port)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # an earlier run's: its counters are not this one's
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def worker_died(pid: int) -> None:
    """A worker of the instance died: its gauges leave /metrics, its counters stay in the sums.
    The supervisor's call (nothing to do without a shared directory)."""
    directory = shared_metrics_dir()
    if directory is None:
        return
    try:
        mark_process_dead(pid, str(directory))
    except OSError as exc:  # the supervisor goes on; the gauges stay until the next start
        log.warning("metrics: could not retire worker %s (%s)", pid, exc)


class WorkerGauges(BackgroundLoop):
    """This worker's resident and shared memory (``o2o_worker_*_bytes{pid}``, live workers only)
    and its one in ``o2o_workers`` (summed over the live workers), set every ``interval_s`` and
    before each /metrics answer. Only in a worker of a multi-process instance."""

    thread_name = "worker-gauges"

    def __init__(self, interval_s: float = 1.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._process = psutil.Process(os.getpid())
        self._workers = Gauge("o2o_workers", "Serving processes of this instance", registry=None,
                              multiprocess_mode="livesum")  # fmt: skip
        self._rss = Gauge("o2o_worker_rss_bytes", "Resident memory per serving process", registry=None,
                          multiprocess_mode="liveall")  # fmt: skip
        self._shared = Gauge("o2o_worker_shared_bytes", SHARED_HELP + " (per serving process)", registry=None,
                             multiprocess_mode="liveall")  # fmt: skip
        self._workers.set(1)  # before any scrape can show this worker's memory

    def _before_start(self) -> None:
        self.publish()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.publish()
            except (psutil.Error, OSError):
                log.warning("worker gauges: could not sample this process", exc_info=True)

    def publish(self) -> None:
        memory = self._process.memory_info()
        self._rss.set(memory.rss)
        shared = getattr(memory, "shared", None)  # Linux only
        if shared is not None:
            self._shared.set(shared)

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        worker_died(os.getpid())  # a stopped worker leaves the gauges
