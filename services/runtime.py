"""Per-app runtime (settings + engine) stored on the Flask app, found via ``current_app``.

Pages never hold globals: a callback runs inside a Flask request, so the services find the
runtime of the app that is serving it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Engine

from config import Settings

EXTENSION_KEY = "o2o_runtime"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine


def install(flask_app, runtime: Runtime) -> None:
    flask_app.extensions[EXTENSION_KEY] = runtime


def get_runtime() -> Runtime:
    return current_app.extensions[EXTENSION_KEY]
