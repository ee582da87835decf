"""Engine construction for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine import create_engine as _create_engine
from sqlalchemy.exc import SQLAlchemyError

from db.errors import DataLayerError


def normalize_url(database_url: str):
    """``postgresql://`` means psycopg2 here (SQLAlchemy 2.1 would pick psycopg 3)."""
    url = make_url(database_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    return url


def make_engine(database_url: str, **kwargs: object) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    url = normalize_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = _create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    connect_args = {"connect_timeout": 5, "application_name": "o2o-dashboard"}
    return _create_engine(url, connect_args=connect_args, **kwargs)


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
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads; any driver failure becomes DataLayerError (a friendly page)."""
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise DataLayerError(f"database unavailable: {exc.__class__.__name__}") from exc
