"""The three cache tiers above the database.

- ``MemoryTier`` (L1): cachetools TLRU of ready objects, bounded by entries and estimated
  bytes, TTL per entry. A hit returns the object itself: callers treat results as read-only.
- ``DiskTier`` (L2): Flask-Caching's FileSystemCache with a raw-bytes serializer (no pickle),
  shared by the processes of one host, survives restarts and Redis outages.
- ``RedisTier`` (L3): shared by every instance; short socket timeouts and a circuit breaker.

Shared tiers hold envelopes from cache.serialize. Every tier method swallows its own failures
(logged, counted) and reports a miss: only the database may fail a request.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import IO

import redis
from cachelib.serializers import BaseSerializer
from cachetools import TLRUCache
from flask_caching.backends.filesystemcache import FileSystemCache

from cache.stats import CacheStats

log = logging.getLogger(__name__)


class MemoryTier:
    def __init__(self, max_entries: int, max_bytes: int, clock=time.monotonic) -> None:
        self._cache = TLRUCache(
            maxsize=max_bytes,
            ttu=lambda _key, entry, now: now + entry[2],
            getsizeof=lambda entry: entry[1],
            timer=clock,
        )
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, key: str):
        """(found, value)."""
        with self._lock:
            entry = self._cache.get(key)
        return (False, None) if entry is None else (True, entry[0])

    def set(self, key: str, value, size: int, ttl: float) -> None:
        with self._lock:
            try:
                self._cache[key] = (value, max(1, size), ttl)
            except ValueError:  # larger than the whole tier: do not keep it in memory
                return
            while len(self._cache) > self._max_entries:
                self._cache.popitem()

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)

    @property
    def bytes_used(self) -> int:
        return int(self._cache.currsize)


class _RawBytes(BaseSerializer):
    """cachelib serializer that writes our envelope bytes as they are (never pickle).
    cachelib also stores its own file counter (an int) through it: that is written as text."""

    _COUNTER = b"#count:"

    def dump(self, value: bytes | int, f: IO[bytes], protocol: int = 0) -> None:
        f.write(self._COUNTER + str(value).encode() if isinstance(value, int) else value)

    def load(self, f: IO[bytes]) -> bytes | int:
        data = f.read()
        if data.startswith(self._COUNTER):
            return int(data[len(self._COUNTER) :])
        return data


class RawFileSystemCache(FileSystemCache):
    serializer = _RawBytes()


class DiskTier:
    def __init__(self, directory: Path, threshold: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._backend = RawFileSystemCache(str(directory), threshold=threshold, default_timeout=3600)

    def get(self, key: str) -> bytes | None:
        return self._backend.get(key) or None

    def set(self, key: str, data: bytes, ttl: int) -> bool:
        return bool(self._backend.set(key, data, timeout=ttl))

    def delete(self, key: str) -> None:
        self._backend.delete(key)

    def path_for(self, key: str) -> Path:
        return Path(self._backend._get_filename(key))

    def clear(self) -> None:
        self._backend.clear()


class CircuitBreaker:
    """Open after ``failures`` consecutive errors; let one call through after ``cooldown``."""

    def __init__(self, failures: int, cooldown: float) -> None:
        self.failures_to_open = failures
        self.cooldown = cooldown
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if time.monotonic() - self._opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        with self._lock:
            if self._opened_at is None:
                return True
            if time.monotonic() - self._opened_at >= self.cooldown:
                self._opened_at = time.monotonic()  # one probe per cooldown
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.failures_to_open:
                if self._opened_at is None:
                    log.warning("Redis cache tier: circuit opened after %d failures", self._failures)
                self._opened_at = time.monotonic()


class RedisTier:
    def __init__(self, url: str, timeout_s: float, prefix: str, breaker: CircuitBreaker,
                 stats: CacheStats) -> None:  # fmt: skip
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry_on_timeout=False
        )
        self.prefix = prefix
        self.breaker = breaker
        self._stats = stats

    def _call(self, operation, *args, **kwargs) -> tuple[bool, object]:
        """Run a Redis command through the breaker: (reached Redis, result). Failures are
        counted and only logged at debug level (the breaker logs when it opens)."""
        if not self.breaker.allow():
            return False, None
        try:
            result = operation(*args, **kwargs)
        except (redis.RedisError, OSError) as exc:
            self.breaker.failure()
            self._stats.error("l3")
            log.debug("Redis cache tier error: %s", exc)
            return False, None
        self.breaker.success()
        return True, result

    @property
    def available(self) -> bool:
        return self.breaker.state != "open"

    def get(self, key: str) -> bytes | None:
        return self._call(self.client.get, self.prefix + key)[1]

    def set(self, key: str, data: bytes, ttl: int) -> bool:
        return bool(self._call(self.client.set, self.prefix + key, data, ex=ttl)[1])

    def delete(self, key: str) -> None:
        self._call(self.client.delete, self.prefix + key)

    def acquire_lock(self, key: str, ttl_ms: int) -> bool | None:
        """True: we compute; False: another process does; None: Redis unavailable."""
        reached, result = self._call(self.client.set, f"{self.prefix}lock:{key}", b"1", nx=True, px=ttl_ms)
        return bool(result) if reached else None

    def release_lock(self, key: str) -> None:
        self._call(self.client.delete, f"{self.prefix}lock:{key}")

    def publish_version(self, version: int) -> None:
        self._call(self.client.set, f"{self.prefix}data_version", version)
