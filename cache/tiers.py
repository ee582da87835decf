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
import hashlib
import logging
import mmap
import os
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
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


class MappedFileTier:
    """``<directory>/v<version>-<database id>-<key>.arrow``: written once, then memory-mapped by
    every process that reads it. When a new one is written, the files of earlier data versions
    of the same database are removed, and those of other databases (an instance on another
    database sharing the data directory, or a database since re-created) once unused for
    ``other_max_age`` seconds: a process still mapping one keeps its pages until it lets go, a
    process that needs it again computes it again (Windows refuses the removal: retried later).
    There is no TTL: the files of the current version are what every view reads.

    A mapped file must never change in place: a page of it that is gone (the file truncated
    under the mapping) kills the process with SIGBUS. So a file is written under a temporary
    name beside it, fsynced, made read-only and renamed into place (a process mapping the old
    file keeps the old inode); the app never opens a piece for writing. The file is the Arrow
    IPC file followed by a trailer (``TRAILER``: magic, Arrow length, CRC-32 of the Arrow bytes,
    a digest of the file's own name), checked with read() before the file is mapped, so a file
    that is short, garbage, or another piece's file renamed onto this name is dropped with one
    log line and computed again instead of being mapped."""

    SUFFIX = ".arrow"
    MAGIC = b"O2OPIEC1"
    TRAILER = struct.Struct("<8sQI16s")  # magic, Arrow bytes, CRC-32 of them, blake2b-128 of the name
    _CHUNK = 1 << 20  # bytes per read() while checking

    def __init__(self, directory: Path, other_max_age: float) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.other_max_age = other_max_age

    def path_for(self, key: str, version: int, database: str) -> Path:
        return self.directory / f"v{version}-{database}-{key}{self.SUFFIX}"

    def load(self, key: str, version: int, database: str) -> pd.DataFrame | None:
        """The mapped frame, or None when there is no such file. A file that fails the check is
        removed and reported as missing (one warning; raises nothing)."""
        path = self.path_for(key, version, database)
        try:
            with open(path, "rb") as file:
                try:
                    frame = self._checked_map(file, path.name)
                except (_BadPieceError, OSError, pa.ArrowException) as exc:
                    log.warning("mapped cache: %s dropped and computed again (%s)", path.name, exc)
                    self._remove_if_same(path, os.fstat(file.fileno()))
                    return None
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("mapped cache: %s not readable (%s)", path.name, exc)
            return None
        with contextlib.suppress(OSError):  # in use: not pruned as unused by another database's instance
            os.utime(path, ns=(time.time_ns(), path.stat().st_mtime_ns))  # the access time only
        return frame

    def _checked_map(self, file: IO[bytes], name: str) -> pd.DataFrame:
        """The frame mapped from ``file`` once its size, trailer and checksum are right. The
        check reads (a file cut short meanwhile only shortens a read); the mapping is of the
        same open file, and the file must not have changed while it was checked."""
        before = os.fstat(file.fileno())
        length = before.st_size - self.TRAILER.size
        if length <= 0:
            raise _BadPieceError(f"{before.st_size} bytes, too short")
        file.seek(length)
        magic, arrow_length, checksum, tag = self.TRAILER.unpack(file.read(self.TRAILER.size))
        if magic != self.MAGIC:
            raise _BadPieceError("no piece trailer (written by another program or an earlier release)")
        if arrow_length != length:
            raise _BadPieceError(f"{before.st_size} bytes, the trailer says {arrow_length + self.TRAILER.size}")
        if tag != _name_tag(name):
            raise _BadPieceError("written for another name")
        file.seek(0)
        if _crc32(file, length, self._CHUNK) != checksum:
            raise _BadPieceError("checksum mismatch")
        mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        after = os.fstat(file.fileno())
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):  # written meanwhile
            mapping.close()
            raise _BadPieceError("changed while it was checked")
        return self._frame(mapping, length)

    @staticmethod
    def _frame(mapping: mmap.mmap, length: int) -> pd.DataFrame:
        """Numeric columns are read-only views of ``mapping`` (kept open by the frame's buffers)."""
        body = pa.py_buffer(mapping).slice(0, length)
        return pa.ipc.open_file(body).read_all().to_pandas(split_blocks=True)

    def save(self, key: str, version: int, database: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Write ``frame`` and return it mapped from the file (the caller drops its own copy)."""
        path = self.path_for(key, version, database)
        table = pa.Table.from_pandas(frame)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        self._remove(temporary)  # left by a process that died with this pid and thread id
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                                 0o444 if os.name != "nt" else 0o644)  # fmt: skip
            with open(descriptor, "wb") as out:
                sink = _Checksummed(out)
                with pa.PythonFile(sink, mode="w") as stream, pa.ipc.new_file(stream, table.schema) as writer:
                    writer.write_table(table)
                out.write(self.TRAILER.pack(self.MAGIC, sink.size, sink.crc, _name_tag(path.name)))
                out.flush()
                os.fsync(out.fileno())
            if os.name == "nt":  # Windows renames no file a process holds open: map it by its name
                os.replace(temporary, path)
                mine = open(path, "rb")  # noqa: SIM115 (closed below)
            else:  # map what this process wrote, whatever the name holds next
                mine = open(temporary, "rb")  # noqa: SIM115 (closed below)
                try:
                    os.replace(temporary, path)
                    _fsync_directory(self.directory)
                except OSError:
                    mine.close()
                    raise
            with mine:
                mapping = mmap.mmap(mine.fileno(), 0, access=mmap.ACCESS_READ)
        finally:
            self._remove(temporary)
        del table
        self.prune(version, database)
        try:
            return self._frame(mapping, sink.size)
        except (OSError, pa.ArrowException):
            log.warning("mapped cache: %s written but not readable; kept in this process", path.name)
            return frame

    def prune(self, version: int, database: str) -> None:
        """Remove the files of ``database`` of earlier data versions (a process that has not seen
        the new version yet may still write its own: removed by the next prune), and files of
        other databases (or named before the database was in the name) unused for
        ``other_max_age`` seconds (their access time, set by each load; never the modification
        time, which the check before mapping compares): another instance may be reading them."""
        unused_since = time.time() - self.other_max_age
        for path in self.directory.glob(f"v*{self.SUFFIX}"):
            written, owner = self._written_by(path)
            if owner == database:
                if written < version:
                    self._remove(path)
                continue
            with contextlib.suppress(OSError):  # removed meanwhile by another process
                if path.stat().st_atime < unused_since:  # set by every load
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

    def _remove_if_same(self, path: Path, checked: os.stat_result) -> None:
        """Remove ``path`` unless another process has meanwhile renamed a new file onto it."""
        with contextlib.suppress(OSError):
            now = path.stat()
            if (now.st_dev, now.st_ino) == (checked.st_dev, checked.st_ino):
                self._remove(path)


class _BadPieceError(Exception):
    """A pieces file that fails the check before mapping."""


class _Checksummed:
    """A binary file for ``pa.PythonFile`` that keeps the CRC-32 and size of what passes through."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.crc, self.size, self.closed = out, 0, 0, False

    def write(self, data) -> int:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        return self.out.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        self.closed = True  # the caller closes ``out`` after the trailer


def _name_tag(name: str) -> bytes:
    return hashlib.blake2b(name.encode(), digest_size=16).digest()


def _crc32(file: IO[bytes], length: int, chunk: int) -> int:
    """CRC-32 of the first ``length`` bytes of ``file`` (read from its position); a file shorter
    than that has no right checksum."""
    crc, left, buffer = 0, length, bytearray(min(chunk, max(length, 1)))
    view = memoryview(buffer)
    while left > 0:
        got = file.readinto(view[: min(chunk, left)])
        if not got:
            raise _BadPieceError("shorter than its trailer says")
        crc = zlib.crc32(view[:got], crc)
        left -= got
    return crc


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX; Windows cannot open a directory)."""
    if os.name == "nt":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


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
