"""The launcher run for real through scripts/start-*.sh: servers on free ports, checked over HTTP,
stopped with SIGTERM. Every process a test starts is killed in its finally block."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
import redis

from config import PROJECT_ROOT
from db.engine import describe_url
from tests.conftest import service_missing
from tests.live_server import free_port

SCRIPTS = PROJECT_ROOT / "scripts"
PID_FILE = "o2o-dashboard.pid"
START_TIMEOUT_S = 120


def launcher_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The test's own settings: nothing from the developer's O2O_* environment leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("O2O_", "WERKZEUG_"))}
    env.update(PYTHONUNBUFFERED="1", O2O_DATA_DIR=str(data_dir), O2O_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    env.update(extra)
    return env


class Launcher:
    """scripts/start-<mode>.sh as a subprocess (its own session) with output in a file."""

    def __init__(self, mode: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [str(SCRIPTS / f"start-{mode}.sh"), *args], env=env, stdout=self._out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_healthy(self, port: int) -> dict:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    assert response.status == 200
                    return json.load(response)
            except OSError:
                assert self.proc.poll() is None, f"launcher exited {self.proc.returncode}:\n{self.output}"
                assert time.monotonic() < deadline, f"no /healthz within {START_TIMEOUT_S} s:\n{self.output}"
                time.sleep(0.5)

    def wait_output(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert time.monotonic() < deadline, f"{text!r} not in output:\n{self.output}"
            time.sleep(0.1)

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """Cleanup: the whole session (the debug reloader's child too)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._out.close()


def lines_with(output: str, icon: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(icon)]


def assert_refused(port: int) -> None:
    with socket.socket() as sock, pytest.raises(OSError):
        sock.settimeout(2)
        sock.connect(("127.0.0.1", port))


def shared_redis_url() -> str:
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
    except redis.RedisError as exc:
        service_missing(f"shared Redis not reachable at {url}: {exc}")
    return url


def test_launch001_production_serves_and_stops_cleanly(empty_database_url, tmp_path):
    """SQLite and PostgreSQL, shared Redis: every step ✅ (Redis may warn about its limits),
    demo data seeded, /healthz over HTTP, access log, PID file written and removed on SIGTERM."""
    port, data_dir = free_port(), tmp_path / "var"
    env = launcher_env(data_dir, O2O_DATABASE_URL=empty_database_url, O2O_REDIS_URL=shared_redis_url(),
                       O2O_DEMO_STORES="2", O2O_DEMO_DAYS="14", O2O_WAITRESS_THREADS="5",
                       O2O_WAITRESS_CONNECTION_LIMIT="123", O2O_WORKERS="1")  # fmt: skip
    launcher = Launcher("production", ["--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "out.log")
    try:
        health = launcher.wait_healthy(port)
        assert health["database"]["ok"] is True
        record = json.loads((data_dir / PID_FILE).read_text(encoding="utf-8"))
        assert (record["pid"], record["port"], record["mode"]) == (launcher.proc.pid, port, "production")
        assert any(arg.endswith("scripts/launch.py") for arg in record["cmdline"])
        launcher.wait_output('127.0.0.1 "GET /healthz" 200 ')
        assert launcher.terminate() == 0, launcher.output
    finally:
        launcher.kill()
    output = launcher.output
    assert not (data_dir / PID_FILE).exists()
    ok = "\n".join(lines_with(output, "✅"))
    assert "✅ Python 3." in ok and "项目虚拟环境" in ok
    assert "✅ 依赖 " in ok and "与 requirements.txt 一致" in ok
    assert f"✅ 端口 127.0.0.1:{port} 空闲" in ok
    assert f"✅ 数据库 {describe_url(empty_database_url)} 已迁移到最新版本" in ok
    assert "✅ 演示数据已导入" in ok and "✅ 生产模式 (Waitress)" in ok and "线程 5 / 连接上限 123" in ok
    assert f"✅ 已停止 (pid {launcher.proc.pid})" in ok
    redis_line = next(line for line in output.splitlines() if "可用 (redis://127.0.0.1:6379/0): maxmemory" in line)
    assert redis_line.startswith(("✅ Redis ", "⚠️ Redis "))
    assert lines_with(output, "❌") == []


def test_launch002_debug_serves_on_loopback_with_reloader(tmp_path):
    port, data_dir = free_port(), tmp_path / "var"
    launcher = Launcher("debug", ["--port", str(port), "--no-seed"], launcher_env(data_dir), tmp_path / "out.log")
    try:
        launcher.wait_healthy(port)
        record = json.loads((data_dir / PID_FILE).read_text(encoding="utf-8"))
        assert (record["pid"], record["mode"]) == (launcher.proc.pid, "debug")  # the reloader parent
        children = psutil.Process(launcher.proc.pid).children()
        assert len(children) == 1  # Werkzeug's serving child, which wrote no PID file of its own
        launcher.wait_output("GET /healthz")  # request lines are on in debug mode
        launcher.wait_output(f" DEBUG o2o.launch: 热重载子进程 pid {children[0].pid} 开始服务")
        listeners = {c.laddr.ip for c in psutil.net_connections("tcp") if c.laddr.port == port and c.status == "LISTEN"}
        assert listeners == {"127.0.0.1"}

        # Hot reload: a changed source file restarts the child; the parent and its PID file stay.
        os.utime(PROJECT_ROOT / "serving" / "pidfile.py")
        deadline = time.monotonic() + 60
        while (current := psutil.Process(launcher.proc.pid).children()) in ([], children):
            assert time.monotonic() < deadline, f"no reload:\n{launcher.output}"
            time.sleep(0.2)
        launcher.wait_healthy(port)
        launcher.wait_output(f" DEBUG o2o.launch: 热重载子进程 pid {current[0].pid} 开始服务")
        assert json.loads((data_dir / PID_FILE).read_text(encoding="utf-8"))["pid"] == launcher.proc.pid

        assert launcher.terminate() == 0, launcher.output
        psutil.wait_procs(current, timeout=10)
        assert not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in current)
    finally:
        launcher.kill()
    output = launcher.output
    assert not (data_dir / PID_FILE).exists()
    assert f"✅ 调试模式: http://127.0.0.1:{port} (热重载, DEBUG 日志" in output
    assert f"✅ 已停止 (pid {launcher.proc.pid}, 退出码 0)" in output
    assert "⚠️ Redis 不可用" in output and "; 空库, 未生成演示数据 (--no-seed)" in output
    assert_refused(port)


def test_launch003_debug_refuses_all_interfaces(tmp_path):
    data_dir = tmp_path / "var"
    launcher = Launcher("debug", ["--host", "0.0.0.0"], launcher_env(data_dir), tmp_path / "out.log")
    try:
        assert launcher.wait(timeout=60) == 2
    finally:
        launcher.kill()
    assert "❌ 调试模式只允许绑定 127.0.0.1，拒绝 0.0.0.0" in launcher.output
    assert not data_dir.exists()  # refused before touching anything


def test_launch004_stale_pid_file_is_removed(tmp_path):
    port, data_dir = free_port(), tmp_path / "var"
    dead = subprocess.Popen(["true"])
    dead.wait()
    data_dir.mkdir()
    (data_dir / PID_FILE).write_text(json.dumps({"pid": dead.pid, "port": port}), encoding="utf-8")
    args = ["--host", "127.0.0.1", "--port", str(port), "--no-seed"]
    launcher = Launcher("production", args, launcher_env(data_dir), tmp_path / "out.log")
    try:
        launcher.wait_healthy(port)
        assert json.loads((data_dir / PID_FILE).read_text(encoding="utf-8"))["pid"] == launcher.proc.pid
        assert launcher.terminate() == 0
    finally:
        launcher.kill()
    assert f"⚠️ 已删除过期的 PID 文件 (pid {dead.pid} 已不存在, 上次未正常退出); 端口 127.0.0.1:{port} 空闲" in (
        launcher.output
    )


def test_launch005_next_start_stops_the_earlier_instance(tmp_path):
    port, data_dir = free_port(), tmp_path / "var"
    args = ["--host", "127.0.0.1", "--port", str(port), "--no-seed"]
    first = Launcher("production", args, launcher_env(data_dir), tmp_path / "first.log")
    second = None
    try:
        first.wait_healthy(port)
        second = Launcher("production", args, launcher_env(data_dir), tmp_path / "second.log")
        assert first.wait(timeout=30) == 0, first.output  # stopped with SIGTERM: a clean exit
        second.wait_healthy(port)
        assert json.loads((data_dir / PID_FILE).read_text(encoding="utf-8"))["pid"] == second.proc.pid
        assert second.terminate() == 0
    finally:
        first.kill()
        if second is not None:
            second.kill()
    assert f"✅ 已停止 (pid {first.proc.pid})" in first.output
    assert f"✅ 已停止上次运行的实例 (pid {first.proc.pid}, 端口 {port}, 启动于 " in second.output
    assert f"; 端口 127.0.0.1:{port} 空闲" in second.output
    assert not (data_dir / PID_FILE).exists()


def test_launch006_foreign_process_on_port_is_named_and_left_alone(tmp_path):
    port, data_dir = free_port(), tmp_path / "var"
    foreign = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_listening(port, foreign)
        # A PID file naming a live process that is not this app (PID reuse) is dropped, the process kept.
        data_dir.mkdir()
        (data_dir / PID_FILE).write_text(json.dumps({"pid": foreign.pid, "port": port}), encoding="utf-8")
        args = ["--host", "127.0.0.1", "--port", str(port), "--no-seed"]
        launcher = Launcher("production", args, launcher_env(data_dir), tmp_path / "out.log")
        try:
            assert launcher.wait(timeout=60) == 1
        finally:
            launcher.kill()
        output = launcher.output
        assert f"已删除过期的 PID 文件 (pid {foreign.pid} 现在是别的进程: " in output
        assert f"❌ 已删除过期的 PID 文件 (pid {foreign.pid}" in output  # one line for the step
        assert f"端口 127.0.0.1:{port} 已被占用: pid {foreign.pid} (" in output and "http.server" in output
        assert "未结束它" in output
        assert foreign.poll() is None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
        assert not (data_dir / "o2o.sqlite3").exists()  # stopped before the database step
    finally:
        foreign.kill()
        foreign.wait(timeout=10)


def test_launch007_start_redis_starts_a_local_server(tmp_path):
    port, redis_port, data_dir = free_port(), free_port(), tmp_path / "var"
    env = launcher_env(data_dir, O2O_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
    args = ["--host", "127.0.0.1", "--port", str(port), "--no-seed", "--start-redis"]
    launcher = Launcher("production", args, env, tmp_path / "out.log")
    redis_pid_file = data_dir / f"redis-{redis_port}.pid"
    try:
        launcher.wait_healthy(port)
        client = redis.Redis(port=redis_port, socket_timeout=1, decode_responses=True)
        assert client.ping()
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"  # config/redis.conf
        assert client.config_get("maxmemory")["maxmemory"] == str(1 << 30)
        assert int(redis_pid_file.read_text()) == client.info("server")["process_id"]
        assert (data_dir / f"redis-{redis_port}.log").exists()
        assert launcher.terminate() == 0
    finally:
        launcher.kill()
        _stop_redis(redis_pid_file, redis_port)
    assert "✅ 已启动本机 Redis " in launcher.output and f"(端口 {redis_port}, pid 文件 {redis_pid_file})" in (
        launcher.output
    )
    assert "maxmemory 1.00G, 淘汰策略 allkeys-lru" in launcher.output


def test_launch008_database_failure_names_the_server(tmp_path):
    pg_port, data_dir = free_port(), tmp_path / "var"
    url = f"postgresql://postgres@127.0.0.1:{pg_port}/o2o"
    args = ["--host", "127.0.0.1", "--port", str(free_port())]
    launcher = Launcher("production", args, launcher_env(data_dir, O2O_DATABASE_URL=url), tmp_path / "out.log")
    try:
        assert launcher.wait(timeout=60) == 1
    finally:
        launcher.kill()
    failure = lines_with(launcher.output, "❌")
    assert len(failure) == 1, launcher.output
    assert failure[0].startswith(f"❌ 数据库连接失败 (postgresql 127.0.0.1:{pg_port}/o2o): connection to server at")
    assert "Connection refused" in failure[0]
    assert not (data_dir / PID_FILE).exists()


def test_launch009_outside_the_venv_names_missing_dependencies(tmp_path):
    base_python = getattr(sys, "_base_executable", None)
    if not base_python or sys.prefix == sys.base_prefix:
        pytest.skip("tests do not run in a virtual environment")
    if subprocess.run([base_python, "-c", "import dash"], capture_output=True, timeout=30).returncode == 0:
        pytest.skip(f"{base_python} has the dependencies installed")
    env = launcher_env(tmp_path / "var")
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        [base_python, str(SCRIPTS / "launch.py"), "production", "--port", str(free_port())], env=env,
        capture_output=True, text=True, encoding="utf-8", timeout=60,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "未使用虚拟环境; 创建并安装依赖: python3 scripts/bootstrap.py run" in result.stdout
    pin = next(
        line for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines() if line.startswith("dash==")
    )
    assert f"dash 未安装 (要求 =={pin.split('==')[1]})" in result.stdout
    assert "❌ 依赖与 requirements.txt 不符" in result.stdout


def _workers(launcher: Launcher) -> list[psutil.Process]:
    """The launcher's serving children (multiprocessing's resource tracker is not one)."""
    return [p for p in psutil.Process(launcher.proc.pid).children() if "resource_tracker" not in " ".join(p.cmdline())]


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def test_launch010_workers_share_the_port_and_are_restarted(tmp_path):
    """O2O_WORKERS=2: two serving processes on one port, both named in /metrics whichever
    answers; a killed worker is replaced while the other keeps serving; SIGTERM stops all."""
    port, data_dir = free_port(), tmp_path / "var"
    env = launcher_env(data_dir, O2O_WORKERS="2", O2O_DEMO_STORES="2", O2O_DEMO_DAYS="14")
    launcher = Launcher("production", ["--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "out.log")
    try:
        launcher.wait_healthy(port)
        launcher.wait_output("2 个工作进程")
        workers = _workers(launcher)
        assert len(workers) == 2, launcher.output
        pids = {w.pid for w in workers}
        deadline = time.monotonic() + 30
        while {int(p) for p in _pids_in_metrics(_metrics(port))} != pids:  # each publishes once a second
            assert time.monotonic() < deadline, _metrics(port)
            time.sleep(0.5)
        text = _metrics(port)
        assert "o2o_workers 2.0" in text, [line for line in text.splitlines() if "worker" in line]
        victim = workers[0]
        victim.kill()
        victim.wait(10)
        launcher.wait_output(f"(pid {victim.pid}) 退出 (退出码 -9), 重新启动", timeout=10)
        for _ in range(20):  # the survivor answers meanwhile, each request on a new connection
            launcher.wait_healthy(port)
        deadline = time.monotonic() + 60
        while len(_workers(launcher)) != 2 or victim.pid in {w.pid for w in _workers(launcher)}:
            assert time.monotonic() < deadline, launcher.output
            time.sleep(0.5)
        survivors = _workers(launcher)
        assert launcher.terminate() == 0, launcher.output
        psutil.wait_procs(survivors, timeout=15)
        assert not any(w.is_running() for w in survivors)
    finally:
        launcher.kill()
    assert not (data_dir / PID_FILE).exists()
    assert f"✅ 已停止 (pid {launcher.proc.pid})" in launcher.output
    assert_refused(port)


def test_launch011_ctrl_c_stops_every_worker(tmp_path):
    """Ctrl+C in a console reaches the whole process group: workers and launcher all exit 0."""
    port, data_dir = free_port(), tmp_path / "var"
    env = launcher_env(data_dir, O2O_WORKERS="2")
    args = ["--host", "127.0.0.1", "--port", str(port), "--no-seed"]
    launcher = Launcher("production", args, env, tmp_path / "out.log")
    try:
        launcher.wait_healthy(port)
        launcher.wait_output("2 个工作进程")
        workers = _workers(launcher)
        assert len(workers) == 2
        os.killpg(launcher.proc.pid, signal.SIGINT)
        assert launcher.wait(timeout=30) == 0, launcher.output
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, launcher.output
    finally:
        launcher.kill()
    assert "Traceback" not in launcher.output
    assert f"✅ 已停止 (pid {launcher.proc.pid})" in launcher.output
    assert not (data_dir / PID_FILE).exists()
    assert not list((data_dir / "metrics" / str(port)).glob("gauge_live*.db"))  # each worker removed its gauges


def _pids_in_metrics(text: str) -> list[str]:
    return [line.split('pid="')[1].split('"')[0] for line in text.splitlines()
            if line.startswith("o2o_worker_rss_bytes{")]  # fmt: skip


def _wait_listening(port: int, proc: subprocess.Popen) -> None:
    for _ in range(200):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert proc.poll() is None, "process exited before listening"
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def _stop_redis(pid_file: Path, port: int) -> None:
    pids = set()
    with contextlib.suppress(OSError, ValueError):
        pids.add(int(pid_file.read_text()))
    pids |= {c.pid for c in psutil.net_connections("tcp") if c.pid and c.laddr.port == port and c.status == "LISTEN"}
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc = psutil.Process(pid)
            if "redis-server" in proc.name():
                proc.kill()
                procs.append(proc)
    psutil.wait_procs(procs, timeout=10)
