"""The table loader child (``readmodel.elsewhere``): reads one job as JSON on stdin, writes the
tables' files for the job's data stamp and exits 0; any failure exits 1 with the reason on
stderr. Run as ``python -m readmodel.loader``; never imported by a serving process."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from analytics import use_python_strings
from db.engine import make_engine, reading
from db.version import DataStamp
from readmodel import chain
from readmodel.store import ArrowFileStore
from readmodel.tables import CHAIN_TABLES, TABLES, flagged_orders_table


def run(job: dict) -> None:
    """``job``: database_url, directory (the table files), other_max_age, version, database,
    load_timeout_s, tables: store-level names of ``TABLES``, each written with its chain table
    (``CHAIN_TABLES``), and orders (optional): the flagged orders' name, fee_floor and
    fee_channels. A file that is there already is not written again."""
    use_python_strings()  # the serving processes' text storage: the same frames, the same files
    stamp = DataStamp(int(job["version"]), str(job["database"]))
    files = ArrowFileStore(Path(job["directory"]), float(job["other_max_age"]))
    engine = make_engine(job["database_url"], timeout_s=float(job["load_timeout_s"]))
    try:
        for name in job["tables"]:
            frame = files.load(name, *stamp)
            if frame is None:
                with reading(engine, timeout_s=float(job["load_timeout_s"])) as conn:
                    frame = TABLES[name](conn)
                frame = files.save(name, *stamp, frame)
            if name in CHAIN_TABLES and files.load(f"{name}_chain", *stamp) is None:
                files.save(f"{name}_chain", *stamp, chain.build(frame, *CHAIN_TABLES[name]))
            del frame
        orders = job.get("orders")
        if orders and files.load(orders["name"], *stamp) is None:
            with reading(engine, timeout_s=float(job["load_timeout_s"])) as conn:
                frame = flagged_orders_table(conn, float(orders["fee_floor"]), tuple(orders["fee_channels"]))
            files.save(orders["name"], *stamp, frame)
    finally:
        engine.dispose()


def main() -> int:
    try:
        run(json.loads(sys.stdin.buffer.read()))
    except Exception:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
