"""The data-version counter (bumped by every import), the database identity, and the watch that
re-reads both for the read model and the view cache."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, select, update

from config.readmodel import ANNOUNCED_WAIT_S, VERSION_CHECK_S, VERSION_WAIT_S
from db.errors import DataLayerError
from db.models import DataVersion

log = logging.getLogger(__name__)


class DataStamp(NamedTuple):
    """What a table or a cached value was computed from: this database (``database_id``, random
    per database) at this data ``version`` (bumped by every import)."""

    version: int
    database_id: str


def bump_data_version(conn: Connection) -> int:
    """Increment the counter inside the caller's transaction and return the new value."""
    conn.execute(
        update(DataVersion)
        .where(DataVersion.id == 1)
        .values(version=DataVersion.version + 1, updated_at=dt.datetime.now())
    )
    return read_data_version(conn)


def read_data_version(conn: Connection) -> int:
    return int(conn.execute(select(DataVersion.version).where(DataVersion.id == 1)).scalar_one())


def read_data_stamp(conn: Connection) -> DataStamp:
    """The version and the database identity, in one query (so they always belong together)."""
    row = conn.execute(select(DataVersion.version, DataVersion.database_id).where(DataVersion.id == 1)).one()
    return DataStamp(int(row.version), str(row.database_id))


ANNOUNCEMENT_FILE = "data-version"  # in the data directory, shared by the processes of a host


def announcement_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / ANNOUNCEMENT_FILE


def announce_change(data_dir: str | Path, version: int | None) -> None:
    """Tell the other processes of this host that a data change committed (call after the
    commit): their next ``VersionWatch.stamp`` re-reads the version instead of using the one
    checked less than VERSION_CHECK_S ago. A new file each time (its inode changes), so coarse
    file-system clocks cannot hide two changes within one tick. Failures only log: the change
    is then seen within VERSION_CHECK_S, as on another host."""
    path = announcement_path(data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        temp.write_text(f"{version}\n", encoding="utf-8")
        os.replace(temp, path)
    except OSError:
        log.warning("could not announce data version %s in %s", version, path, exc_info=True)


def _announcement(path: Path | None) -> tuple[int, int] | None:
    """Which announcement ``path`` holds (inode, mtime): a stat, no read."""
    if path is None:
        return None
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns


class DatabaseStatus(NamedTuple):
    available: bool  # the last version check answered (or none has failed yet)
    unavailable_since: float | None  # time.time() of the first failed check, while failing
    confirmed_at: float | None  # time.time() of the last answered check: cached data is from then


class VersionWatch:
    """(data version, database id) of one database, re-read together at most every
    VERSION_CHECK_S seconds: a database swapped or re-created under a running app is seen like
    an import. The read model's tables and the cache's keys both carry it.

    No request waits for the database here: one thread checks (in the background) while the
    others use the last known stamp; the thread that started the check waits for it
    VERSION_WAIT_S at most, and not at all while the database is known not to answer. So
    cached views keep being served from the last known version while the database does not
    answer (``status`` says since when). Before any stamp is known a request waits for the
    check up to ``cold_wait_s``, then raises DataLayerError.

    A change committed by a process of this host (``announce_change`` into ``announced``) is
    seen by the very next request: the stamp is re-read at once and the request waits for it up
    to ANNOUNCED_WAIT_S, so a page opened after an import says 成功 shows the imported data."""

    def __init__(self, reader: Callable[[], tuple[int, str]], cold_wait_s: float,
                 announced: Path | None = None) -> None:  # fmt: skip
        self._reader = reader  # (version, database id) in one query: read_data_stamp
        self._cold_wait_s = cold_wait_s  # the reader fails within its own bound
        self._announced = announced
        self._heard = _announcement(announced)  # the announcement the last check started after
        self._news: threading.Event | None = None  # set when a check started for news ends
        self._stamp = DataStamp(0, "")
        self._known = False  # a check has answered since start
        self._checked: float | None = None
        self._lock = threading.Lock()
        self._check: threading.Event | None = None  # set when the check in flight ends
        self._unavailable_since: float | None = None  # wall clock: first failed check of a run
        self._confirmed_at: float | None = None  # wall clock: last answered check
        self._listeners: list[Callable[[DataStamp], None]] = []

    def on_change(self, listener: Callable[[DataStamp], None]) -> None:
        """Call ``listener`` (quick, never raising) with every new stamp a check reads."""
        self._listeners.append(listener)

    @property
    def last(self) -> DataStamp:
        """The last known stamp (no I/O)."""
        return self._stamp

    def stamp(self) -> DataStamp:
        now = time.monotonic()
        heard = _announcement(self._announced)
        with self._lock:
            news = heard != self._heard
            fresh = self._checked is not None and now - self._checked < VERSION_CHECK_S and not news
            if fresh and self._known and self._news is None:
                return self._stamp
            if fresh and self._known:
                check, started = self._news, False  # a check for news is in flight: wait for it too
            else:
                check, started = self._check, self._check is None
                if started:
                    check = self._check = threading.Event()
                    self._checked = now
                    threading.Thread(target=self._read, args=(check,), name="data-version-check",
                                     daemon=True).start()  # fmt: skip
                    if news:
                        self._heard, self._news = heard, check
            known, answering = self._known, self._unavailable_since is None
            for_news = check is self._news
        if not known:
            if not check.wait(self._cold_wait_s) or not self._known:
                raise DataLayerError("database unavailable: the data version could not be read")
        elif (for_news or news) and answering:
            # a check that started before the announcement may have read the version before
            # the commit: once it ends, the next call starts one for the news
            if check.wait(ANNOUNCED_WAIT_S) and news and not for_news:
                return self.stamp()
        elif started and answering:
            check.wait(VERSION_WAIT_S)
        return self._stamp

    def _read(self, done: threading.Event) -> None:
        try:
            version, database = self._reader()
            stamp = DataStamp(int(version), str(database))
        except Exception:  # the database is down: the last known version stays in use
            with self._lock:
                first = self._unavailable_since is None
                if first:
                    self._unavailable_since = time.time()
                self._checked = time.monotonic()  # next check one interval after this one
                self._check = None
                if self._news is done:
                    self._news = None
            if first:
                log.warning("could not read the data version; serving the last known one", exc_info=True)
            done.set()
            return
        with self._lock:
            changed = stamp != self._stamp
            recovered = self._unavailable_since is not None
            self._stamp, self._known = stamp, True
            self._confirmed_at, self._unavailable_since = time.time(), None
            self._check = None
            if self._news is done:
                self._news = None
        done.set()
        if recovered:
            log.warning("the database answers again (data version %s)", stamp.version)
        if changed:
            for listener in self._listeners:
                listener(stamp)

    def status(self) -> DatabaseStatus:
        """Whether the last version check answered, and the wall-clock times that say since
        when it does not and up to when the data in use was confirmed current (no I/O)."""
        with self._lock:
            return DatabaseStatus(self._unavailable_since is None, self._unavailable_since, self._confirmed_at)
