"""Benchmark: server-side latency of the six KPI cards (service call, no cache) on a loaded DB.

    .venv/bin/python scripts/bench_kpis.py --database-url postgresql://postgres@127.0.0.1:5432/o2o_bench

Measures ``services.diagnosis.store_kpis`` for one store and for all stores over the whole data
range (each call computes from the database: these are the cache-miss figures).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time

from analytics import use_python_strings
from config import Settings
from db.engine import make_engine, reading
from db.queries import data_date_bounds, stores
from readmodel.selection import Selection
from scripts._bench import machine
from services.diagnosis import store_kpis
from services.runtime import Runtime


def measure(fn, repeat: int) -> dict[str, float]:
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - started) * 1000)
    ordered = sorted(times)
    return {
        "first": times[0],
        "p50": statistics.median(times),
        "p95": ordered[max(0, round(0.95 * len(ordered)) - 1)],
    }


def main() -> int:
    use_python_strings()  # the app's pandas text storage (analytics)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    settings = Settings.from_env({}, database_url=args.database_url)
    runtime = Runtime(settings=settings, engine=make_engine(settings.database_url))
    with reading(runtime.engine) as conn:
        first, last = data_date_bounds(conn)
        store_ids = [int(i) for i in stores(conn)["id"]]
    days = (last - first).days + 1
    print(f"# bench_kpis {dt.datetime.now():%Y-%m-%d %H:%M} — {machine()}")
    print(f"data: {len(store_ids)} stores, {first} … {last} ({days} days), {runtime.engine.dialect.name}")

    def one_store(i: int) -> None:
        store = store_ids[i % len(store_ids)]
        store_kpis(runtime, Selection.build(first, last, [store], None))

    def all_stores(_i: int) -> None:
        store_kpis(runtime, Selection.build(first, last, None, None))

    for label, fn in (("one store", one_store), ("all stores", all_stores)):
        r = measure(fn, args.repeat)
        print(f"store_kpis {label}, {days} days: first {r['first']:.0f} ms, "
              f"p50 {r['p50']:.0f} ms, p95 {r['p95']:.0f} ms (n={args.repeat})")
    runtime.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
