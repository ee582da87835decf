"""Real Waitress for the tests: the production launcher as a subprocess on a free port (waited
for on /healthz; its output goes to a log file next to its data directory, quoted in the error
when it does not come up), or Waitress serving an app from a thread of the test process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from config import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def waitress_in_thread(wsgi_app, threads: int = 4, make_server=None):
    """Waitress serving ``wsgi_app`` on 127.0.0.1 from a thread; yields the server
    (``effective_port``) and stops it from its own loop thread, then joins that thread.
    ``make_server``: builds the server instead (e.g. the launcher's ``waitress_server``)."""
    import waitress
    from waitress import wasyncore

    if make_server is not None:
        server = make_server()
    else:
        server = waitress.create_server(wsgi_app, host="127.0.0.1", port=0, threads=threads)
    loop = threading.Thread(target=server.run, name="waitress-loop", daemon=True)
    loop.start()
    if hasattr(server, "request_stop"):  # serving.server.AppServer: its own draining stop
        try:
            yield server
        finally:
            server.request_stop()
            loop.join(timeout=15)
            assert not loop.is_alive(), "the app server's loop thread did not stop"
        return

    def stop() -> None:
        # Runs in the loop thread (closing sockets from another thread races with poll()). The
        # trigger only leaves the map (the loop ends once the map is empty): a thunk can run
        # before pull_trigger has written to the pipe that scheduled it, so closing the pipe here
        # made that write fail with EBADF. BaseWSGIServer.close would close the trigger too.
        server.trigger.del_channel()
        wasyncore.dispatcher.close(server)
        wasyncore.close_all(server._map)

    try:
        yield server
    finally:
        server.trigger.pull_trigger(stop)
        loop.join(timeout=10)
        server.task_dispatcher.shutdown()
        server.trigger.close()
        assert not loop.is_alive(), "Waitress's loop thread did not stop"


def app_env(data_dir: Path, database_url: str, redis_url: str, port: int, **extra: str) -> dict[str, str]:
    """The process environment of an instance: no inherited O2O_* values, a small demo, samplers
    on a short beat (so liveness and Redis state are visible within seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2O_")}
    env.update(
        O2O_DATA_DIR=str(data_dir),
        O2O_DATABASE_URL=database_url,
        O2O_REDIS_URL=redis_url,
        O2O_PORT=str(port),
        O2O_DEMO_STORES="2",
        O2O_DEMO_DAYS="14",
        O2O_REDIS_CHECK_INTERVAL_S="1",
        O2O_SYSTEM_POLL_INTERVAL_S="1",
        O2O_WAITRESS_THREADS="4",
        O2O_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


@dataclass
class LiveServer:
    url: str
    port: int
    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # the launcher turns SIGTERM into a clean exit
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:  # 503: up, database down — still "up"
            return json.load(exc)
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"no answer from {url}/healthz within {timeout:.0f} s")


@contextmanager
def live_server(data_dir: Path, database_url: str, redis_url: str, *, timeout: float = 180, **extra_env: str):
    """``scripts/launch.py production`` on 127.0.0.1:<free port>; yields a LiveServer, stops it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = app_env(data_dir, database_url, redis_url, port, **extra_env)
    log_path = data_dir.parent / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "scripts" / "launch.py"), "production",
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = LiveServer(f"http://127.0.0.1:{port}", port, env, process, log_path)
    try:
        try:
            wait_healthy(server.url, process, timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n--- server log ---\n{server.log_tail()}") from None
        yield server
    finally:
        server.stop()
