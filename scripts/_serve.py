"""Production serving: Waitress in this process, or ``O2O_WORKERS`` processes sharing one socket.

One Python process runs one thread at a time (the GIL), so on a machine with several cores a
single Waitress process tops out at one core however many threads it has. With workers > 1 the
launcher binds the listening socket itself and starts that many worker processes (the ``spawn``
start method, the same on Windows and POSIX; the socket is handed over by ``multiprocessing``),
each a full app with its own Waitress threads, L1 cache and samplers, all sharing L2 (disk) and
L3 (Redis). The kernel spreads new connections over the workers. The launcher supervises them:
a worker that dies is started again (given up after RESTART_LIMIT quick deaths in a row), and
Ctrl+C / SIGTERM stops them all (SIGTERM, then killed after STOP_TIMEOUT_S). Only worker 0 runs
the cache warmer; the others read what it writes to the shared tiers.

Each serving process finishes Dash's first-request setup before it accepts, caps the open
connections of one client address, closes idle connections after the channel timeout and, on
SIGTERM, drains: requests in progress finish, requests on open connections get 503 with
``Connection: close`` (web/server.py).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from multiprocessing.connection import wait

from config import Settings
from monitoring.workers import share_metrics, worker_died
from web.server import AppServer

STOP_TIMEOUT_S = 10.0  # a worker still alive this long after SIGTERM is killed
DRAIN_TIMEOUT_S = STOP_TIMEOUT_S - 2.0  # its drain ends before, leaving time to stop the samplers
RESTART_LIMIT = 3  # a worker that dies this many times in a row within QUICK_DEATH_S: give up
QUICK_DEATH_S = 30.0
LISTEN_BACKLOG = 1024


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


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket the workers share (address reuse as Waitress does it on POSIX)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name != "nt":  # on Windows SO_REUSEADDR would let another program take the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def stop_on_first_signal() -> None:
    """SIGINT / SIGTERM stop like Ctrl+C once; any later one is ignored.

    Ctrl+C reaches every process of the console and the supervisor then sends SIGTERM too: a
    second KeyboardInterrupt would cut Waitress's wait for the requests in progress short, and a
    request finishing after its server closed writes to a closed trigger (EBADF, a traceback).
    """

    def first(_signum, _frame):
        ignore_stop_signals()
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, first)


def ignore_stop_signals() -> None:
    # A Python no-op rather than SIG_IGN: a signal already delivered but not yet handled would
    # find SIG_IGN and raise "OSError: Signal 15 ignored due to race condition" instead.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _ignore)


def _ignore(_signum, _frame) -> None:
    pass


def serve_until_stopped(server: AppServer, app, noted: list[int] | None = None) -> None:
    """Run Waitress until Ctrl+C / SIGTERM, then drain it (requests in progress finish, requests
    on open connections get 503 with ``Connection: close``; web/server.py) and stop
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
    from app import create_app

    own = dataclasses.replace(settings, cache_warm=settings.cache_warm and index == 0)
    app = create_app(own)
    serve_until_stopped(waitress_server(app, own, sockets=[sock]), app, noted=requested)


class Supervisor:
    """Starts, restarts and stops the worker processes (see the module docstring)."""

    def __init__(self, settings: Settings, sock: socket.socket, say=print) -> None:
        self.settings = settings
        self.sock = sock
        self.say = say
        self._context = multiprocessing.get_context("spawn")
        self.workers: dict[int, multiprocessing.process.BaseProcess] = {}
        self._started: dict[int, float] = {}
        self._quick_deaths: dict[int, int] = {}

    def start(self) -> None:
        share_metrics(self.settings.data_dir, self.settings.port)  # before the workers: they inherit it
        for index in range(self.settings.workers):
            self._spawn(index)

    def _spawn(self, index: int) -> None:
        process = self._context.Process(target=worker_main, args=(self.settings, self.sock, index),
                                        name=f"o2o-worker-{index}", daemon=False)  # fmt: skip
        process.start()
        self.workers[index] = process
        self._started[index] = time.monotonic()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.workers.values() if p.pid is not None]

    def run(self) -> int:
        """Watch the workers until Ctrl+C / SIGTERM (returns 0) or one keeps dying (returns 1)."""
        try:
            while True:
                sentinels = {p.sentinel: i for i, p in self.workers.items()}
                for ready in wait(list(sentinels), timeout=1.0):
                    index = sentinels[ready]
                    process = self.workers[index]
                    process.join()
                    worker_died(process.pid)  # its gauges leave /metrics, its counters stay
                    lived = time.monotonic() - self._started[index]
                    deaths = self._quick_deaths.get(index, 0) + 1 if lived < QUICK_DEATH_S else 0
                    self._quick_deaths[index] = deaths
                    if deaths >= RESTART_LIMIT:
                        self.say("❌", f"工作进程 {index} (pid {process.pid}) 连续 {deaths} 次启动后很快退出 "
                                       f"(退出码 {process.exitcode}), 停止服务")  # fmt: skip
                        return 1
                    self.say("⚠️", f"工作进程 {index} (pid {process.pid}) 退出 (退出码 {process.exitcode}), 重新启动")
                    self._spawn(index)
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()

    def stop(self) -> None:
        """SIGTERM every worker, kill those still alive after STOP_TIMEOUT_S."""
        ignore_stop_signals()
        for process in self.workers.values():
            if process.is_alive():
                process.terminate()  # SIGTERM on POSIX, TerminateProcess on Windows
        # The workers close their copies as their drain begins: with this one closed too, a new
        # connection is refused at once instead of waiting in the backlog to be reset.
        self.sock.close()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self.workers.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)


class AccessLog:
    """WSGI middleware: one stdout line per request, ``127.0.0.1 "GET /path" 200 12.3ms``
    (time until the response body is finished or, for files, handed to the server)."""

    def __init__(self, app, level: str = "INFO") -> None:
        self.app = app
        self.log = logging.getLogger("o2o.access")
        if not self.log.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(message)s"))
            self.log.addHandler(handler)
        self.log.setLevel(level)
        self.log.propagate = False

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        status = ["-"]

        def recording_start_response(status_line, headers, exc_info=None):
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        try:
            body = self.app(environ, recording_start_response)
        except BaseException:
            self._write(environ, "500", started)
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
            self._write(environ, status[0], started)  # keep Waitress's fast path for files
            return body
        return _LoggedBody(body, lambda: self._write(environ, status[0], started))

    def _write(self, environ, status: str, started: float) -> None:
        path = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        elapsed = (time.perf_counter() - started) * 1000
        self.log.info('%s "%s %s" %s %.1fms', environ.get("REMOTE_ADDR", "-"), environ.get("REQUEST_METHOD"),
                      path, status, elapsed)  # fmt: skip


class _LoggedBody:
    def __init__(self, body, on_close) -> None:
        self.body, self.on_close = body, on_close

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.on_close()
