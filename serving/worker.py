"""One serving process: Waitress for the app, until Ctrl+C / SIGTERM.

Each serving process (the launcher's own with ``O2O_WORKERS=1``, else each worker of the
supervisor) applies the process settings (Arrow and glibc allocators, the one-pass JSON encoder
of Dash responses), builds the app, finishes Dash's first-request setup before it accepts, caps
the open connections of one client address, closes idle connections after the channel timeout
and, on SIGTERM, drains: requests in progress finish, requests on open connections get 503 with
``Connection: close`` (serving/server.py).
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import socket
import threading
import time

from config import Settings
from serving import encoding
from serving.access_log import AccessLog
from serving.memory import tune_malloc, use_system_allocator_for_arrow
from serving.server import AppServer
from serving.signals import ignore_stop_signals

STOP_TIMEOUT_S = 10.0  # a worker still alive this long after SIGTERM is killed
DRAIN_TIMEOUT_S = STOP_TIMEOUT_S - 2.0  # its drain ends before, leaving time to stop the samplers


def configure_process() -> None:
    """Process-wide settings of a serving process, before its app and threads exist: Arrow on the
    system allocator, glibc's arenas and mmap threshold (serving/memory.py), Dash responses
    encoded in one orjson pass (serving/encoding.py)."""
    use_system_allocator_for_arrow()
    tune_malloc()
    encoding.install()


def build_app(settings: Settings, **options):
    """The app of a serving process, after :func:`configure_process`."""
    from app import create_app

    configure_process()
    return create_app(settings, **options)


def waitress_server(app, settings: Settings, **bind) -> AppServer:
    """Waitress for ``app`` with the settings' threads, connection limits and idle timeout and the
    access log; ``bind`` is host/port or sockets=[...]. Dash's setup is finished first."""
    finish_dash_setup(app)
    QueueWarningDigest.install()
    return AppServer(
        AccessLog(app.server, settings.log_level),
        threads=settings.waitress_threads,
        connection_limit=settings.waitress_connection_limit,
        # poll() instead of select(): select() cannot watch more than 1,024 descriptors
        asyncore_use_poll=True,
        # above every route's own limit (web/limits.py): an import upload is not cut short here
        max_request_body_size=settings.max_request_bytes,
        ident="o2o-dashboard",
        # an idle connection (no request in progress) is closed after this; the check runs every
        # cleanup_interval, so an idle socket lives channel_timeout .. 1.5 x channel_timeout
        channel_timeout=settings.waitress_channel_timeout_s,
        cleanup_interval=max(1, min(30, settings.waitress_channel_timeout_s // 2)),
        per_client_limit=settings.max_connections_per_client,
        drain_timeout_s=DRAIN_TIMEOUT_S,
        **bind,
    )


def finish_dash_setup(app) -> None:
    """Run Dash's first-request setup alone, before the server accepts.

    Dash finishes its setup on the first request: ``_setup_server`` (copies the page callbacks
    into the callback map, walks assets/) and the pages router (registers its callback) are
    Flask before_request hooks that mark themselves done *before* doing the work. The first
    concurrent requests of a fresh process got 500 "Callback function not found" or "dictionary
    changed size during iteration". One GET of the index through Flask's test client runs both
    hooks to the end (and renders the index once) in this thread.
    """
    response = app.server.test_client().get(app.config.requests_pathname_prefix)
    if response.status_code != 200:
        raise RuntimeError(f"Dash 启动检查失败: GET {app.config.requests_pathname_prefix} → {response.status}")


class QueueWarningDigest(logging.Filter):
    """Waitress warns "Task queue depth is N" for every request that waits for a busy thread
    (3,800 lines in 30 s at 200 users, each through the log's lock). One line passes per
    ``interval_s`` and says how many were held back and the deepest queue among them."""

    LOGGER = "waitress.queue"

    def __init__(self, interval_s: float = 10.0, clock=time.monotonic) -> None:
        super().__init__()
        self.interval_s, self.clock = interval_s, clock
        self._lock = threading.Lock()
        self._last: float | None = None
        self._held = self._deepest = 0

    @classmethod
    def install(cls, interval_s: float = 10.0) -> None:
        logger = logging.getLogger(cls.LOGGER)
        if not any(isinstance(f, cls) for f in logger.filters):
            logger.addFilter(cls(interval_s))

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        depth = args[0] if args and isinstance(args[0], int) else 0
        with self._lock:
            now = self.clock()
            if self._last is not None and now - self._last < self.interval_s:
                self._held += 1
                self._deepest = max(self._deepest, depth)
                return False
            record.msg = "Waitress 请求排队: 队列深度 %d (所有线程忙); 上条报告后另有 %d 次排队, 最深 %d"
            record.args = (depth, self._held, max(self._deepest, depth))
            self._last, self._held, self._deepest = now, 0, 0
        return True


def serve_until_stopped(server: AppServer, app, noted: list[int] | None = None) -> None:
    """Run Waitress until Ctrl+C / SIGTERM, then drain it (requests in progress finish, requests
    on open connections get 503 with ``Connection: close``; serving/server.py) and stop
    the app's samplers. ``noted``: signals that came before (the server closes without serving).

    The handler only sets a flag that the server's loop reads: a KeyboardInterrupt raised in the
    middle of Waitress's loop ended it with its connections cut and its queue cancelled."""
    from app import stop_app

    def stop(_signum, _frame) -> None:
        ignore_stop_signals()  # Ctrl+C reaches the whole group and the supervisor sends SIGTERM too
        server.request_stop()

    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stop)
        if noted:  # read after the handler is in place: no signal falls between the two
            server.request_stop()
        server.run()
    finally:
        ignore_stop_signals()
        server.close()
        stop_app(app)


def worker_main(settings: Settings, sock: socket.socket, index: int) -> None:
    """One serving process (the target of each worker)."""
    # The supervisor's SIGTERM (or a console's Ctrl+C) may come while the worker still starts: a
    # KeyboardInterrupt inside Thread.start() breaks the threading module's locks (RuntimeError,
    # a traceback). So signals are only noted until Waitress runs.
    requested: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: requested.append(number))
    own = dataclasses.replace(settings, cache_warm=settings.cache_warm and index == 0)
    app = build_app(own)
    serve_until_stopped(waitress_server(app, own, sockets=[sock]), app, noted=requested)
