"""scripts/doctor.py against a real production instance (Waitress subprocess), a private Redis
that the test stops, and a database that is not there."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from config import PROJECT_ROOT
from tests.live_server import app_env, free_port, live_server

DOCTOR = PROJECT_ROOT / "scripts" / "doctor.py"
LINE = re.compile(r"^(✅|❌) (.+?) — (.*)$")


@pytest.fixture
def backend():
    return "postgresql"  # the production set-up; SQLite is covered by the data-layer tests


def run_doctor(env: dict[str, str], *args: str) -> tuple[int, dict[str, tuple[bool, str]], str]:
    """Exit code, {check name: (passed, detail)} and the whole output."""
    done = subprocess.run([sys.executable, str(DOCTOR), *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    output = done.stdout + done.stderr
    results = {}
    for line in done.stdout.splitlines():
        match = LINE.match(line)
        if match:
            results[match[2]] = (match[1] == "✅", match[3])
    summary = re.search(r"^(\d+)/(\d+) 通过$", done.stdout, re.MULTILINE)
    assert summary, output
    assert int(summary[1]) == sum(ok for ok, _ in results.values()) and int(summary[2]) == len(results), output
    return done.returncode, results, output


def failed(results: dict[str, tuple[bool, str]]) -> set[str]:
    return {name for name, (ok, _detail) in results.items() if not ok}


def test_doctor001_running_instance_then_redis_down(empty_database_url, private_redis, tmp_path):
    with live_server(tmp_path / "var", empty_database_url, private_redis.url) as server:
        code, results, output = run_doctor(server.env, "--url", server.url)
        assert code == 0, output
        assert len(results) >= 12 and failed(results) == set(), output
        assert f"{len(results)}/{len(results)} 通过" in output
        assert "由本看板占用" in results["端口"][1] and f"pid {server.process.pid}" in results["端口"][1]
        assert "allkeys-lru" in results["Redis"][1] and "64.0 MB" in results["Redis"][1]
        assert "POST cb:" in results["回调 (HTTP)"][1]
        for path in ("/ ", "/system "):
            assert path in results["页面注册"][1]

        private_redis.stop()
        code, results, output = run_doctor(server.env, "--url", server.url)
        assert code == 1, output
        assert failed(results) == {"Redis", "缓存 L3 Redis"}, output
        assert f"127.0.0.1:{private_redis.port}" in results["Redis"][1]
        assert "无法连接" in results["Redis"][1] and "Redis 不可用" in results["缓存 L3 Redis"][1]


def test_doctor002_database_unreachable_and_no_instance(private_redis, tmp_path):
    closed = free_port()
    env = app_env(tmp_path / "var", f"postgresql://postgres@127.0.0.1:{closed}/o2o_missing", private_redis.url,
                  free_port())  # fmt: skip
    code, results, output = run_doctor(env, "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 1, output
    assert failed(results) == {"数据库", "数据库迁移", "回调 (HTTP)", "后台采样线程"}, output
    assert f"127.0.0.1:{closed}/o2o_missing 无法连接" in results["数据库"][1]
    assert "refused" in results["数据库"][1].lower() or "拒绝" in results["数据库"][1]
    assert "无法访问" in results["回调 (HTTP)"][1] and "launch.py production" in results["回调 (HTTP)"][1]

    code, results, output = run_doctor(env, "--skip-http")
    assert code == 1 and len(results) >= 12, output
    assert failed(results) == {"数据库", "数据库迁移"}, output
