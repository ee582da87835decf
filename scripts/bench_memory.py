"""What a serving process's resident memory is made of (Linux: /proc/<pid>/smaps_rollup).

Without arguments: a fresh interpreter imports the libraries a worker imports, one at a time,
then the app, then builds it as a serving process does (``serving.worker.build_app``: the
process settings, then ``create_app``; no request served), printing after each step
the resident set, its anonymous part (the process's own heap: objects, arrays) and its file
pages (shared libraries and mapped files, one copy in the machine's memory for every process).
With ``--pid``: the same split for running processes (e.g. the workers after a load test).

    .venv/bin/python scripts/bench_memory.py --database-url postgresql://postgres@127.0.0.1:5432/o2o_load
    .venv/bin/python scripts/bench_memory.py --pid 1234 1235
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import tempfile
from pathlib import Path

# in the order the app's own imports reach them
LIBRARIES = ("numpy", "pyarrow", "pandas", "sqlalchemy", "flask", "plotly.graph_objects", "dash",
             "dash_bootstrap_components", "dash_ag_grid", "redis", "psutil")  # fmt: skip


def smaps(pid: int | str = "self") -> dict[str, int]:
    """The smaps_rollup fields of a process, in MiB."""
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return {key: int(kb) // 1024 for key, kb in re.findall(r"^(\w+):\s+(\d+) kB", text, re.M)}


def line(label: str, pid: int | str = "self") -> str:
    m = smaps(pid)
    return (f"{label:<28} RSS {m['Rss']:5d} MB   anonymous {m['Anonymous']:5d} MB   "
            f"file pages {m['Rss'] - m['Anonymous']:5d} MB   PSS {m['Pss']:5d} MB")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pid", type=int, nargs="+", help="running processes to split instead")
    parser.add_argument("--database-url", help="database of the app built at the end (default: a scratch SQLite)")
    args = parser.parse_args(argv)
    if not Path("/proc/self/smaps_rollup").exists():
        print("需要 Linux 的 /proc/<pid>/smaps_rollup", file=sys.stderr)
        return 2
    if args.pid:
        for pid in args.pid:
            print(line(f"pid {pid}", pid))
        return 0
    print(line("interpreter"))
    for name in LIBRARIES:
        importlib.import_module(name)
        print(line(f"+ {name}"))
    import app
    from config import Settings
    from serving.worker import build_app

    print(line("+ app modules"))
    with tempfile.TemporaryDirectory() as data_dir:
        database_url = args.database_url or f"sqlite:///{data_dir}/o2o.sqlite3"
        settings = Settings.from_env({}, database_url=database_url, data_dir=data_dir, cache_warm=False)
        dash_app = build_app(settings)
        try:
            print(line("create_app (nothing served)"))
        finally:
            app.stop_app(dash_app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
