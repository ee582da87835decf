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

import contextlib
import logging
import os
import struct
import threading
import time
from collections.abc import Callable
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
    """cachelib's file cache with our serializer and the file count kept in this process.

    cachelib keeps the count in a file of the directory that it reads twice and rewrites on
    every new value (two more file operations per write, shared by every worker without a
    lock). Here each process counts from a listing of the directory at start and at every prune
    plus the files it adds, so the directory can pass ``threshold`` by what the other workers
    added since the last prune before it is pruned."""

    serializer = _RawBytes()
    _count = 0  # set by cachelib's __init__ through _update_count

    @property
    def _file_count(self) -> int:
        return self._count

    def _update_count(self, delta: int | None = None, value: int | None = None) -> None:
        if self._threshold == 0:
            return
        # an unlocked += may lose a step between threads; the next prune counts again
        self._count = max(0, self._count + delta) if delta else (value or 0)

    def _prune(self) -> None:
        if self._over_threshold():  # count what every process added before removing any
            self._update_count(value=sum(1 for _ in self._list_dir()))
        super()._prune()

    # cachelib logs a warning with a traceback for each file it cannot parse, at every read and
    # every prune, and keeps the file. A corrupt file (cut short, a bad counter) is removed here
    # with one line and no traceback; the next write stores the value again.

    def get(self, key: str):
        filename = self._get_filename(key)
        try:
            with self._safe_stream_open(filename, "rb") as f:
                expires = self._expiry(f)
                if expires == 0 or expires >= time.time():
                    return self.serializer.load(f)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, struct.error) as exc:
            self._drop_corrupt(filename, exc)
        return None

    def _remove_expired(self, now: float) -> None:
        for filename, expires in self._expiries():
            if expires != 0 and expires < now:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(filename)
                    self._update_count(delta=-1)

    def _remove_older(self) -> bool:
        for filename, _expires in sorted(self._expiries(), key=lambda item: item[1]):
            try:
                os.remove(filename)
                self._update_count(delta=-1)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("disk cache: could not remove %s (%s)", filename, exc)
                return False
            if not self._over_threshold():
                break
        return True

    def _expiries(self) -> list[tuple[str, int]]:
        """(file, expiry) of every readable file; corrupt ones are removed."""
        found = []
        for filename in self._list_dir():
            try:
                with self._safe_stream_open(filename, "rb") as f:
                    found.append((filename, self._expiry(f)))
            except FileNotFoundError:
                pass
            except (OSError, struct.error) as exc:
                self._drop_corrupt(filename, exc)
        return found

    @staticmethod
    def _expiry(f: IO[bytes]) -> int:
        header = f.read(4)
        if len(header) < 4:
            raise struct.error(f"{len(header)} bytes, shorter than the 4-byte expiry")
        return struct.unpack("I", header)[0]

    def _drop_corrupt(self, filename: str, exc: Exception) -> None:
        log.warning("disk cache: corrupt file %s removed (%s)", os.path.basename(filename), exc)
        with contextlib.suppress(OSError):
            os.remove(filename)
            self._update_count(delta=-1)


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
        self._failing = False
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (quick, never raising) when an operation fails, and at the first
        success after a failure: the Redis health monitor checks at once."""
        self._listeners.append(listener)

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
            self._failing = True
            self._tell()
            return False, None
        self.breaker.success()
        if self._failing:
            self._failing = False
            self._tell()
        return True, result

    def _tell(self) -> None:
        for listener in self._listeners:
            listener()

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
