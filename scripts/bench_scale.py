"""Benchmark: the read path at chain scale (300 stores × 365 days, ~16 M lines) on PostgreSQL.

    .venv/bin/python scripts/generate_demo.py --stores 300 --days 365 --out /tmp/scale/demo
    .venv/bin/python scripts/import_orders.py /tmp/scale/demo/*.csv        # O2O_DATABASE_URL=…/o2o_scale
    .venv/bin/python scripts/bench_scale.py --database-url postgresql://postgres@127.0.0.1:5432/o2o_scale

Sections (``--sections``, default all):
- ``tables``: rows and size on disk (``pg_total_relation_size``) of every table;
- ``pieces``: each read-model table loaded from the database (COPY → Arrow → frame, then
  integer units), its rows, frame bytes and file bytes, with the query / conversion split;
- ``worker``: a fresh process mapping every table file (what a second worker does): its RSS;
- ``views``: every page's view for one store and all stores over the last 365 / 30 / 7 days:
  ``cold`` = the service with the view cache off (tables loaded), ``assembled`` = a view
  not cached yet with the cache on (the window moved back a day on every call),
  ``warm`` = an in-process cache hit;
- ``profile``: where an all-stores 商品分析 over the year goes (select, bincount sums), on the
  store-level product table and on its chain table (``readmodel.chain``).

A benchmark, not a test: it prints figures for docs/PERFORMANCE.md. The services it calls are
named in ``VIEWS`` and the table loaders in ``PIECES``; the filters are built in ``selection``
only, so the script can be pointed at a new read path by changing those three places.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import text

from analytics import use_python_strings
from config import Settings
from db.engine import make_engine, reading
from db.queries import data_date_bounds, stores
from readmodel import Selection, chain, sums
from readmodel.tables import (
    CHAIN_TABLES,
    CHANNEL_TABLE_MEASURES,
    DISTANCE_MEASURES,
    HOUR_MEASURES,
    PRODUCT_MEASURES,
    TABLES,
)
from scripts._bench import machine
from scripts.bench_diagnosis import DIAGNOSIS, PAGES
from scripts.bench_kpis import measure
from services.runtime import Runtime, build_runtime

VIEWS = {**{f"门店诊断/{k}": (lambda rt, f, s=s: s(rt, f)) for k, s in DIAGNOSIS.items()}, **PAGES}
PIECES = {  # name → loader(runtime); each table a mapped file shared by the host's workers
    **{name: (lambda rt, n=name: rt.tables.table(n)) for name in TABLES},
    **{f"{name}_chain": (lambda rt, n=name: rt.tables.chain_table(n)) for name in CHAIN_TABLES},
    "orders": lambda rt: rt.tables.flagged_orders(rt.settings.rules.todo.costly_delivery_fee),
}
CLOSED_REDIS = "redis://127.0.0.1:1/0"  # L2 off: the figures are this process's own work
MB = 1024 * 1024


def selection(start: dt.date, end: dt.date, store_ids: list[int] | None) -> Selection:
    """The one place the selection of a view is built."""
    return Selection.build(start, end, store_ids, None)


def proc_status() -> dict[str, int]:
    """This process's VmRSS, VmHWM, RssAnon, RssFile in MB (Linux)."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            found[name] = int(value.split()[0]) // 1024
    return found


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def tables(database_url: str) -> None:
    print("\n## tables: rows, size on disk (pg_total_relation_size, indexes included)")
    engine = make_engine(database_url)
    with engine.connect() as conn:
        names = conn.execute(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY pg_total_relation_size(c.oid) DESC"
        )).scalars().all()  # fmt: skip
        for name in names:
            rows = conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            size = conn.execute(text("SELECT pg_total_relation_size(:n), pg_relation_size(:n)"), {"n": name}).one()
            print(f"table {name:<28} rows {rows:>12,}  total {size[0] / MB:9.1f} MB  heap {size[1] / MB:9.1f} MB")
    engine.dispose()


def piece_profile(runtime: Runtime) -> None:
    """The read model's table loads split into the COPY → Arrow query and the conversion to
    integer units (``readmodel.tables``' loaders: adjust here when they change)."""
    from db import queries

    loads = {
        "channel": ("channel", (), CHANNEL_TABLE_MEASURES, True),
        "hour": ("hour", ("hour",), HOUR_MEASURES, True),
        "distance": ("distance", ("distance_band",), DISTANCE_MEASURES, True),
        "product": ("product", ("product_id",), PRODUCT_MEASURES, True),
    }
    for name, (aggregate, keys, measures, compact) in loads.items():
        started = time.perf_counter()
        with reading(runtime.engine, timeout_s=3600) as conn:
            frame = queries.aggregate_rows(conn, aggregate, keys, measures)
        queried = time.perf_counter() - started
        rss = proc_status()["VmHWM"]
        started = time.perf_counter()
        piece = sums.as_table(frame, measures, compact=compact)
        converted = time.perf_counter() - started
        print(f"profile piece {name:<9} rows {len(piece):>11,}  COPY→Arrow→frame {queried:6.1f} s  "
              f"to units {converted:5.1f} s  float frame {frame.memory_usage(deep=True).sum() / MB:7.1f} MB  "
              f"piece {piece.memory_usage(deep=True).sum() / MB:7.1f} MB  peak RSS so far {rss:,} MB")
        del frame, piece


def load_pieces(runtime: Runtime, label: str) -> None:
    before = proc_status()
    for name, loader in PIECES.items():
        started = time.perf_counter()
        frame = loader(runtime)
        seconds = time.perf_counter() - started
        status = proc_status()
        print(f"{label} {name:<17} {seconds:7.2f} s  rows {len(frame):>11,}  "
              f"frame {frame.memory_usage(deep=True).sum() / MB:8.1f} MB  "
              f"RSS {status['VmRSS']:,} MB (anon {status['RssAnon']:,}, file {status['RssFile']:,}) "
              f"peak {status['VmHWM']:,} MB  load {load_average()}")
    print(f"{label} RSS before {before['VmRSS']:,} MB → after {proc_status()['VmRSS']:,} MB")


def piece_files(data_dir: Path) -> None:
    files = sorted((data_dir / "tables").glob("*.arrow"), key=lambda p: -p.stat().st_size)
    for path in files:
        print(f"file {path.name[:70]:<70} {path.stat().st_size / MB:8.1f} MB")
    print(f"files total {sum(p.stat().st_size for p in files) / MB:.1f} MB in {len(files)} files")


def views(runtime_cold: Runtime, warm: Runtime, store_ids: list[int], last: dt.date, windows: list[int],
          repeat: int, sql_repeat: int, skip_sql: set[str]) -> None:  # fmt: skip
    print("\n## views: p50 (p95) ms; cold = view cache off, assembled = not cached yet, warm = cache hit")
    for number, days in enumerate(windows):
        start = last - dt.timedelta(days=days - 1)
        shift = number * (repeat + 2)  # no window ends on a day another window's views were cached for
        scopes = (("one store", lambda i: [store_ids[i % len(store_ids)]]), ("all stores", lambda i: None))
        for scope, stores_of in scopes:
            def filters(i: int, stores_of=stores_of, start=start) -> Selection:
                return selection(start, last, stores_of(i))

            def moved(i: int, stores_of=stores_of, start=start, shift=shift) -> Selection:
                back = dt.timedelta(days=shift + i + 1)
                return selection(start - back, last - back, stores_of(i))

            for name, view in VIEWS.items():
                line = f"view {days:>3} d {scope:<10} {name:<14}"
                if sql_repeat and f"{scope}/{name}" not in skip_sql and name not in skip_sql:
                    r = measure(lambda i, v=view: v(runtime_cold, filters(i)), sql_repeat)
                    line += f" cold {r['p50']:8.0f} ({r['p95']:8.0f})"
                view(warm, moved(repeat + 1))  # the pieces it needs are loaded (not timed)
                r = measure(lambda i, v=view: v(warm, moved(i)), repeat)
                line += f"  assembled {r['p50']:8.1f} ({r['p95']:8.1f})"
                view(warm, filters(0))
                r = measure(lambda _i, v=view: v(warm, filters(0)), repeat * 10)
                line += f"  warm {r['p50']:6.3f} ({r['p95']:6.3f})"
                print(line + f"  load {load_average()}", flush=True)


def profile(warm: Runtime, first: dt.date, last: dt.date, tile_days: int) -> None:
    """商品分析's sums over the product table, split: select the rows, product_totals (3 bincount
    passes), store × day × product sums, product × day sums (category trend). With ``tile_days``
    the loaded piece is first repeated in time (days shifted by its span) to that many days: the
    sums cost what their row count costs, so this shows a year's piece before a year is imported."""
    piece = warm.tables.table("product")
    span = (last - first).days + 1
    copies = max(1, -(-tile_days // span)) if tile_days else 1
    if copies > 1:
        piece = pd.concat([piece.assign(day=piece["day"] + k * span) for k in range(copies)], ignore_index=True)
        piece = piece.sort_values(["store_id", "day"], kind="stable", ignore_index=True)
        last = last + dt.timedelta(days=(copies - 1) * span)
    stores_of = sorted(set(piece["store_id"].to_numpy()[:: max(1, len(piece) // 1000)].tolist()))
    started = time.perf_counter()
    whole = chain.build(piece, *CHAIN_TABLES["product"])
    print(f"profile product piece: {len(piece):,} rows ({copies} × the loaded piece), "
          f"{piece.memory_usage(deep=True).sum() / MB:.0f} MB; its chain table {len(whole):,} rows, "
          f"{whole.memory_usage(deep=True).sum() / MB:.0f} MB, built in {time.perf_counter() - started:.1f} s")
    for days in (365, 30, 7):
        start = last - dt.timedelta(days=days - 1)
        for scope, store_ids in (("all stores", None), ("one store", [stores_of[0]])):
            t0 = time.perf_counter()
            rows = sums.select(piece, selection(start, last, store_ids), warm.settings.fee_channels)
            t1 = time.perf_counter()
            sums.product_totals(piece, rows, PRODUCT_MEASURES)
            t2 = time.perf_counter()
            sums.sums(piece, rows, ["store_id", "day", "product_id"], PRODUCT_MEASURES)
            t3 = time.perf_counter()
            sums.sums(piece, rows, ["product_id", "day"], ["revenue"])
            t4 = time.perf_counter()
            print(f"profile {days:>3} d {scope:<10} rows {len(rows):>11,}  select {(t1 - t0) * 1000:6.0f} ms  "
                  f"product_totals {(t2 - t1) * 1000:6.0f} ms  store×day×product {(t3 - t2) * 1000:6.0f} ms  "
                  f"product×day {(t4 - t3) * 1000:6.0f} ms  load {load_average()}", flush=True)
            if store_ids is None:  # what the views read for every store: the chain table
                t0 = time.perf_counter()
                rows = sums.select(whole, selection(start, last, None), warm.settings.fee_channels)
                t1 = time.perf_counter()
                chain.product_totals(whole, rows, PRODUCT_MEASURES)
                t2 = time.perf_counter()
                sums.sums(whole, rows, ["product_id", "day"], ["revenue"])
                t3 = time.perf_counter()
                print(f"profile {days:>3} d chain      rows {len(rows):>11,}  select {(t1 - t0) * 1000:6.0f} ms  "
                      f"product_totals {(t2 - t1) * 1000:6.0f} ms  product×day {(t3 - t2) * 1000:6.0f} ms", flush=True)


def worker_child(database_url: str, data_dir: Path) -> int:
    """Run in a fresh process: map every piece file the parent wrote (a second worker)."""
    settings = Settings.from_env({}, database_url=database_url, data_dir=data_dir, redis_url=CLOSED_REDIS,
                                 cache_warm=False)  # fmt: skip
    runtime = build_runtime(settings)
    load_pieces(runtime, "worker")
    print(json.dumps(proc_status()))
    return 0


def main() -> int:
    use_python_strings()  # the app's pandas text storage (analytics)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", type=Path, help="where the piece files go (default: a temporary directory)")
    parser.add_argument("--sections", default="tables,pieces,worker,views,profile")
    parser.add_argument("--windows", type=int, nargs="+", default=[365, 30, 7], help="days ending on the last day")
    parser.add_argument("--repeat", type=int, default=5, help="assembled calls per figure (warm: 10×)")
    parser.add_argument("--sql-repeat", type=int, default=2, help="cache-off calls per figure (0: none)")
    parser.add_argument("--skip-sql", default="", help="comma-separated view names (or 'scope/name') not run cache-off")
    parser.add_argument("--tile-days", type=int, default=0,
                        help="profile: repeat the product piece in time to this many days first")
    parser.add_argument("--worker-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp)
        if args.worker_child:
            return worker_child(args.database_url, data_dir)
        return run(args, data_dir)


def run(args, data_dir: Path) -> int:
    sections = set(args.sections.split(","))
    settings = Settings.from_env({}, database_url=args.database_url, data_dir=data_dir, cache_enabled=False,
                                 db_load_timeout_s=3600.0)  # fmt: skip
    cold = Runtime(settings=settings, engine=make_engine(settings.database_url))
    with reading(cold.engine, timeout_s=600) as conn:
        first, last = data_date_bounds(conn)
        store_ids = [int(i) for i in stores(conn)["id"]]
    print(f"# bench_scale {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — {machine()}, load {load_average()}")
    print(f"data: {len(store_ids)} stores, {first} … {last} ({(last - first).days + 1} days)")
    if "tables" in sections:
        tables(args.database_url)
    warm = build_runtime(Settings.from_env({}, database_url=args.database_url, data_dir=data_dir,
                                           redis_url=CLOSED_REDIS, cache_warm=False, db_load_timeout_s=3600.0))
    if "pieces" in sections:
        print("\n## pieces: computed from the database by this process (then written as mapped files)")
        if "profile" in sections:
            piece_profile(cold)
        load_pieces(warm, "piece")
        piece_files(data_dir)
    if "worker" in sections:
        print("\n## worker: a fresh process mapping the piece files")
        subprocess.run([sys.executable, __file__, "--database-url", args.database_url, "--data-dir", str(data_dir),
                        "--worker-child"], check=True)  # fmt: skip
    if "views" in sections:
        skip = {s.strip() for s in args.skip_sql.split(",") if s.strip()}
        views(cold, warm, store_ids, last, args.windows, args.repeat, args.sql_repeat, skip)
        print(f"bench process after the views: {proc_status()}")
    if "profile" in sections:
        profile(warm, first, last, args.tile_days)
    cold.engine.dispose()
    warm.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
