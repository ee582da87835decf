"""The host's copy of the read model's tables: uncompressed Arrow IPC files under
``<data_dir>/tables`` that every worker process memory-maps, so the host's workers share one copy
in the page cache and read it without decoding (numeric columns are read-only views of the
mapping). The file name carries the data version and the database identity.

``SharedTables`` keeps each process's current frames; a table missing on the host is loaded by
one process while the others wait for its file (a host-local file lock, ``filelock``: the files
are per host, so is the lock); ``ArrowFileStore`` writes and checks the files.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
from filelock import FileLock, Timeout

from db.version import DataStamp

log = logging.getLogger(__name__)


class SharedTables:
    """Per process: the frames of the current data stamp, each mapped from the host's file;
    a frame is loaded (``load``) once per host and data stamp."""

    def __init__(self, directory: Path, other_max_age: float, wait_s: float) -> None:
        self.files = ArrowFileStore(directory, other_max_age)
        self.wait_s = wait_s
        self._frames: dict[str, tuple[DataStamp, pd.DataFrame]] = {}  # name → (stamp, frame)
        self._frames_lock = threading.Lock()
        self._flights: dict[str, threading.Lock] = {}
        self._flights_lock = threading.Lock()

    def get(self, name: str, stamp: DataStamp, load: Callable[[], pd.DataFrame],
            elsewhere: Callable[[], bool] | None = None) -> pd.DataFrame:  # fmt: skip
        """This process's frame of ``name`` at ``stamp``, else the host's file, else the file
        ``elsewhere()`` had another process write (when it says so), else ``load()`` written to
        the file (by one process of the host while the others wait for it)."""
        found = self._frames.get(name)
        if found is not None and found[0] == stamp:
            return found[1]
        with self._flights_lock:
            flight = self._flights.setdefault(name, threading.Lock())
        with flight:  # one thread of the process
            found = self._frames.get(name)
            if found is not None and found[0] == stamp:
                return found[1]
            frame = self.files.load(name, *stamp)
            if frame is None:
                frame = self._load_once_per_host(name, stamp, load, elsewhere)
            with self._frames_lock:  # frames of older versions or another database are let go
                self._frames = {k: v for k, v in self._frames.items()
                                if v[0].database_id == stamp.database_id and v[0].version >= stamp.version}  # fmt: skip
                self._frames[name] = (stamp, frame)
            return frame

    def _load_once_per_host(self, name: str, stamp: DataStamp, load: Callable[[], pd.DataFrame],
                            elsewhere: Callable[[], bool] | None) -> pd.DataFrame:  # fmt: skip
        lock = FileLock(self.files.directory / f".{name}.lock", timeout=self.wait_s)
        try:
            with lock:  # another process may have written it while this one waited
                frame = self.files.load(name, *stamp)
                if frame is None and elsewhere is not None and elsewhere():
                    frame = self.files.load(name, *stamp)
                return frame if frame is not None else self._written(name, stamp, load())
        except Timeout:  # the process holding the lock is stuck: load without it
            log.warning("table %s: no file after %.0f s of waiting; loaded by this process", name, self.wait_s)
            return self._written(name, stamp, load())

    def _written(self, name: str, stamp: DataStamp, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` as mapped from its new file (kept as it is when it cannot be written)."""
        try:
            return self.files.save(name, *stamp, frame)
        except Exception:
            log.warning("table %s kept in this process only", name, exc_info=True)
            return frame

    def snapshot(self) -> dict:
        """Tables this process maps and their bytes (no I/O)."""
        with self._frames_lock:
            frames = [frame for _, frame in self._frames.values()]
        return {"mapped_entries": len(frames),
                "mapped_bytes": sum(int(f.memory_usage(index=False, deep=False).sum()) for f in frames)}  # fmt: skip

    def clear(self) -> None:
        with self._frames_lock:
            self._frames = {}
        self.files.clear()


class ArrowFileStore:
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
    file keeps the old inode); the app never opens a table file for writing. The file is the Arrow
    IPC file followed by a trailer (``TRAILER``: magic, Arrow length, CRC-32 of the Arrow bytes,
    a digest of the file's own name), checked with read() before the file is mapped, so a file
    that is short, garbage, or another table's file renamed onto this name is dropped with one
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
                except (_BadFileError, OSError, pa.ArrowException) as exc:
                    log.warning("table file: %s dropped and computed again (%s)", path.name, exc)
                    self._remove_if_same(path, os.fstat(file.fileno()))
                    return None
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("table file: %s not readable (%s)", path.name, exc)
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
            raise _BadFileError(f"{before.st_size} bytes, too short")
        file.seek(length)
        magic, arrow_length, checksum, tag = self.TRAILER.unpack(file.read(self.TRAILER.size))
        if magic != self.MAGIC:
            raise _BadFileError("no table trailer (written by another program or an earlier release)")
        if arrow_length != length:
            raise _BadFileError(f"{before.st_size} bytes, the trailer says {arrow_length + self.TRAILER.size}")
        if tag != _name_tag(name):
            raise _BadFileError("written for another name")
        file.seek(0)
        if _crc32(file, length, self._CHUNK) != checksum:
            raise _BadFileError("checksum mismatch")
        mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        after = os.fstat(file.fileno())
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):  # written meanwhile
            mapping.close()
            raise _BadFileError("changed while it was checked")
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
            log.warning("table file: %s written but not readable; kept in this process", path.name)
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


class _BadFileError(Exception):
    """A table file that fails the check before mapping."""


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
            raise _BadFileError("shorter than its trailer says")
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


