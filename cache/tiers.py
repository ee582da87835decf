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

import hashlib
import logging
import os
import re
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import redis
import redis.lock
from cachelib.serializers import BaseSerializer
from cachetools import TLRUCache
from flask_caching.backends.filesystemcache import FileSystemCache
from redis.exceptions import LockNotOwnedError

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
    """cachelib serializer that writes our envelope bytes as they are (never pickle)."""

    def dump(self, value: bytes, f: IO[bytes], protocol: int = 0) -> None:
        f.write(value)

    def load(self, f: IO[bytes]) -> bytes:
        return f.read()


class RawFileSystemCache(FileSystemCache):
    """Flask-Caching's file cache writing raw bytes (its public ``serializer`` hook)."""

    serializer = _RawBytes()


class DiskTier:
    """L2: a Flask-Caching ``FileSystemCache`` with its own threshold off (``threshold=0``: no
    count file, which cachelib reads twice and rewrites with every new value, shared by every
    worker without a lock; no pruning inside ``set``). ``prune`` bounds the directory instead,
    with plain file operations: each process estimates the files from a listing at start and
    at every prune plus the values it wrote since, and prunes before a write once past
    ``threshold``, as cachelib did (so the directory can pass it by what the other workers
    added since their last prune). cachelib's file format: a 4-byte expiry (0: never), then
    the value; file names are the SHA-256 of the key (``path_for``, checked by the tests)."""

    EXPIRY = struct.Struct("I")
    _VALUE_NAME = re.compile(r"[0-9a-f]{64}")  # not a writer's temporary file

    def __init__(self, directory: Path, threshold: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._directory = str(directory)  # os.path on a str: a read costs a stat more, not a Path
        self.threshold = threshold
        self._backend = RawFileSystemCache(str(directory), threshold=0, default_timeout=3600,
                                           hash_method=hashlib.sha256)  # fmt: skip
        self._estimate = self._count()
        self._lock = threading.Lock()
        self._pruning = threading.Lock()

    def get(self, key: str) -> bytes | None:
        filename = self._filename(key)
        try:  # a file cut inside its expiry: removed here with one line (cachelib logs a traceback)
            if os.stat(filename).st_size < self.EXPIRY.size:
                self._drop_corrupt(Path(filename), "shorter than its expiry")
                return None
        except FileNotFoundError:
            return None
        return self._backend.get(key) or None

    def set(self, key: str, data: bytes, ttl: int) -> bool:
        if self._estimate > self.threshold:
            self.prune()
        stored = bool(self._backend.set(key, data, timeout=ttl))
        if stored:
            with self._lock:  # an overwrite counts too: the next prune counts again
                self._estimate += 1
        return stored

    def delete(self, key: str) -> None:
        self._backend.delete(key)

    def path_for(self, key: str) -> Path:
        return Path(self._filename(key))

    def _filename(self, key: str) -> str:
        return os.path.join(self._directory, hashlib.sha256(key.encode()).hexdigest())

    def clear(self) -> None:
        self._backend.clear()
        with self._lock:
            self._estimate = 0

    def prune(self) -> None:
        """Remove expired and corrupt files, then the oldest (by expiry, then by write time)
        until ``threshold`` remain (the write that follows makes one more, as in cachelib). One
        thread of the process prunes at a time; the others write on."""
        if not self._pruning.acquire(blocking=False):
            return
        try:
            now, kept = time.time(), []
            for path, expires, written in self._entries():
                if expires != 0 and expires < now:
                    self._remove(path)
                else:
                    kept.append((expires, written, path))
            kept.sort()
            excess = len(kept) - self.threshold
            for _expires, _written, path in kept[: max(0, excess)]:
                self._remove(path)
            with self._lock:
                self._estimate = min(len(kept), self.threshold)
        finally:
            self._pruning.release()

    def _entries(self) -> list[tuple[Path, int, int]]:
        """(file, expiry, modification time) of every value file; corrupt ones are removed."""
        found = []
        for entry in os.scandir(self.directory):
            if not self._VALUE_NAME.fullmatch(entry.name):
                continue
            path = Path(entry.path)
            try:
                with open(path, "rb") as f:
                    header = f.read(self.EXPIRY.size)
                written = entry.stat().st_mtime_ns
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("disk cache: %s not readable (%s)", entry.name, exc)
                continue
            if len(header) < self.EXPIRY.size:
                self._drop_corrupt(path, f"{len(header)} bytes, shorter than its expiry")
                continue
            found.append((path, self.EXPIRY.unpack(header)[0], written))
        return found

    def _count(self) -> int:
        return sum(1 for entry in os.scandir(self.directory) if self._VALUE_NAME.fullmatch(entry.name))

    @staticmethod
    def _remove(path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("disk cache: could not remove %s (%s)", path.name, exc)

    def _drop_corrupt(self, path: Path, reason: str) -> None:
        log.warning("disk cache: corrupt file %s removed (%s)", path.name, reason)
        self._remove(path)


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
        # the locks this process holds, by key (one holder per key: the manager's per-key flight)
        self._held: dict[str, redis.lock.Lock] = {}
        self._held_lock = threading.Lock()

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
        """The cross-process single flight of ``key``: redis-py's ``Lock`` (SET NX PX with a
        random token), never waiting. True: we compute (until ``release_lock``, or ``ttl_ms``);
        False: another process does; None: Redis unavailable."""
        # thread_local off: the Lock object is this call's own, released through ``_held``
        lock = self.client.lock(f"{self.prefix}lock:{key}", timeout=ttl_ms / 1000, blocking=False, thread_local=False)
        reached, acquired = self._call(lock.acquire)
        if not acquired:
            return None if not reached else False
        with self._held_lock:
            self._held[key] = lock
        return True

    def release_lock(self, key: str) -> None:
        """Release this process's lock of ``key``: only while it still holds our token. A lock
        that outlived its TTL and was taken by another process is theirs and stays."""
        with self._held_lock:
            lock = self._held.pop(key, None)
        if lock is not None:
            self._call(_release, lock, key)

    def publish_version(self, version: int) -> None:
        self._call(self.client.set, f"{self.prefix}data_version", version)


def _release(lock: redis.lock.Lock, key: str) -> None:
    try:
        lock.release()  # deletes the key only if it still holds this lock's token (a Lua script)
    except LockNotOwnedError:  # Redis answered: not a failure of the tier
        log.info("cache: the lock of %s expired before its value was stored (another process may "
                 "compute it too)", key)  # fmt: skip
