"""Server memory while 数据管理 uploads are streamed: a production instance of this checkout (the
launcher, one serving process, a scratch SQLite database, loopback only, import worker off so
that only the upload path is measured) receives CSV files of ``--sizes`` MB through
``POST /data/upload``; the serving process's resident memory before, at its peak (sampled every
20 ms) and after each upload, and the time per upload. ``--check``: the worker on, and the same
figures for the check job that follows in the serving process (read + validate the file).

    .venv/bin/python scripts/bench_upload.py --sizes 30 150
    .venv/bin/python scripts/bench_upload.py --sizes 30 --check
"""

from __future__ import annotations

import argparse
import http.client
import json
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from db.export_format import HEADERS
from scripts._bench import machine
from tests.live_server import live_server

MB = 1024 * 1024


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def serving_pid(launcher_pid: int) -> int:
    """One serving process: the launcher serves itself (or its only spawned worker)."""
    children = [p for p in psutil.Process(launcher_pid).children() if "resource_tracker" not in " ".join(p.cmdline())]
    return children[0].pid if len(children) == 1 else launcher_pid


def write_csv(path: Path, size_mb: int) -> None:
    """A CSV of about ``size_mb`` MB: the export header, then one order line repeated."""
    line = ",".join(["{n}", "", "2026-11-01 12:00:00", "示例门店", "S1", "直营", "武汉", "苹果", "690123456789",
                     "P1", "水果", "苹果", "10", "9", "8", "5", "1", "100", "99", "3", *["0"] * 15,
                     "美团配送", "1.5", "武汉市", "美团闪购"])  # fmt: skip
    n = 0
    with path.open("wb") as out:
        out.write((",".join(HEADERS) + "\n").encode("utf-8-sig"))
        while out.tell() < size_mb * MB:
            out.write("".join(line.format(n=f"B{n + k:09d}") + "\n" for k in range(10_000)).encode())
            n += 10_000


def upload(port: int, path: Path) -> tuple[int, dict, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    with path.open("rb") as body:
        conn.request("POST", "/data/upload", body=body, headers={
            "X-Requested-With": "o2o-upload", "X-File-Name": path.name,
            "Content-Length": str(path.stat().st_size), "Content-Type": "text/csv"})  # fmt: skip
        response = conn.getresponse()
        answer = json.loads(response.read())
    conn.close()
    return response.status, answer, time.perf_counter() - started


class Peak:
    """The highest RSS of ``pid`` sampled every 20 ms while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self) -> Peak:
        self.before = self.peak = rss(self.pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            try:
                self.peak = max(self.peak, rss(self.pid))
            except psutil.Error:
                return

    def __exit__(self, *_exc) -> None:
        self._done.set()
        self._thread.join()


class Latency:
    """GET /healthz every 100 ms while the block runs: the slowest answer (the job shares the
    serving process with the requests)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.times: list[float] = []

    def __enter__(self) -> Latency:
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._probe, daemon=True)
        self._thread.start()
        return self

    def _probe(self) -> None:
        while not self._done.wait(0.1):
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            self.times.append(time.perf_counter() - started)

    def __exit__(self, *_exc) -> None:
        self._done.set()
        self._thread.join()

    def summary(self) -> str:
        ordered = sorted(self.times) or [0.0]
        return (f"/healthz during it: {len(ordered)} answers, median {ordered[len(ordered) // 2] * 1000:.0f} ms, "
                f"slowest {ordered[-1] * 1000:.0f} ms")


def wait_checked(database: Path, job_id: int, timeout: float = 900) -> tuple[str, str, float]:
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            status, message = conn.execute("SELECT status, message FROM import_jobs WHERE id = ?", (job_id,)).fetchone()
        if status not in ("uploaded", "checking"):
            return status, (message or "")[:120], time.perf_counter() - started
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} not checked within {timeout} s")


def measure(port: int, pid: int, path: Path) -> dict:
    before = rss(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            try:
                peak[0] = max(peak[0], rss(pid))
            except psutil.Error:
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    status, answer, seconds = upload(port, path)
    done.set()
    sampler.join()
    time.sleep(0.5)
    return {"status": status, "job": answer.get("job", {}).get("id"), "error": answer.get("error"),
            "seconds": seconds, "before": before, "peak": peak[0], "after": rss(pid)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 150], help="file sizes in MB")
    parser.add_argument("--check", action="store_true", help="also measure the check job after each upload")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="o2o-bench-upload-") as scratch:
        root = Path(scratch)
        files = []
        for size in args.sizes:
            path = root / f"upload-{size}mb.csv"
            write_csv(path, size)
            files.append(path)
        data = root / "instance" / "var"
        with live_server(data, f"sqlite:///{data / 'o2o.sqlite3'}", "redis://127.0.0.1:1/0",
                         O2O_WORKERS="1", O2O_IMPORT_WORKER="1" if args.check else "0",
                         O2O_CACHE_WARM="0") as server:  # fmt: skip
            pid = serving_pid(server.process.pid)
            for path in files:
                got = measure(server.port, pid, path)
                size = path.stat().st_size
                print(f"{path.name}: {size / MB:.0f} MB → HTTP {got['status']} job {got['job']} "
                      f"{got['error'] or ''} in {got['seconds']:.1f} s ({size / MB / got['seconds']:.0f} MB/s); "
                      f"serving process RSS {got['before'] / MB:.0f} → peak {got['peak'] / MB:.0f} → "
                      f"{got['after'] / MB:.0f} MB")  # fmt: skip
                if args.check and got["job"] is not None:
                    with Peak(pid) as peak, Latency(server.port) as latency:
                        status, message, seconds = wait_checked(data / "o2o.sqlite3", got["job"])
                    time.sleep(1.0)
                    print(f"  check: {status} in {seconds:.1f} s ({message}); serving process RSS "
                          f"{peak.before / MB:.0f} → peak {peak.peak / MB:.0f} → {rss(pid) / MB:.0f} MB; "
                          f"{latency.summary()}")
            stored = sum(p.stat().st_size for p in (data / "uploads").glob("*/*"))
            print(f"stored under uploads/: {stored / MB:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
