"""Benchmark: server-side time of every page's view-models, cold (no view cache: computed from
the read model's tables in memory), assembled (through the app's cache, a view not cached yet)
and warm (served by the cache), for one store and for all stores over the whole data range; and
what loading the read model's tables costs once per data version.

    .venv/bin/python scripts/bench_diagnosis.py --database-url postgresql://postgres@127.0.0.1:5432/o2o_load

Tables: loaded from the database and written to the host's files (what the first worker pays
after an import), then mapped from those files by a second process (what the other workers pay).
Cold figures call the services with no view cache (the tables loaded before timing); assembled
figures go through the app's CacheManager with a window moved back one more day on every call (a
view nobody asked for before: what a new store / channel / window combination costs); warm
figures repeat one call (an in-process L1 hit, what a repeat view costs). The 门店诊断 page total
is the sum of its five sections (the browser sends them in parallel, so this is an upper bound).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from analytics import use_python_strings
from config import Settings
from db.engine import make_engine, reading
from db.queries import data_date_bounds, stores
from readmodel.selection import Selection
from readmodel.tables import TABLES
from scripts._bench import machine
from scripts.bench_kpis import measure
from services import analysis
from services.diagnosis import store_kpis
from services.runtime import Runtime, build_runtime
from services.todo import daily_trend, store_health, todo_list

DIAGNOSIS = {"KPI 卡片": store_kpis, "今日必做": todo_list, "健康分": store_health, "每日趋势": daily_trend,
             "异常订单数": analysis.channel_analysis}  # fmt: skip
PAGES = {
    "经营总览": lambda rt, f: analysis.store_overview(rt, f),
    "商品分析": lambda rt, f: analysis.product_analysis(rt, f, 0.5, 0.25),
    "时段分析": lambda rt, f: analysis.time_analysis(rt, f),
    "渠道分析": lambda rt, f: analysis.channel_analysis(rt, f),
    "配送分析": lambda rt, f: analysis.distance_analysis(rt, f),
}


def load_tables(runtime: Runtime) -> float:
    """Seconds to read every table of the read model (from the host's files or the database)."""
    started = time.perf_counter()
    for name in TABLES:
        runtime.tables.table(name)
    runtime.tables.flagged_orders(runtime.settings.rules.todo.costly_delivery_fee)
    return time.perf_counter() - started


def run_scope(scope: str, filters, moved, cold: Runtime, warm: Runtime, repeat: int) -> None:
    total = 0.0
    for name, service in DIAGNOSIS.items():
        r = measure(lambda i, s=service: s(cold, filters(i)), repeat)
        total += r["p50"]
        print(f"cold  门店诊断/{name:<6} {scope:<10} p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms")
    print(f"cold  门店诊断 total      {scope:<10} p50 {total:7.1f} ms (sum of sections)")
    for name, view in PAGES.items():
        r = measure(lambda i, v=view: v(cold, filters(i)), repeat)
        print(f"cold  {name:<12} {scope:<10} p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms")
    views = {**{f"门店诊断/{k}": (lambda rt, f, s=s: s(rt, f)) for k, s in DIAGNOSIS.items()}, **PAGES}
    for view in views.values():
        view(warm, moved(repeat + 1))  # maps the tables (not timed)
    for name, view in views.items():
        r = measure(lambda i, v=view: v(warm, moved(i)), repeat)
        print(f"assembled {name:<12} {scope:<10} p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms")
    for name, view in views.items():
        view(warm, filters(0))  # compute once, then every call is a cache hit
        r = measure(lambda _i, v=view: v(warm, filters(0)), repeat * 10)
        print(f"warm  {name:<12} {scope:<10} p50 {r['p50']:7.3f} ms  p95 {r['p95']:7.3f} ms")


def main() -> int:
    use_python_strings()  # the app's pandas text storage (analytics)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=10, help="cold calls per figure (warm: 10×)")
    parser.add_argument("--days", type=int, default=90, help="period length ending on the last day of data")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="bench_diagnosis-"))  # no table files yet
    settings = Settings.from_env({}, database_url=args.database_url, data_dir=data_dir)
    cold = Runtime(settings=settings, engine=make_engine(settings.database_url))
    with reading(cold.engine) as conn:
        first, last = data_date_bounds(conn)
        store_ids = [int(i) for i in stores(conn)["id"]]
    start = max(first, last - dt.timedelta(days=args.days - 1))
    print(f"# bench_diagnosis {dt.datetime.now():%Y-%m-%d %H:%M} — {machine()}")
    print(f"data: {len(store_ids)} stores, {start} … {last} ({(last - start).days + 1} days), "
          f"{cold.engine.dialect.name}")  # fmt: skip
    loaded = load_tables(cold)
    mapped = load_tables(Runtime(settings=settings, engine=cold.engine))  # another process of the host
    print(f"tables: loaded from the database and written {loaded:.2f} s, mapped by another process "
          f"{mapped * 1000:.0f} ms")  # fmt: skip

    def one(i: int) -> Selection:
        return Selection.build(start, last, [store_ids[i % len(store_ids)]], None)

    def everyone(_i: int) -> Selection:
        return Selection.build(start, last, None, None)

    def moved(stores_of):
        def filters(i: int) -> Selection:
            back = dt.timedelta(days=i + 1)
            return Selection.build(start - back, last - back, stores_of(i), None)

        return filters

    warm = build_runtime(Settings.from_env({}, database_url=args.database_url, data_dir=data_dir,
                                           redis_url="redis://127.0.0.1:1/0"))  # fmt: skip
    scopes = (("one store", one, lambda i: [store_ids[i % len(store_ids)]]), ("all stores", everyone, lambda i: None))
    for scope, filters, stores_of in scopes:
        run_scope(scope, filters, moved(stores_of), cold, warm, args.repeat)
    cold.engine.dispose()
    warm.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
