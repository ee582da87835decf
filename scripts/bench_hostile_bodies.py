"""Hostile callback requests against a production instance of this checkout (the launcher, one
serving process, a scratch SQLite demo, loopback only):

1. ``--outputs`` POSTs to /_dash-update-component, each naming a made-up output: the size of
   /metrics and its number of ``o2o_dash_callback_seconds`` series before and after;
2. ``--concurrent`` callback bodies of ``--body-mb`` MB each (a real KPI request plus a long
   string) sent at once: the answers, and the serving process's resident memory before, at its
   peak (sampled every 50 ms) and after.

    .venv/bin/python scripts/bench_hostile_bodies.py --outputs 3000 --body-mb 95 --concurrent 4
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from scripts._bench import machine
from tests.live_server import live_server

CALLBACK = "/_dash-update-component"
MB = 1024 * 1024
KPI = {
    "output": "diagnosis-kpi-cards.children",
    "outputs": {"id": "diagnosis-kpi-cards", "property": "children"},
    "inputs": [
        {"id": "diagnosis-store-filter", "property": "value", "value": ["all"]},
        {"id": "diagnosis-date-filter", "property": "start_date", "value": "2026-11-01"},
        {"id": "diagnosis-date-filter", "property": "end_date", "value": "2026-11-07"},
        {"id": "diagnosis-channel-filter", "property": "value", "value": ["all"]},
    ],
    "changedPropIds": ["diagnosis-store-filter.value"],
}


def post(port: int, body: bytes, conn: http.client.HTTPConnection | None = None) -> int:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", CALLBACK, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        if own:
            conn.close()


def metrics(port: int) -> tuple[int, int]:
    """(bytes of /metrics, callback latency series)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    series = {line.split("{", 1)[1].split("}", 1)[0] for line in text.splitlines()
              if line.startswith("o2o_dash_callback_seconds_count{")}  # fmt: skip
    return len(text), len(series)


def rss(pid: int) -> int:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def made_up_outputs(port: int, count: int) -> None:
    before = metrics(port)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    for i in range(count):
        status = post(port, json.dumps({**KPI, "output": f"made-up-{i}.children"}).encode(), conn)
        statuses[status] = statuses.get(status, 0) + 1
    took = time.perf_counter() - started
    conn.close()
    after = metrics(port)
    print(f"{count} made-up outputs in {took:.1f} s, answers {statuses}")
    print(f"  /metrics {before[0] / 1024:.0f} KB, {before[1]} callback series → "
          f"{after[0] / 1024:.0f} KB, {after[1]} callback series")  # fmt: skip


def large_bodies(port: int, pid: int, size_mb: int, concurrent: int) -> None:
    head = json.dumps(KPI)[:-1] + ', "padding": "'
    body = (head + "x" * (size_mb * MB - len(head) - 2) + '"}').encode()
    for _ in range(3):
        post(port, json.dumps(KPI).encode())  # warm
    time.sleep(1.0)
    before = peak = rss(pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss(pid))
            time.sleep(0.05)

    results: list[tuple[int, float]] = []

    def send() -> None:
        started = time.perf_counter()
        status = post(port, body)
        results.append((status, time.perf_counter() - started))

    sampler = threading.Thread(target=sample)
    sampler.start()
    senders = [threading.Thread(target=send) for _ in range(concurrent)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    time.sleep(1.0)
    done.set()
    sampler.join()
    after = rss(pid)
    statuses = sorted(s for s, _ in results)
    worst = max(t for _, t in results)
    print(f"{concurrent} × {size_mb} MB callback bodies at once: answers {statuses}, slowest {worst:.2f} s")
    print(f"  RSS {before / MB:.0f} MB → peak {peak / MB:.0f} MB → after {after / MB:.0f} MB")
    print(f"  a normal callback afterwards: {post(port, json.dumps(KPI).encode())}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", type=int, default=3000, help="made-up outputs to post (default 3000)")
    parser.add_argument("--body-mb", type=int, default=95, help="size of each large body (default 95)")
    parser.add_argument("--concurrent", type=int, default=4, help="large bodies sent at once (default 4)")
    args = parser.parse_args(argv)
    print(machine())
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with live_server(root / "data", f"sqlite:///{root / 'o2o.sqlite3'}", "redis://127.0.0.1:1/0",
                         O2O_WORKERS="1", O2O_CACHE_WARM="false") as server:  # fmt: skip
            made_up_outputs(server.port, args.outputs)
            large_bodies(server.port, server.process.pid, args.body_mb, args.concurrent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
