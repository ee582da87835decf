"""Per-app runtime (settings + engine) stored on the Flask app, found via ``current_app``.

Pages never hold globals: a callback runs inside a Flask request, so the services find the
runtime of the app that is serving it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.exc import NoResultFound, ProgrammingError

from cache import CacheManager
from cache.manager import DatabaseStatus
from config import Settings
from db.engine import make_engine, probing, watchdog
from db.version import DataStamp, read_data_stamp
from monitoring import Monitors

EXTENSION_KEY = "o2o_runtime"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    cache: CacheManager | None = None
    monitors: Monitors | None = None


def build_runtime(settings: Settings) -> Runtime:
    """Engine and cache for ``settings``; nothing connects until first use. Every read waits for
    the database at most ``db_timeout_s`` (``db.engine.Watchdog``)."""
    engine = make_engine(settings.database_url, timeout_s=settings.db_timeout_s)
    guard = watchdog(engine)

    def stamp() -> DataStamp:
        """The version check doubles as the database's liveness check (once per second)."""
        try:
            with probing(engine), engine.connect() as conn:
                found = read_data_stamp(conn)
        except Exception as exc:
            if guard is not None and not isinstance(exc, (ProgrammingError, NoResultFound)):  # else it answered
                guard.database_unanswered()
            raise
        if guard is not None:
            guard.database_answered()
        return found

    cache = CacheManager(settings, stamp)
    cache.watch(engine)
    monitors = Monitors.from_settings(settings, cache.snapshot)
    cache.l3.on_change(monitors.redis.poke)  # a failed cache operation shows in the health at once
    return Runtime(settings=settings, engine=engine, cache=cache, monitors=monitors)


def install(flask_app, runtime: Runtime) -> None:
    flask_app.extensions[EXTENSION_KEY] = runtime


def get_runtime() -> Runtime:
    return current_app.extensions[EXTENSION_KEY]


def database_status(runtime: Runtime) -> DatabaseStatus | None:
    """Whether the database answered the last check, and since / up to when (None: no cache,
    every view reads the database itself and says so when it cannot)."""
    return runtime.cache.database_status() if runtime.cache is not None else None
