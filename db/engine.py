"""Engine construction for SQLite (embedded default) and PostgreSQL, and the bound on how long
the app's reads may wait for PostgreSQL.

A frozen server (SIGSTOP, a hung VM) keeps its kernel ACKing TCP: keepalives and
``tcp_user_timeout`` never fire and the server cannot enforce ``statement_timeout``, so a read
would wait forever. The bound is therefore kept by the client: a ``Watchdog`` gives every
checked-out connection a deadline and, once it passes, shuts the connection's socket down
(``shutdown`` acts on the socket all its descriptors share): the blocked ``recv`` returns,
psycopg2 raises OperationalError, SQLAlchemy sees a disconnect and drops the connection from
the pool. libpq's ``connect_timeout`` bounds a new connection, ``pool_timeout`` the wait for a
pooled one, ``statement_timeout`` a live but slow server and TCP keepalives a partitioned one.
Only the engine of the web app is bounded; imports, migrations and scripts build theirs without.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine import create_engine as _create_engine
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from db.errors import DataLayerError

log = logging.getLogger(__name__)

_DEADLINE = "o2o_deadline"  # connection record info: the deadline its connect started
_WATCHDOGS: weakref.WeakKeyDictionary[Engine, Watchdog] = weakref.WeakKeyDictionary()
_local = threading.local()  # ``bound``: this thread's next checkout's bound (a long read's)


def normalize_url(database_url: str):
    """``postgresql://`` means psycopg2 here (SQLAlchemy 2.1 would pick psycopg 3)."""
    url = make_url(database_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    return url


def make_engine(database_url: str, *, timeout_s: float | None = None, **kwargs: object) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout. ``timeout_s``: every
    PostgreSQL read (connect, pool wait, statement) fails after this long instead of waiting
    for a database that does not answer (see the module docstring); ``reading(engine,
    timeout_s=...)`` gives a whole-table read a longer bound."""
    url = normalize_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = _create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    connect_args: dict[str, object] = {"connect_timeout": 5, "application_name": "o2o-dashboard"}
    if timeout_s is None:
        kwargs.setdefault("pool_pre_ping", True)
        return _create_engine(url, connect_args=connect_args, **kwargs)
    kwargs.setdefault("pool_timeout", timeout_s)
    connect_args.update(
        connect_timeout=max(2, int(timeout_s)),  # libpq: whole seconds, at least 2 (set per connect below)
        options=f"-c statement_timeout={_statement_ms(timeout_s)}",
        keepalives=1, keepalives_idle=max(1, int(timeout_s)), keepalives_interval=1, keepalives_count=3,
        tcp_user_timeout=int(timeout_s * 1000),
    )  # fmt: skip
    engine = _create_engine(url, connect_args=connect_args, **kwargs)  # the watchdog pings on checkout
    _WATCHDOGS[engine] = Watchdog(engine, timeout_s)
    return engine


def _statement_ms(bound_s: float) -> int:
    """The server's own limit, a little under the client's: a live server answers with its
    clean error (the connection stays usable) before the watchdog would cut the socket."""
    return int(max(0.5, bound_s - 0.25) * 1000)


def watchdog(engine: Engine) -> Watchdog | None:
    """The watchdog of a bounded PostgreSQL engine (None for others)."""
    return _WATCHDOGS.get(engine)


def probing(engine: Engine):
    """A block whose reads try ``engine``'s database even while it counts as not answering
    (the version check, /healthz); nothing for an unbounded engine."""
    guard = _WATCHDOGS.get(engine)
    return guard.probing() if guard is not None else contextlib.nullcontext()


@dataclass
class _Armed:
    deadline: float
    sock: socket.socket  # a duplicate of the connection's descriptor: the same socket
    long: bool


class Watchdog:
    """Deadlines of the checked-out connections of one engine, and the thread that cuts the
    socket of any connection past its deadline (started on demand, gone when nothing is armed).

    A checkout's deadline is ``timeout_s`` after it began (the connect included); a long read's
    is its own bound. When a probe finds the database not answering (``database_unanswered``)
    the reads in flight are cut and new ones fail at once until a probe answers again."""

    IDLE_EXIT_S = 30.0

    def __init__(self, engine: Engine, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.cuts = 0
        self._armed: dict[int, _Armed] = {}
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._unanswered = False
        self._ping = engine.dialect.do_ping
        self._dbapi_error = engine.dialect.loaded_dbapi.OperationalError
        event.listen(engine, "do_connect", self._on_connect)
        event.listen(engine.pool, "checkout", self._on_checkout)
        for name in ("checkin", "close", "invalidate"):
            event.listen(engine.pool, name, self._on_release)

    # -- what the app tells it ----------------------------------------------------------------
    def database_unanswered(self) -> None:
        """The database did not answer a probe (the version check): cut every read in flight
        (they wait on the same server) and fail new ones at once, until a probe answers —
        so no request queues behind others that are waiting out their bound."""
        with self._wake:
            self._unanswered = True
            for key in list(self._armed):
                self._cut(key)

    def database_answered(self) -> None:
        self._unanswered = False

    @contextmanager
    def probing(self) -> Iterator[None]:
        """Reads in this block try the database even while it counts as not answering."""
        _local.probe = True
        try:
            yield
        finally:
            _local.probe = False

    # -- pool events --------------------------------------------------------------------------
    def _bound(self) -> tuple[float, bool]:
        if self._unanswered and not getattr(_local, "probe", False):
            raise self._dbapi_error("database not answering (a probe will try again within a second)")
        wanted = getattr(_local, "bound", None)
        if wanted is None or self._unanswered:
            return self.timeout_s, False
        return wanted, wanted > self.timeout_s

    def _on_connect(self, _dialect, record, _cargs, cparams) -> None:
        retry, _local.retry = getattr(_local, "retry", None), None
        bound, _long = self._bound()
        # the pool's reconnect after a failed ping keeps the checkout's deadline
        deadline = retry[1] if retry and retry[0] == id(record) else time.monotonic() + bound
        remaining = deadline - time.monotonic()
        if remaining < min(1.0, bound / 2):  # a reconnect after a ping that used the time up
            raise self._dbapi_error(f"database did not answer within {self.timeout_s:g} s")
        record.info[_DEADLINE] = deadline  # info lives as long as this DBAPI connection
        cparams["connect_timeout"] = max(2, int(remaining))

    def _on_checkout(self, dbapi_connection, record, _proxy) -> None:
        try:
            bound, long = self._bound()
        except self._dbapi_error as exc:  # not answering: the pool drops this connection, and
            raise DisconnectionError(str(exc)) from exc  # its reconnect fails the same way
        fresh = _DEADLINE in record.info  # connected for this checkout: no need to ping
        deadline = record.info.pop(_DEADLINE, None) or time.monotonic() + bound
        self._arm(id(record), dbapi_connection.fileno(), deadline, long)
        if fresh:
            return
        try:
            self._ping(dbapi_connection)  # pool_pre_ping's check, under the deadline
        except Exception as exc:
            self._disarm(id(record))
            _local.retry = (id(record), deadline)
            raise DisconnectionError(str(exc).strip()[:200]) from exc

    def _on_release(self, _dbapi_connection, record, *_rest) -> None:
        self._disarm(id(record))

    # -- the deadlines ------------------------------------------------------------------------
    def _arm(self, key: int, fd: int, deadline: float, long: bool) -> None:
        sock = socket.socket(fileno=os.dup(fd))
        with self._wake:
            old = self._armed.pop(key, None)
            self._armed[key] = _Armed(deadline, sock, long)
            if self._thread is None or not self._thread.is_alive():  # not started, or a forked child
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
            self._wake.notify()
        if old is not None:
            old.sock.close()

    def _disarm(self, key: int) -> None:
        with self._wake:
            armed = self._armed.pop(key, None)
        if armed is not None:
            armed.sock.close()

    def _cut(self, key: int) -> None:
        """Shut the socket down (caller holds the lock): the blocked read returns at once."""
        armed = self._armed.pop(key)
        with contextlib.suppress(OSError):  # closed meanwhile
            armed.sock.shutdown(socket.SHUT_RDWR)
        armed.sock.close()
        self.cuts += 1

    def _run(self) -> None:
        with self._wake:
            while True:
                if not self._armed:
                    self._wake.wait(self.IDLE_EXIT_S)
                    if not self._armed:
                        self._thread = None
                        return
                    continue
                now = time.monotonic()
                late = [key for key, armed in self._armed.items() if armed.deadline <= now]
                for key in late:
                    self._cut(key)
                if late:
                    log.warning("database: %d connection(s) cut, no answer within the bound", len(late))
                if self._armed:
                    self._wake.wait(max(0.0, min(a.deadline for a in self._armed.values()) - now))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def describe_url(database_url: str) -> str:
    """A password-free description for messages: 'postgresql 127.0.0.1:5432/test'."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite {url.database}"
    return f"{url.get_backend_name()} {url.host or 'localhost'}:{url.port or 5432}/{url.database}"


@contextmanager
def reading(engine: Engine, timeout_s: float | None = None) -> Iterator[Connection]:
    """A connection for reads; any driver failure becomes DataLayerError (a friendly page).
    ``timeout_s``: this read's bound on a bounded engine (a whole-table read: longer than the
    engine's), also as its ``statement_timeout``."""
    driver_error = engine.dialect.loaded_dbapi.Error  # a raw cursor's (COPY) are not wrapped
    long = timeout_s is not None and watchdog(engine) is not None
    try:
        _local.bound = timeout_s if long else None
        try:
            conn = engine.connect()
        finally:
            _local.bound = None
        with conn:
            if long:
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {_statement_ms(timeout_s)}")
            try:
                yield conn
            except driver_error:
                conn.invalidate()
                raise
    except (SQLAlchemyError, driver_error) as exc:
        raise DataLayerError(f"database unavailable: {exc.__class__.__name__}") from exc
