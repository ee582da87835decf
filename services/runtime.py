"""Per-app runtime (settings, engine, data-version watch, read model, view cache) stored on the
Flask app, found via ``current_app``.

Pages never hold globals: a callback runs inside a Flask request, so the services find the
runtime of the app that is serving it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.exc import NoResultFound, ProgrammingError

from cache import CacheManager
from config import Settings
from db.engine import make_engine, probing, watchdog
from db.version import DatabaseStatus, DataStamp, VersionWatch, announcement_path, read_data_stamp
from monitoring import Monitors
from readmodel.tables import ReadModel

EXTENSION_KEY = "o2o_runtime"


@dataclass(frozen=True)
class Runtime:
    """``cache`` None: every view is computed (from the read model) on every call."""

    settings: Settings
    engine: Engine
    cache: CacheManager | None = None
    monitors: Monitors | None = None
    versions: VersionWatch = field(default=None)  # type: ignore[assignment]  # built when not given
    tables: ReadModel = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.versions is None:
            versions = self.cache.versions if self.cache is not None else VersionWatch(
                lambda: _read_stamp(self.engine), cold_wait_s=self.settings.db_timeout_s + 1.0,
                announced=announcement_path(self.settings.data_dir))  # fmt: skip
            object.__setattr__(self, "versions", versions)
        if self.tables is None:
            object.__setattr__(self, "tables", ReadModel.build(self.settings, self.engine, self.versions))


def _read_stamp(engine: Engine) -> DataStamp:
    with engine.connect() as conn:
        return read_data_stamp(conn)


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

    versions = VersionWatch(stamp, cold_wait_s=settings.db_timeout_s + 1.0,
                            announced=announcement_path(settings.data_dir))  # fmt: skip
    tables = ReadModel.build(settings, engine, versions)
    cache = CacheManager(settings, versions)
    cache.watch(engine)
    monitors = Monitors.from_settings(settings, lambda: {**cache.snapshot(), **tables.shared.snapshot()})
    cache.l3.on_change(monitors.redis.poke)  # a failed cache operation shows in the health at once
    return Runtime(settings=settings, engine=engine, cache=cache, monitors=monitors, versions=versions, tables=tables)


def install(flask_app, runtime: Runtime) -> None:
    flask_app.extensions[EXTENSION_KEY] = runtime


def get_runtime() -> Runtime:
    return current_app.extensions[EXTENSION_KEY]


def database_status(runtime: Runtime) -> DatabaseStatus:
    """Whether the database answered the last data-version check, and since / up to when."""
    return runtime.versions.status()
