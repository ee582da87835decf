"""psutil poller: system and process figures every few seconds, the last hour in a ring."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from monitoring._thread import BackgroundLoop
from monitoring.memory import release_free_memory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SystemSample:
    at: float
    cpu_percent: float  # whole machine, 0–100
    process_cpu_percent: float  # this process, % of one core (can exceed 100)
    memory_percent: float
    memory_used: int
    memory_total: int
    process_rss: int
    # of the RSS, pages of files (libraries, the mapped read-model tables) other processes can share;
    # None where psutil does not tell (not Linux)
    process_shared: int | None
    process_threads: int
    connections: int
    load_1m: float
    disk_free: int
    disk_total: int


@dataclass(frozen=True)
class MachineInfo:
    cpu_cores: int
    cpu_logical: int
    cpu_freq_mhz: float | None


class SystemPoller(BackgroundLoop):
    thread_name = "system-poller"

    def __init__(self, data_dir: Path, interval_s: float = 5.0, keep_s: float = 3600.0,
                 extra: Callable[[], dict] | None = None) -> None:  # fmt: skip
        super().__init__()
        self.data_dir = Path(data_dir)
        self.interval_s = interval_s
        self.samples: deque[SystemSample] = deque(maxlen=max(1, int(keep_s / interval_s)))
        # (time, dict) of another in-memory source sampled on the same beat (the cache stats)
        self.extra = extra
        self.extras: deque[tuple[float, dict]] = deque(maxlen=self.samples.maxlen)
        self._process = psutil.Process(os.getpid())
        freq = psutil.cpu_freq()
        self.machine = MachineInfo(
            cpu_cores=psutil.cpu_count(logical=False) or psutil.cpu_count() or 1,
            cpu_logical=psutil.cpu_count() or 1,
            cpu_freq_mhz=freq.current if freq else None,
        )

    @property
    def latest(self) -> SystemSample | None:
        return self.samples[-1] if self.samples else None

    def _before_start(self) -> None:
        psutil.cpu_percent(None)  # prime the counters: the first real sample is then meaningful
        self._process.cpu_percent(None)
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            release_free_memory()  # before sampling: the RSS shown is what the process holds
            try:
                self.sample()
            except (psutil.Error, OSError):
                log.warning("system poller: sample failed", exc_info=True)

    def sample(self) -> SystemSample:
        memory = psutil.virtual_memory()
        with self._process.oneshot():
            memory_info = self._process.memory_info()
            process_cpu = self._process.cpu_percent(None)
            threads = self._process.num_threads()
            try:
                connections = len(self._process.net_connections(kind="inet"))
            except (psutil.AccessDenied, AttributeError):
                connections = 0
        directory = self.data_dir if self.data_dir.exists() else Path.cwd()
        disk = psutil.disk_usage(str(directory))
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        sample = SystemSample(
            at=time.time(), cpu_percent=psutil.cpu_percent(None), process_cpu_percent=process_cpu,
            memory_percent=memory.percent, memory_used=memory.total - memory.available,
            memory_total=memory.total, process_rss=memory_info.rss,
            process_shared=getattr(memory_info, "shared", None), process_threads=threads,
            connections=connections, load_1m=load, disk_free=disk.free, disk_total=disk.total,
        )  # fmt: skip
        self.samples.append(sample)
        if self.extra is not None:
            self.extras.append((sample.at, self.extra()))
        return sample
