"""``serving.wsgi:server`` for another WSGI server: the app of a serving process (its allocator
and encoder settings applied, serving/worker.py), built from the environment on first access."""

from __future__ import annotations

_server = None


def __getattr__(name: str):
    global _server
    if name == "server":
        if _server is None:
            from config import Settings
            from serving.worker import build_app

            _server = build_app(Settings.from_env()).server
        return _server
    raise AttributeError(name)
