"""Benchmark: demo generation time and importer throughput (item rows/s) into PostgreSQL.

    .venv/bin/python scripts/bench_import.py [--stores 100 --days 90] [--format xlsx] [--keep NAME]
                                             [--reimport]

Creates a scratch database (dropped afterwards unless --keep NAME), generates the demo data,
writes monthly CSV (or XLSX) exports and imports them through the real importer.
``--reimport``: then imports the last file again (every order replaced: its stored versions are
copied to the history tables) and undoes that batch (they come back), timing both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import Settings
from db.demo_data import DemoSpec, generate_orders, write_exports
from db.engine import make_engine
from db.importer import import_file
from db.migrate import upgrade
from scripts._bench import DEFAULT_PG_ADMIN, machine, scratch_postgres


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--admin-url", default=DEFAULT_PG_ADMIN)
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="export file type")
    parser.add_argument("--keep", metavar="NAME", help="keep the loaded database under this name")
    parser.add_argument("--reimport", action="store_true", help="re-import the last file, then undo that batch")
    args = parser.parse_args()

    spec = DemoSpec(stores=args.stores, days=args.days, seed=args.seed)
    print(f"# bench_import {dt.datetime.now():%Y-%m-%d %H:%M} — {machine()}")
    started = time.perf_counter()
    lines, _truth = generate_orders(spec)
    generate_s = time.perf_counter() - started
    print(f"generate_orders({args.stores} stores × {args.days} days): {generate_s:.1f} s, {len(lines):,} lines")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        paths = write_exports(lines, Path(tmp), fmt=args.format)
        print(f"write_exports {args.format}: {time.perf_counter() - started:.1f} s, {len(paths)} files")
        del lines
        with scratch_postgres(args.admin_url, keep=bool(args.keep), name=args.keep) as url:
            engine = make_engine(url)
            upgrade(engine)
            settings = Settings.from_env({}, database_url=url, data_dir=Path(tmp))
            total_rows, total_s = 0, 0.0
            for path in paths:
                started = time.perf_counter()
                result = import_file(engine, path, settings)
                elapsed = time.perf_counter() - started
                if result.status != "imported":
                    print(result.message)
                    return 1
                total_rows += result.stats.rows
                total_s += elapsed
                stages = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
                print(
                    f"  {path.name}: {result.stats.rows:,} rows / {result.stats.orders:,} orders "
                    f"in {elapsed:.1f} s = {result.stats.rows / elapsed:,.0f} rows/s ({stages})"
                )
            print(f"import total: {total_rows:,} rows in {total_s:.1f} s = {total_rows / total_s:,.0f} item rows/s")
            if args.reimport:
                _reimport_and_undo(engine, paths[-1], settings)
            engine.dispose()
            if args.keep:
                print(f"database kept: {url}")
    return 0


def _reimport_and_undo(engine, path: Path, settings: Settings) -> None:
    """The provenance path: a file that replaces every one of its orders, then its undo."""
    from db.importer.undo import undo_batch

    started = time.perf_counter()
    result = import_file(engine, path, settings, force=True)
    elapsed = time.perf_counter() - started
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    print(f"  re-import {path.name} (every order replaced): {result.stats.orders:,} orders in {elapsed:.1f} s "
          f"({stages})")  # fmt: skip
    started = time.perf_counter()
    undone = undo_batch(engine, result.batch_id)
    print(f"  undo of that batch: {undone.orders_restored:,} orders restored, {undone.affected_store_days:,} "
          f"store-days rebuilt in {time.perf_counter() - started:.1f} s")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
