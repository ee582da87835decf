"""Background Redis health monitor: PING latency, INFO, success rate, online/degraded/offline.

The thread owns its own short-timeout client (never the cache's), reconnects with exponential
backoff while Redis is down (at most OFFLINE_RECHECK_S apart, so a Redis that is back shows
online within seconds), and publishes an immutable snapshot that readers take without locks or
I/O. ``poke()`` asks for a check at once: the cache's Redis tier calls it when an operation
fails or Redis answers again, so an outage shows in about a second, not at the next beat.
The success rate counts the checks of the last SUCCESS_WINDOW_S seconds only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

import redis

from monitoring._thread import BackgroundLoop

log = logging.getLogger(__name__)

LRU_POLICIES = ("allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu")
DEGRADED_LATENCY_MS = 50.0  # answering, but slower than this per PING: "degraded"
OFFLINE_RECHECK_S = 5.0  # while down, the longest wait between two checks
SUCCESS_WINDOW_S = 300.0  # the success rate counts the checks of this many recent seconds
POKE_MIN_GAP_S = 0.5  # pokes closer than this to the last check wait for it


@dataclass(frozen=True)
class RedisHealth:
    state: str = "unknown"  # online | degraded | offline | unknown
    checked_at: float | None = None
    latency_ms: float | None = None
    checks: int = 0
    successes: int = 0
    consecutive_failures: int = 0
    error: str | None = None
    host: str = ""
    port: int = 0
    version: str | None = None
    uptime_s: int | None = None
    used_memory: int | None = None
    max_memory: int | None = None
    policy: str | None = None
    clients: int | None = None
    keyspace_hits: int | None = None
    keyspace_misses: int | None = None
    evicted_keys: int | None = None
    warnings: tuple[str, ...] = ()
    history: tuple[tuple[float, float | None], ...] = field(default=(), repr=False)
    window_s: float = SUCCESS_WINDOW_S

    @property
    def success_rate(self) -> float | None:
        """Answered checks / checks over the last ``window_s`` seconds (None without a check)."""
        since = time.time() - self.window_s
        recent = [latency for at, latency in self.history if at >= since]
        return sum(latency is not None for latency in recent) / len(recent) if recent else None


class RedisHealthMonitor(BackgroundLoop):
    thread_name = "redis-health"

    def __init__(self, url: str, interval_s: float = 30.0, timeout_s: float = 0.5,
                 history: int = 720, window_s: float = SUCCESS_WINDOW_S) -> None:  # fmt: skip
        super().__init__()
        self.url = url
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        kwargs = redis.connection.parse_url(url)
        self._snapshot = RedisHealth(host=str(kwargs.get("host", "")), port=int(kwargs.get("port", 6379)),
                                     window_s=window_s)  # fmt: skip
        self._history: deque = deque(maxlen=history)
        self._client: redis.Redis | None = None
        self._wake = threading.Event()

    @property
    def snapshot(self) -> RedisHealth:
        return self._snapshot

    def poke(self) -> None:
        """Check at once (from any thread, never blocks): an operation on Redis failed, or
        succeeded again after failing."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        super().stop(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            ok = self.check_once()
            # While down (or slow), check again after 1, 2, 4 … seconds, at most OFFLINE_RECHECK_S.
            failures = self._snapshot.consecutive_failures
            if ok and self._snapshot.state == "online":
                delay = self.interval_s
            else:
                delay = min(self.interval_s, OFFLINE_RECHECK_S, 2.0 ** max(0, failures - 1))
            if self._wake.wait(delay):  # poked: at once, unless the last check was a moment ago
                self._stop.wait(max(0.0, POKE_MIN_GAP_S - (time.time() - (self._snapshot.checked_at or 0.0))))

    def _connect(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(
                self.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
            )
        return self._client

    def check_once(self) -> bool:
        """One PING + INFO; updates the snapshot. Returns True when Redis answered."""
        previous = self._snapshot
        now = time.time()
        try:
            fresh = self._client is None
            client = self._connect()
            if fresh:  # connect first: the timed PING is the round trip, not the TCP handshake
                client.ping()
            started = time.perf_counter()
            client.ping()
            latency = (time.perf_counter() - started) * 1000
            info = client.info()
        except (redis.RedisError, OSError) as exc:
            if self._client is not None:
                self._client.close()
                self._client = None
            if previous.state != "offline":
                log.warning("Redis 健康检查失败 (%s:%s): %s", previous.host, previous.port, exc)
            self._history.append((now, None))
            self._snapshot = replace(
                previous, state="offline", checked_at=now, latency_ms=None, checks=previous.checks + 1,
                consecutive_failures=previous.consecutive_failures + 1, error=str(exc)[:200],
                history=tuple(self._history),
            )  # fmt: skip
            return False
        policy = info.get("maxmemory_policy")
        warnings = []
        if policy not in LRU_POLICIES:
            warnings.append(f"淘汰策略为 {policy}，建议 allkeys-lru (config/redis.conf)")
        if not info.get("maxmemory"):
            warnings.append("未设置 maxmemory，缓存可能耗尽内存")
        if warnings and warnings != list(previous.warnings):
            log.warning("Redis 配置: %s", "; ".join(warnings))
        state = "degraded" if latency > DEGRADED_LATENCY_MS else "online"
        if previous.state == "offline":
            log.info("Redis 已恢复 (%s:%s)", previous.host, previous.port)
        self._history.append((now, latency))
        self._snapshot = replace(
            previous, state=state, checked_at=now, latency_ms=latency, checks=previous.checks + 1,
            successes=previous.successes + 1, consecutive_failures=0, error=None,
            version=info.get("redis_version"), uptime_s=info.get("uptime_in_seconds"),
            used_memory=info.get("used_memory"), max_memory=info.get("maxmemory"), policy=policy,
            clients=info.get("connected_clients"), keyspace_hits=info.get("keyspace_hits"),
            keyspace_misses=info.get("keyspace_misses"), evicted_keys=info.get("evicted_keys"),
            warnings=tuple(warnings), history=tuple(self._history),
        )  # fmt: skip
        return True
