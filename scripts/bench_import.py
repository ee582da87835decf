"""Benchmark: demo generation time and importer throughput (lines/s) and peak RSS into PostgreSQL.

    .venv/bin/python scripts/bench_import.py [--stores 100 --days 90] [--format xlsx] [--keep NAME]
    .venv/bin/python scripts/bench_import.py --big-csv 1.0          # one ~1 GB CSV, then import it
    .venv/bin/python scripts/bench_import.py --tuned                # a private cluster, site settings
    .venv/bin/python scripts/bench_import.py --reimport             # then re-import the last file, undo it

Creates a scratch database (dropped afterwards unless --keep NAME), generates the demo data,
writes monthly CSV (or XLSX) exports and imports them through the real importer, each file in a
fresh child process whose peak RSS (VmHWM: interpreter, imports and the import itself) is
printed with its lines/s. ``--big-csv GB`` concatenates the demo months, again and again with
order ids and dates shifted (new orders, new store-days), into one CSV of about GB gigabytes and
imports that. ``--tuned`` runs PostgreSQL in a private cluster (initdb as user postgres, removed
afterwards) with TUNED_SETTINGS instead of the shared server on 5432; ``--copy-probe`` measures
PostgreSQL's bare ingest (COPY of the demo's lines into a copy of order_items).
``--reimport``: then imports the last file again (every order replaced: its stored versions are
copied to the history tables) and undoes that batch (they come back), timing both.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from config import Settings
from db.engine import make_engine
from scripts._bench import DEFAULT_PG_ADMIN, machine, scratch_postgres

# What docs/PERFORMANCE.md recommends for a site that imports large files (crash-safe: fsync and
# full_page_writes stay on). wal_level=minimal needs max_wal_senders=0 (no replication).
TUNED_SETTINGS = {
    "shared_buffers": "2GB",
    "max_wal_size": "16GB",
    "min_wal_size": "2GB",
    "checkpoint_timeout": "30min",
    "wal_buffers": "64MB",
    "wal_compression": "on",
    "maintenance_work_mem": "1GB",
    "synchronous_commit": "on",
}


def child(url: str, path: str, data_dir: str, chunk_lines: int) -> int:
    """Import one file (in a fresh process) and print its figures as one JSON line."""
    from analytics import use_python_strings
    from db.importer import import_file

    use_python_strings()  # the app's pandas text storage (analytics)

    settings = Settings.from_env(
        {}, database_url=url, data_dir=Path(data_dir), max_import_bytes=1 << 40,
        **({"import_chunk_lines": chunk_lines} if chunk_lines else {}),
    )  # fmt: skip
    engine = make_engine(url)
    ticks = [0]
    started = time.perf_counter()
    result = import_file(engine, Path(path), settings, on_progress=lambda *_a: ticks.__setitem__(0, ticks[0] + 1))
    elapsed = time.perf_counter() - started
    engine.dispose()
    peak_mb = peak_rss_mb()
    out = {"status": result.status, "message": result.message[:500], "seconds": elapsed, "peak_rss_mb": peak_mb,
           "timings": result.timings, "progress_calls": ticks[0]}  # fmt: skip
    if result.stats is not None:
        out.update(rows=result.stats.rows, orders=result.stats.orders)
    print(json.dumps(out, ensure_ascii=False, default=str))
    return 0 if result.status == "imported" else 1


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries that over exec from
    the forking parent, which here holds the whole demo."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def import_in_child(url: str, path: Path, data_dir: Path, chunk_lines: int) -> dict:
    command = [sys.executable, __file__, "--child", url, str(path), str(data_dir), str(chunk_lines)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"import of {path.name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1])


def big_csv(sources: list[Path], out: Path, gigabytes: float) -> tuple[Path, int]:
    """Concatenate the monthly CSVs into ``out`` until it holds ``gigabytes`` GB: copy k shifts
    every date by k × 92 days and suffixes every order id with "-k" (new orders, new store-days)."""
    import pandas as pd

    target = int(gigabytes * (1 << 30))
    lines = 0
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        header_written = False
        for copy in range(1000):
            for source in sources:
                for frame in pd.read_csv(source, dtype=str, keep_default_na=False, chunksize=200_000):
                    if copy:
                        frame["订单ID"] = frame["订单ID"] + f"-{copy}"
                        stamps = pd.to_datetime(frame["下单时间"], format="%Y-%m-%d %H:%M:%S")
                        frame["下单时间"] = (stamps + pd.Timedelta(days=92 * copy)).dt.strftime("%Y-%m-%d %H:%M:%S")
                    frame.to_csv(fh, index=False, header=not header_written, lineterminator="\n")
                    header_written = True
                    lines += len(frame)
                    if fh.tell() >= target:
                        return out, lines
    return out, lines


@contextlib.contextmanager
def tuned_cluster():
    from tests.private_postgres import PrivatePostgres

    cluster = PrivatePostgres(settings=TUNED_SETTINGS | {"listen_addresses": "127.0.0.1"})
    reason = cluster.unavailable_reason()
    if reason:
        raise SystemExit(f"--tuned: {reason}")
    cluster.start()
    try:
        yield cluster.url()
    finally:
        cluster.stop()


def copy_probe(url: str, path: Path) -> None:
    """PostgreSQL's bare ingest on this server: COPY the file's lines (as order_items rows) into a
    scratch copy of order_items with its primary key, then without it, in one transaction each."""
    import io

    import pandas as pd

    columns = {"quantity": "月售", "list_price": "商品原价", "sale_price": "商品实售价", "received_price": "实收价格",
               "cost": "商品采购成本", "profit": "利润额", "item_discount": "商品减免金额"}  # fmt: skip
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=list(columns.values()))
    n = len(frame)
    data = pd.DataFrame({"order_id": range(n), "line_no": 1, "product_id": 1})
    for name, header in columns.items():
        data[name] = frame[header].replace("", "0")
    buffer = io.StringIO()
    data.to_csv(buffer, index=False, header=False)
    text = buffer.getvalue()
    engine = make_engine(url)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for keyed in (True, False):
            cursor = raw.cursor()
            cursor.execute("DROP TABLE IF EXISTS probe_items")
            cursor.execute("CREATE TABLE probe_items (LIKE order_items INCLUDING DEFAULTS"
                           + (" INCLUDING INDEXES)" if keyed else ")"))  # fmt: skip
            raw.commit()
            started = time.perf_counter()
            cursor.copy_expert(
                f"COPY probe_items ({', '.join(data.columns)}) FROM STDIN WITH (FORMAT csv)", io.StringIO(text),
            )  # fmt: skip
            raw.commit()
            seconds = time.perf_counter() - started
            cursor.execute("DROP TABLE probe_items")
            raw.commit()
            label = "with primary key" if keyed else "no index"
            print(f"  COPY {n:,} order_items rows ({label}): {seconds:.2f} s = {n / seconds:,.0f} rows/s")
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--admin-url", default=DEFAULT_PG_ADMIN)
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="export file type")
    parser.add_argument("--keep", metavar="NAME", help="keep the loaded database under this name")
    parser.add_argument("--big-csv", type=float, metavar="GB", help="import one CSV of about GB gigabytes")
    parser.add_argument("--chunk-lines", type=int, default=0, help="O2O_IMPORT_CHUNK_LINES (0: the default)")
    parser.add_argument("--tuned", action="store_true", help="a private cluster with TUNED_SETTINGS")
    parser.add_argument("--copy-probe", action="store_true", help="also time a bare COPY of the lines")
    parser.add_argument("--reimport", action="store_true", help="re-import the last file, then undo that batch")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, path, data_dir, chunk = args.child
        return child(url, path, data_dir, int(chunk))

    from db.demo_data import DemoSpec, generate_orders, write_exports
    from db.migrate import upgrade

    spec = DemoSpec(stores=args.stores, days=args.days, seed=args.seed)
    print(f"# bench_import {dt.datetime.now():%Y-%m-%d %H:%M} — {machine()}")
    started = time.perf_counter()
    lines, _truth = generate_orders(spec)
    generate_s = time.perf_counter() - started
    print(f"generate_orders({args.stores} stores × {args.days} days): {generate_s:.1f} s, {len(lines):,} lines")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        fmt = "csv" if args.big_csv else args.format
        paths = write_exports(lines, Path(tmp), fmt=fmt)
        print(f"write_exports {fmt}: {time.perf_counter() - started:.1f} s, {len(paths)} files")
        del lines, _truth
        if args.big_csv:
            started = time.perf_counter()
            big, big_lines = big_csv(paths, Path(tmp) / "big.csv", args.big_csv)
            size = big.stat().st_size
            print(f"big CSV: {size / (1 << 30):.2f} GiB, {big_lines:,} lines in {time.perf_counter() - started:.1f} s")
            for path in paths:
                path.unlink()
            paths = [big]
        server = tuned_cluster() if args.tuned else contextlib.nullcontext(args.admin_url)
        with server as admin_url:
            if args.tuned:
                print("server: private cluster, " + ", ".join(f"{k}={v}" for k, v in TUNED_SETTINGS.items()))
            with scratch_postgres(admin_url, keep=bool(args.keep), name=args.keep) as url:
                engine = make_engine(url)
                upgrade(engine)
                engine.dispose()
                total_rows, total_s, peak = 0, 0.0, 0.0
                for path in paths:
                    figures = import_in_child(url, path, Path(tmp) / "var", args.chunk_lines)
                    if figures["status"] != "imported":
                        print(figures["message"])
                        return 1
                    total_rows += figures["rows"]
                    total_s += figures["seconds"]
                    peak = max(peak, figures["peak_rss_mb"])
                    stages = ", ".join(f"{k} {v:.1f}s" for k, v in figures["timings"].items())
                    print(
                        f"  {path.name}: {figures['rows']:,} lines / {figures['orders']:,} orders in "
                        f"{figures['seconds']:.1f} s = {figures['rows'] / figures['seconds']:,.0f} lines/s, "
                        f"peak RSS {figures['peak_rss_mb']:,.0f} MB ({stages}; "
                        f"{figures['progress_calls']} progress calls)"
                    )
                print(f"import total: {total_rows:,} lines in {total_s:.1f} s = {total_rows / total_s:,.0f} lines/s, "
                      f"peak RSS {peak:,.0f} MB")  # fmt: skip
                if args.reimport:
                    settings = Settings.from_env({}, database_url=url, data_dir=Path(tmp) / "var")
                    _reimport_and_undo(url, paths[-1], settings)
                if args.copy_probe:
                    copy_probe(url, max(paths, key=lambda p: p.stat().st_size))
                if args.keep:
                    print(f"database kept: {url}")
    return 0


def _reimport_and_undo(url: str, path: Path, settings: Settings) -> None:
    """The provenance path: a file that replaces every one of its orders, then its undo."""
    from db.importer import import_file
    from db.importer.undo import undo_batch

    engine = make_engine(url)
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
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
