"""scripts/load_test.py (Locust, its own process) against a real production instance."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from config import PROJECT_ROOT
from tests.live_server import live_server

LOAD_TEST = PROJECT_ROOT / "scripts" / "load_test.py"


@pytest.fixture
def backend():
    return "postgresql"


def load_test(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LOAD_TEST), *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_loadtest001_every_page_and_its_callbacks_without_failures(empty_database_url, private_redis, tmp_path):
    report_path = tmp_path / "load.json"
    with live_server(tmp_path / "var", empty_database_url, private_redis.url) as server:
        done = load_test("5", "--duration", "25", "--spawn-rate", "5", "--host", server.url, "--json",
                         str(report_path))  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        assert "Monkey-patching" not in output  # locust imported before ssl
        report = json.loads(report_path.read_text(encoding="utf-8"))
        assert report["total"]["requests"] > 0 and report["total"]["failures"] == 0, output
        assert report["exceptions"] == [] and report["passed"] is True
        assert {"/", "/system"} <= set(report["pages"])
        posted = {r["name"]: r["requests"] for r in report["requests"] if r["method"] == "POST"}
        for path, callbacks in report["pages"].items():
            assert callbacks, path
            assert any(posted.get(name, 0) > 0 for name in callbacks), (path, callbacks, posted)
            assert posted.get(f"layout:{path}", 0) > 0, path
        gets = {r["name"] for r in report["requests"] if r["method"] == "GET"}
        assert {"/_dash-layout", "/_dash-dependencies"} <= gets
        assert posted.get("cb:diagnosis-kpi-cards.children", 0) > 0
        assert report["cache"]["requests"] > 0 and 0 <= report["cache"]["hit_rate"] <= 1
        assert report["peak_rss_bytes"] > 50 * 1024**2
        assert 10 * 1024**2 < report["peak_private_bytes"] < report["peak_rss_bytes"]  # shared pages left out
        assert "p95" in done.stdout and "服务器缓存命中率" in done.stdout

        strict = load_test("2", "--duration", "6", "--host", server.url, "--p95-ms", "0.001")
        assert strict.returncode == 1, strict.stdout + strict.stderr
        assert "❌ p95" in strict.stdout


def test_loadtest002_refuses_remote_hosts():
    done = load_test("1", "--duration", "1", "--host", "http://192.0.2.10:8051")
    assert done.returncode == 2 and "--allow-remote" in done.stderr
