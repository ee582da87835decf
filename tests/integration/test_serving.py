"""Serving faults, each against the real launcher (scripts/start-production.sh) on a free port:
a fresh worker's first requests, one client holding many idle sockets, requests on keep-alive
connections during a stop. Every process a test starts is killed in its finally block."""

from __future__ import annotations

import dataclasses
import http.client
import json
import shutil
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from config import PROJECT_ROOT
from scripts import _dash_protocol as dp
from tests.conftest import service_missing
from tests.integration.test_launcher import Launcher, launcher_env
from tests.live_server import free_port

SMALL_DEMO = {"O2O_DEMO_STORES": "2", "O2O_DEMO_DAYS": "14"}
CALLBACK_PATH = "/_dash-update-component"
BURST = 64  # requests at once on a fresh worker
RESTARTS = 3
ATTACKER = "127.0.0.2"  # another loopback address: the "other client" below is 127.0.0.1


def _start(tmp_path: Path, name: str, port: int, data_dir: Path, **env: str) -> Launcher:
    args = ["--host", "127.0.0.1", "--port", str(port), "--skip-deps-check"]
    return Launcher("production", args, launcher_env(data_dir, **SMALL_DEMO, **env), tmp_path / f"{name}.log")


def _workers(launcher: Launcher) -> list[psutil.Process]:
    return [p for p in psutil.Process(launcher.proc.pid).children() if "resource_tracker" not in " ".join(p.cmdline())]


def _http(port: int, method: str, path: str, body: dict | None = None, timeout: float = 120) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _first_requests(fetch) -> list[tuple[str, str, dict | None]]:
    """What a browser sends first, learnt from a server that is up (``fetch(method, path, body)``
    → (status, bytes)): the pages router for every page, the initial callbacks of the home page,
    the layout, the dependencies and the stylesheet."""
    shell = json.loads(fetch("GET", "/_dash-layout", None)[1])
    deps = json.loads(fetch("GET", "/_dash-dependencies", None)[1])
    router = next(d for d in deps if dp.is_router(d))
    requests: list[tuple[str, str, dict | None]] = [
        ("POST", CALLBACK_PATH, dp.router_body(router, path)) for path in dp.nav_paths(shell)
    ]
    status, data = fetch("POST", CALLBACK_PATH, dp.router_body(router, "/"))
    assert status == 200, data[:300]
    state = dp.PageState()
    state.add_tree(shell)
    state.add_tree(json.loads(data)["response"][dp.ROUTER_CONTENT]["children"])
    dp.set_location(state, "http://127.0.0.1", "/")
    for dep in deps:
        if dp.is_server_callback(dep) and not dp.is_router(dep) and not dep.get("prevent_initial_call"):
            requests += [("POST", CALLBACK_PATH, body) for body in dp.callback_bodies(dep, state)]
    requests += [("GET", "/assets/app.css", None), ("GET", "/_dash-layout", None), ("GET", "/_dash-dependencies", None)]
    assert len(requests) > 8, requests
    return requests


def _burst(port: int, requests: list, count: int) -> list[tuple[str, int, bytes]]:
    """``count`` requests at once, each on its own connection (they wait in the backlog while
    no worker accepts)."""
    chosen = [requests[i % len(requests)] for i in range(count)]
    with ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(lambda r: _http(port, r[0], r[1], r[2]), chosen))
    return [(f"{m} {p}", status, data) for (m, p, _), (status, data) in zip(chosen, answers, strict=True)]


def _errors(answers: list[tuple[str, int, bytes]]) -> list[str]:
    return [f"{what} → {status} {data[:160]!r}" for what, status, data in answers if status not in (200, 204)]


def _wait_accepting(port: int, launcher: Launcher, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert launcher.proc.poll() is None, launcher.output
        assert time.monotonic() < deadline, launcher.output
        time.sleep(0.02)


def test_serve001_fresh_workers_answer_their_first_concurrent_requests(tmp_path):
    """Requests queued before a worker serves (at start, and at each of RESTARTS restarts while
    the other worker is stopped) are its first ones, all at once: none gets a 500. Dash
    finished its setup on the first request, marked done before done: 500 "Callback function
    not found" or "dictionary changed size during iteration" in 2 of 3 starts."""
    data_dir = tmp_path / "var"
    reference = _start(tmp_path, "reference", (port := free_port()), data_dir, O2O_WORKERS="1")
    try:
        reference.wait_healthy(port)
        requests = _first_requests(lambda method, path, body: _http(port, method, path, body))
        assert reference.terminate() == 0, reference.output
    finally:
        reference.kill()

    port = free_port()
    launcher = _start(tmp_path, "workers", port, data_dir, O2O_WORKERS="2", O2O_WAITRESS_THREADS="16")
    stopped: psutil.Process | None = None
    errors_per_start: list[list[str]] = []
    try:
        _wait_accepting(port, launcher)  # the launcher binds, then starts the workers
        errors_per_start.append(_errors(_burst(port, requests, BURST)))
        launcher.wait_healthy(port)
        survivor, victim = _workers(launcher)
        for _ in range(RESTARTS):  # each worker slot dies at most twice: the supervisor gives up at 3
            stopped = survivor
            stopped.suspend()  # SIGSTOP: the burst below waits for the restarted worker alone
            victim.kill()
            launcher.wait_output(f"(pid {victim.pid}) 退出 (退出码 -9), 重新启动", timeout=10)
            errors_per_start.append(_errors(_burst(port, requests, BURST)))
            stopped.resume()
            stopped = None
            fresh = next(w for w in _workers(launcher) if w.pid != survivor.pid)
            survivor, victim = fresh, survivor
        assert launcher.terminate() == 0, launcher.output
    finally:
        if stopped is not None:
            stopped.resume()
        launcher.kill()
    errors = [error for start in errors_per_start for error in start]
    print(f"\nfigures: {len(errors_per_start)} bursts of {BURST} requests on fresh workers, errors per burst "
          f"{[len(start) for start in errors_per_start]}; {errors[:2]}")  # fmt: skip
    assert errors == []
    assert "Traceback" not in launcher.output


def test_serve002_one_clients_idle_sockets_leave_room_for_others(tmp_path):
    """One client opens 300 idle sockets against 2 workers with a connection limit of 100
    each: at most 50 per worker stay open (the rest are closed at once), another client is
    served, and the idle ones are closed after the channel timeout (2 s here)."""
    port, data_dir = free_port(), tmp_path / "var"
    launcher = _start(tmp_path, "out", port, data_dir, O2O_WORKERS="2", O2O_WAITRESS_CONNECTION_LIMIT="100",
                      O2O_MAX_CONNECTIONS_PER_CLIENT="50", O2O_WAITRESS_CHANNEL_TIMEOUT_S="2")  # fmt: skip
    idle: list[socket.socket] = []
    try:
        launcher.wait_healthy(port)
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(ATTACKER, 0))
            idle.append(sock)
        time.sleep(1.0)  # the workers accept (and close) what the backlog holds
        closed_at_once = sum(_closed_by_server(sock) for sock in idle)
        started = time.monotonic()
        try:
            status, _ = _http(port, "GET", "/healthz", timeout=10)
        except TimeoutError:
            status = "timeout"  # locked out
        other_ms = (time.monotonic() - started) * 1000
        deadline = time.monotonic() + 15
        while (still_open := [s for s in idle if not _closed_by_server(s)]) and time.monotonic() < deadline:
            time.sleep(0.5)
        idle_closed_s = time.monotonic() - started
        print(f"\nfigures: 300 idle sockets opened, {closed_at_once} closed at once; other client {status} in "
              f"{other_ms:.0f} ms; {300 - len(still_open)} closed {idle_closed_s:.1f} s later")  # fmt: skip
        assert status == 200
        assert 300 - 2 * 50 <= closed_at_once < 300, closed_at_once
        assert still_open == [], f"{len(still_open)} idle sockets still open after 15 s"
        again = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(ATTACKER, 0))
        again.request("GET", "/healthz")  # its closed sockets no longer count against it
        assert again.getresponse().status == 200
        again.close()
        assert launcher.terminate() == 0, launcher.output
    finally:
        for sock in idle:
            sock.close()
        launcher.kill()
    assert "已打开 50 个连接 (每个客户端上限 O2O_MAX_CONNECTIONS_PER_CLIENT=50), 关闭其新连接" in launcher.output


def _closed_by_server(sock: socket.socket) -> bool:
    """EOF (or a reset) waits to be read: the server closed this connection."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.setblocking(True)


def test_serve003_sigterm_answers_every_request_on_open_connections(tmp_path):
    """16 keep-alive connections, SIGTERM, then requests on them every 0.1 s: every request
    gets a whole response (200, or 503 once its worker drains), the last one of each with
    Connection: close; none is cut (before: 24 cut in one run)."""
    port, data_dir = free_port(), tmp_path / "var"
    launcher = _start(tmp_path, "out", port, data_dir, O2O_WORKERS="2")
    conns: list[http.client.HTTPConnection] = []
    answers: list[tuple[int, str]] = []
    cut: list[str] = []
    try:
        launcher.wait_healthy(port)
        for _ in range(16):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            conn.request("GET", "/_dash-layout")
            assert conn.getresponse().read()
            conns.append(conn)
        launcher.proc.send_signal(signal.SIGTERM)
        open_conns = list(conns)
        for _ in range(50):
            still_open = []
            for conn in open_conns:
                try:
                    conn.request("GET", "/_dash-layout")
                    response = conn.getresponse()
                    body = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    cut.append(repr(exc))
                    continue
                connection = (response.getheader("Connection") or "").lower()
                answers.append((response.status, connection))
                assert response.status in (200, 503) and body, (response.status, body[:200])
                if connection != "close":
                    still_open.append(conn)
            open_conns = still_open
            if not open_conns:
                break
            time.sleep(0.1)
        assert launcher.wait(timeout=30) == 0, launcher.output
    finally:
        for conn in conns:
            conn.close()
        launcher.kill()
    print(f"\nfigures: {len(answers) + len(cut)} requests after SIGTERM, {len(answers)} answered "
          f"({sum(status == 503 for status, _ in answers)} with 503), {len(cut)} cut")  # fmt: skip
    assert cut == []
    assert open_conns == []  # each connection ended with a response saying so
    assert sum(status == 503 for status, _ in answers) >= 1, answers
    assert "Traceback" not in launcher.output


def test_serve004_nginx_conf_is_valid(tmp_path):
    """config/nginx.conf passes `nginx -t` (Debian's nginx; the upstream need not run). Only its
    log and pid paths move into tmp_path."""
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        service_missing("nginx not installed (apt-get install nginx-light)")
    conf = (PROJECT_ROOT / "config" / "nginx.conf").read_text(encoding="utf-8")
    copy = tmp_path / "nginx.conf"
    copy.write_text(conf.replace("/var/log/nginx/", f"{tmp_path}/").replace("/run/nginx.pid", f"{tmp_path}/nginx.pid"),
                    encoding="utf-8")  # fmt: skip
    done = subprocess.run([nginx, "-t", "-c", str(copy)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr


def test_serve005_a_request_in_progress_at_the_stop_finishes_with_connection_close():
    """The app server alone (a thread, a slow WSGI app): at the stop, the slow request in
    progress and an upload half received are answered 200 with Connection: close, a request then
    sent on an idle keep-alive connection gets 503 with Connection: close, and a new connection
    is refused."""
    import threading

    from serving.server import AppServer

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            time.sleep(1.0)
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    server = AppServer(app, host="127.0.0.1", port=0, threads=2)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    port = server.effective_port
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    slow = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    upload = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        idle.request("GET", "/")
        assert idle.getresponse().read() == b"ok"
        slow.request("GET", "/slow")
        upload.putrequest("POST", "/upload")
        upload.putheader("Content-Length", "10")
        upload.endheaders(b"12345")  # half of the body before the stop, the rest after it
        time.sleep(0.3)  # the slow request is in progress
        server.request_stop()
        time.sleep(0.3)  # the loop has seen the stop (it looks every 0.25 s)
        upload.send(b"67890")
        uploaded = upload.getresponse()
        assert (uploaded.status, uploaded.getheader("Connection"), uploaded.read()) == (200, "close", b"ok")
        idle.request("GET", "/")
        refused = idle.getresponse()
        assert (refused.status, refused.getheader("Connection")) == (503, "close")
        assert "服务正在重启或停止" in refused.read().decode()
        finished = slow.getresponse()
        assert (finished.status, finished.getheader("Connection"), finished.read()) == (200, "close", b"ok")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        loop.join(timeout=15)
        assert not loop.is_alive()
    finally:
        for conn in (idle, slow, upload):
            conn.close()
        server.request_stop()
        loop.join(timeout=15)


def test_serve006_dash_setup_is_done_before_the_server_accepts(engine, settings, monkeypatch):
    """The app's Waitress server in a thread; Dash's first-request setup made slow (its layout
    check sleeps 0.3 s, after Dash has marked the setup done). 16 first requests at once (page
    callbacks, the router, the stylesheet): all answered without a 500, because the setup ran
    before the server accepted. Before: "Callback function not found" for the page callbacks."""
    import threading

    import dash._validate

    from app import create_app, stop_app
    from db.seed import seed_demo
    from serving.worker import waitress_server

    settings = dataclasses.replace(settings, cache_warm=False, log_level="WARNING", demo_stores=2, demo_days=14)
    seed_demo(engine, settings)
    reference = create_app(settings, start_monitors=False)
    try:
        client = reference.server.test_client()

        def fetch(method, path, body):
            response = client.open(path, method=method, json=body)
            return response.status_code, response.data

        posts = [r for r in _first_requests(fetch) if r[0] == "POST"]
        routers = [r for r in posts if dp.ROUTER_OUTPUT in r[2]["output"]]
        pages = [r for r in posts if r not in routers]
        requests = pages[:10] + routers[:2] + [("GET", "/assets/app.css", None)] * 4
        assert len(pages) >= 4, posts
    finally:
        stop_app(reference)

    validate_layout = dash._validate.validate_layout

    def slow_validate_layout(*args, **kwargs):
        time.sleep(0.3)  # widens the window between "setup done" and the callbacks being there
        return validate_layout(*args, **kwargs)

    monkeypatch.setattr(dash._validate, "validate_layout", slow_validate_layout)
    app = create_app(settings, start_monitors=False)
    server = waitress_server(app, settings, host="127.0.0.1", port=0)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    try:
        port = server.effective_port
        gate = threading.Barrier(len(requests))

        def send(request):
            gate.wait(timeout=10)
            return _http(port, request[0], request[1], request[2], timeout=30)

        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            answers = list(pool.map(send, requests))
    finally:
        if hasattr(server, "request_stop"):
            server.request_stop()
            loop.join(timeout=15)
        stop_app(app)
    errors = [f"{m} {p} → {status} {data[:120]!r}" for (m, p, _), (status, data) in zip(requests, answers, strict=True)
              if status not in (200, 204)]  # fmt: skip
    assert errors == []
