"""Per-app runtime (settings + engine) stored on the Flask app, found via ``current_app``.

Pages never hold globals: a callback runs inside a Flask request, so the services find the
runtime of the app that is serving it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import Engine

from cache import CacheManager
from config import Settings
from db.engine import make_engine
from db.version import DataStamp, read_data_stamp
from monitoring import Monitors

EXTENSION_KEY = "o2o_runtime"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    cache: CacheManager | None = None
    monitors: Monitors | None = None


def build_runtime(settings: Settings, peer_dir: Path | None = None) -> Runtime:
    """Engine and cache for ``settings``; nothing connects until first use. ``peer_dir``: this
    process is one worker of several, sharing its counters there."""
    engine = make_engine(settings.database_url)

    def stamp() -> DataStamp:
        with engine.connect() as conn:
            return read_data_stamp(conn)

    cache = CacheManager(settings, stamp)
    cache.watch(engine)
    monitors = Monitors.from_settings(settings, cache.snapshot, peer_dir)
    cache.l3.on_change(monitors.redis.poke)  # a failed cache operation shows in the health at once
    return Runtime(settings=settings, engine=engine, cache=cache, monitors=monitors)


def install(flask_app, runtime: Runtime) -> None:
    flask_app.extensions[EXTENSION_KEY] = runtime


def get_runtime() -> Runtime:
    return current_app.extensions[EXTENSION_KEY]
