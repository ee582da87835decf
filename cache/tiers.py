"""The three cache tiers above the database.

- ``MemoryTier`` (L1): cachetools TLRU of ready objects, bounded by entries and estimated
  bytes, TTL per entry. A hit returns the object itself: callers treat results as read-only.
- ``DiskTier`` (L2): Flask-Caching's FileSystemCache with a raw-bytes serializer (no pickle),
  shared by the processes of one host, survives restarts and Redis outages.
- ``RedisTier`` (L3): shared by every instance; short socket timeouts and a circuit breaker.
- ``MappedFileTier``: DataFrames of a "mapped" region (the pieces) as uncompressed Arrow IPC
  files that each process memory-maps: the host's workers share one copy in the page cache
  and read it without decoding (numeric columns are views of the mapping, read-only). The file
  name carries the data version and the database identity (pruning keeps other databases' files).

Shared tiers hold envelopes from cache.serialize. Every tier method swallows its own failures
(logged, counted) and reports a miss: only the database may fail a request.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
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


class MappedFileTier:
    """``<directory>/v<version>-<database id>-<key>.arrow``: written once (a temporary file
    renamed into place, so a reader never sees half a file), then memory-mapped by every process
    that reads it. When a new one is written, the files of earlier data versions of the same
    database are removed, and those of other databases (an instance on another database sharing
    the data directory, or a database since re-created) once unused for ``other_max_age``
    seconds: a process still mapping one keeps its pages until it lets go, a process that needs
    it again computes it again (Windows refuses the removal: retried later). There is no TTL:
    the files of the current version are what every view reads."""

    SUFFIX = ".arrow"

    def __init__(self, directory: Path, other_max_age: float) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.other_max_age = other_max_age

    def path_for(self, key: str, version: int, database: str) -> Path:
        return self.directory / f"v{version}-{database}-{key}{self.SUFFIX}"

    def load(self, key: str, version: int, database: str) -> pd.DataFrame | None:
        """The mapped frame, or None when there is no such file. A file Arrow cannot read is
        removed and reported as missing (raises nothing)."""
        path = self.path_for(key, version, database)
        try:
            table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
            frame = table.to_pandas(split_blocks=True)
        except FileNotFoundError:
            return None
        except (OSError, pa.ArrowException) as exc:
            log.warning("mapped cache: unreadable %s dropped (%s)", path.name, exc)
            self._remove(path)
            return None
        with contextlib.suppress(OSError):  # in use: not pruned as unused by another database's instance
            os.utime(path)
        return frame

    def save(self, key: str, version: int, database: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Write ``frame`` and return it mapped from the file (the caller drops its own copy)."""
        path = self.path_for(key, version, database)
        table = pa.Table.from_pandas(frame)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            with pa.OSFile(str(temporary), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            os.replace(temporary, path)
        finally:
            self._remove(temporary)
        del table
        self.prune(version, database)
        mapped = self.load(key, version, database)
        return frame if mapped is None else mapped

    def prune(self, version: int, database: str) -> None:
        """Remove the files of ``database`` of earlier data versions (a process that has not seen
        the new version yet may still write its own: removed by the next prune), and files of
        other databases (or named before the database was in the name) unused for
        ``other_max_age`` seconds: another instance may be reading them."""
        unused_since = time.time() - self.other_max_age
        for path in self.directory.glob(f"v*{self.SUFFIX}"):
            written, owner = self._written_by(path)
            if owner == database:
                if written < version:
                    self._remove(path)
                continue
            with contextlib.suppress(OSError):  # removed meanwhile by another process
                if path.stat().st_mtime < unused_since:
                    self._remove(path)

    def _written_by(self, path: Path) -> tuple[int, str | None]:
        """(data version, database id) from a file's name; database None for a name without one."""
        parts = path.name[1 : -len(self.SUFFIX)].split("-", 2)
        if len(parts) < 3 or not parts[0].isdigit():
            return 0, None
        return int(parts[0]), parts[1]

    def clear(self) -> None:
        for path in self.directory.glob(f"v*{self.SUFFIX}"):
            self._remove(path)

    @staticmethod
    def _remove(path: Path) -> None:
        with contextlib.suppress(OSError):  # mapped on Windows: removed by a later prune
            path.unlink(missing_ok=True)


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
