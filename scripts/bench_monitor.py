"""Benchmark the monitoring overhead and the monitor panel callback.

    .venv/bin/python scripts/bench_monitor.py [--duration 300] [--database-url URL]

1. Starts the production server (Waitress, samplers at their default intervals) on a free
   loopback port, lets it settle, then plays one open diagnosis page: the panel callback POST
   every 5 s, as the browser does. Reports the server process's CPU time over the run as % of
   one core (goal ≤ 0.5 %).
2. Server-side latency of the panel callback (Flask test client, in process; goal p95 ≤ 5 ms).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil

from app import create_app, stop_app
from config import Settings
from scripts._bench import machine
from tests.integration.test_monitoring import PANEL_PAYLOAD

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, payload: dict) -> None:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def overhead(database_url: str, duration: float, data_dir: Path) -> None:
    port = free_port()
    env = {**os.environ, "O2O_DATABASE_URL": database_url, "O2O_DATA_DIR": str(data_dir)}
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "launch.py"), "production", "--host", "127.0.0.1",
         "--port", str(port), "--no-seed"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.5)
        proc = psutil.Process(server.pid)
        post(base + "/_dash-update-component", PANEL_PAYLOAD)  # warm: first call builds routes
        time.sleep(5)
        before = proc.cpu_times()
        started = time.monotonic()
        polls = 0
        while time.monotonic() - started < duration:
            post(base + "/_dash-update-component", PANEL_PAYLOAD)
            polls += 1
            time.sleep(max(0.0, started + polls * 5.0 - time.monotonic()))
        after = proc.cpu_times()
        elapsed = time.monotonic() - started
        cpu = (after.user - before.user) + (after.system - before.system)
        rss = proc.memory_info().rss
        share = cpu / elapsed * 100
        print(f"samplers + one page polling every 5 s for {elapsed:.0f} s ({polls} panel refreshes): "
              f"server CPU {cpu:.2f} s = {share:.3f}% of one core, RSS {rss / 1024**2:.0f} MB")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=20)


def panel_latency(database_url: str, repeat: int, data_dir: Path) -> None:
    settings = Settings.from_env({}, database_url=database_url, data_dir=data_dir)
    app = create_app(settings)
    client = app.server.test_client()
    time.sleep(1.0)  # let the samplers take their first readings
    client.post("/_dash-update-component", json=PANEL_PAYLOAD)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.post("/_dash-update-component", json=PANEL_PAYLOAD)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    stop_app(app)
    arr = np.asarray(times)
    print(f"panel callback, server side (n={repeat}): p50 {np.percentile(arr, 50):.2f} ms, "
          f"p95 {np.percentile(arr, 95):.2f} ms, mean {statistics.mean(times):.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of the overhead run (≤ 900)")
    parser.add_argument("--repeat", type=int, default=1000)
    parser.add_argument("--database-url", help="default: a scratch SQLite file")
    args = parser.parse_args()
    duration = min(args.duration, 900.0)
    print(f"# bench_monitor {dt.datetime.now():%Y-%m-%d %H:%M} — {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        if not args.database_url:
            from db.engine import make_engine
            from db.migrate import upgrade

            upgrade(make_engine(url))
        panel_latency(url, args.repeat, Path(tmp))
        overhead(url, duration, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
