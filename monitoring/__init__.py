"""Background samplers (Redis health, psutil) and the exporters that read them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from config import Settings
from config.metrics import shared_metrics_dir
from monitoring._thread import BackgroundLoop
from monitoring.redis_health import RedisHealth, RedisHealthMonitor
from monitoring.system import SystemPoller, SystemSample
from monitoring.workers import WorkerGauges

log = logging.getLogger(__name__)


@dataclass
class Monitors:
    """The app's samplers; started by the app factory, stopped on shutdown."""

    redis: RedisHealthMonitor
    system: SystemPoller
    # set in a worker of a multi-process instance (monitoring/workers.py): its memory per pid
    workers: WorkerGauges | None = None

    @classmethod
    def from_settings(cls, settings: Settings, cache_snapshot: Callable[[], dict] | None = None) -> Monitors:
        return cls(
            redis=RedisHealthMonitor(settings.redis_url, settings.redis_check_interval_s,
                                     settings.redis_socket_timeout_ms / 1000 * 2),
            system=SystemPoller(settings.data_dir, settings.system_poll_interval_s, extra=cache_snapshot),
            workers=WorkerGauges() if shared_metrics_dir() is not None else None,
        )  # fmt: skip

    def start(self) -> None:
        self.system.start()
        self.redis.start()
        if self.workers is not None:
            self.workers.start()
        log.info("monitoring started: Redis every %.0f s, system every %.0f s",
                 self.redis.interval_s, self.system.interval_s)  # fmt: skip

    def stop(self) -> None:
        self.redis.stop()
        self.system.stop()
        if self.workers is not None:
            self.workers.stop()


__all__ = ["BackgroundLoop", "Monitors", "RedisHealth", "RedisHealthMonitor", "SystemPoller", "SystemSample",
           "WorkerGauges"]
