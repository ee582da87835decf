"""Benchmark: what the check before mapping a read-model table file costs (size, trailer, CRC-32
read with read()) next to mapping it and building the frame, for every table of a demo database.

    .venv/bin/python scripts/bench_pieces.py --stores 100 --days 90      # seeds a scratch PostgreSQL
    .venv/bin/python scripts/bench_pieces.py --database-url postgresql://…/o2o_load

The tables are loaded once through the app's read model (so the files are what the app writes),
then each file is loaded ``--repeat`` times with the page cache warm (the usual case: the
workers of a host load the file another one just wrote) and once after dropping it from the
page cache (``posix_fadvise(DONTNEED)`` on that file alone, where the platform has it).
"""

from __future__ import annotations

import argparse
import mmap
import os
import statistics
import tempfile
import time
from pathlib import Path

from analytics import use_python_strings
from config import Settings
from db.demo_data import DemoSpec
from db.engine import make_engine
from db.migrate import upgrade
from db.seed import seed_demo
from readmodel.store import ArrowFileStore, _crc32
from readmodel.tables import TABLES
from scripts._bench import machine, scratch_postgres
from services.runtime import build_runtime


def timed(fn, repeat: int) -> float:
    """Median milliseconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def evict(path: Path) -> bool:
    """Drop this file's pages from the page cache (POSIX_FADV_DONTNEED; only this file, no other
    program's cache); False where the platform has no posix_fadvise."""
    if not hasattr(os, "posix_fadvise"):
        return False
    with open(path, "rb") as file:
        os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    return True


def measure(database_url: str, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({}, database_url=database_url, data_dir=Path(tmp), cache_warm=False)
        runtime = build_runtime(settings)
        for name in TABLES:
            runtime.tables.table(name)
        runtime.tables.flagged_orders(settings.rules.todo.costly_delivery_fee)
        tier: ArrowFileStore = runtime.tables.shared.files
        rows = []
        for path in sorted(tier.directory.glob("v*.arrow"), key=lambda p: -p.stat().st_size):
            _version, database, key = path.name[1 : -len(tier.SUFFIX)].split("-", 2)
            version = int(_version)
            length = path.stat().st_size - tier.TRAILER.size

            def check(path=path, length=length) -> None:
                with open(path, "rb") as file:
                    _crc32(file, length, tier._CHUNK)

            def map_only(path=path, length=length) -> None:
                with open(path, "rb") as file:
                    tier._frame(mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ), length)

            load = lambda key=key, version=version, database=database: tier.load(key, version, database)  # noqa: E731
            cold = None
            if evict(path):
                started = time.perf_counter()
                load()
                cold = (time.perf_counter() - started) * 1000
            rows.append((path.stat().st_size, timed(check, repeat), timed(map_only, repeat), timed(load, repeat),
                         cold))  # fmt: skip
        runtime.engine.dispose()
    print(f"machine: {machine()}")
    print("| file MB | CRC-32 check ms | map + frame ms | load (check + map) ms | load, file evicted ms |")
    print("|---:|---:|---:|---:|---:|")
    for size, crc, mapped, load, cold in rows:
        dropped = "—" if cold is None else f"{cold:.1f}"
        print(f"| {size / 1024**2:.1f} | {crc:.2f} | {mapped:.2f} | {load:.2f} | {dropped} |")
    total = [sum(r[i] for r in rows) for i in range(1, 4)]
    print(f"all {len(rows)} tables ({sum(r[0] for r in rows) / 1024**2:.1f} MB): check {total[0]:.1f} ms, "
          f"map {total[1]:.1f} ms, load {total[2]:.1f} ms (median of {repeat})")  # fmt: skip


def main() -> int:
    use_python_strings()  # the app's pandas text storage (analytics)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a database with data (default: a scratch PostgreSQL, seeded)")
    parser.add_argument("--stores", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if args.database_url:
        measure(args.database_url, args.repeat)
        return 0
    with scratch_postgres() as url:
        engine = make_engine(url)
        upgrade(engine)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings.from_env({}, database_url=url, data_dir=Path(tmp))
            started = time.perf_counter()
            seed_demo(engine, settings, DemoSpec(stores=args.stores, days=args.days))
            print(f"seeded {args.stores} stores × {args.days} days in {time.perf_counter() - started:.0f} s")
        engine.dispose()
        measure(url, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
