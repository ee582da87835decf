"""The data-version counter (bumped by every import), the database identity, and the watch that
re-reads both for the read model and the view cache."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import Connection, select, update

from config.readmodel import VERSION_CHECK_S, VERSION_WAIT_S
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
    check up to ``cold_wait_s``, then raises DataLayerError."""

    def __init__(self, reader: Callable[[], tuple[int, str]], cold_wait_s: float) -> None:
        self._reader = reader  # (version, database id) in one query: read_data_stamp
        self._cold_wait_s = cold_wait_s  # the reader fails within its own bound
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
        with self._lock:
            fresh = self._checked is not None and now - self._checked < VERSION_CHECK_S
            if fresh and self._known:
                return self._stamp
            check, started = self._check, self._check is None
            if started:
                check = self._check = threading.Event()
                self._checked = now
                threading.Thread(target=self._read, args=(check,), name="data-version-check",
                                 daemon=True).start()  # fmt: skip
            known, answering = self._known, self._unavailable_since is None
        if not known:
            if not check.wait(self._cold_wait_s) or not self._known:
                raise DataLayerError("database unavailable: the data version could not be read")
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
