"""生成演示数据: ``python scripts/generate_demo.py [--stores 100] [--days 90] [--format csv] [--load]``

Writes one order-detail export per month plus ground_truth.json (every injected problem) into
--out. The same seed always gives byte-identical files. With --load the CSV (else xlsx) files are
then imported into the configured database (O2O_DATABASE_URL) by db.importer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from tqdm import tqdm

from analytics import use_python_strings
from db.demo_data import (
    FORMATS,
    GENERATION_STEPS,
    DemoSpec,
    generate_demo,
    write_demo,
    write_ground_truth,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = DemoSpec()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="生成确定性的演示订单明细 (含已知问题的 ground truth)")
    parser.add_argument("--stores", type=int, default=DEFAULTS.stores, help="门店数 (默认 %(default)s)")
    parser.add_argument("--days", type=int, default=DEFAULTS.days, help="天数 (默认 %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help="随机种子 (默认 %(default)s)")
    parser.add_argument("--end-date", type=dt.date.fromisoformat, default=DEFAULTS.end_date,
                        help="最后一天 YYYY-MM-DD (含, 默认 %(default)s)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "var" / "demo",
                        help="输出目录 (默认 var/demo)")
    parser.add_argument("--format", choices=FORMATS, default="csv",
                        help="csv (UTF-8 BOM) | csv-gbk (GB18030) | xlsx | both (默认 csv)")
    parser.add_argument("--load", action="store_true", help="生成后导入数据库 (db.importer)")
    args = parser.parse_args(argv)
    if args.stores < 1 or args.days < 1:
        parser.error("--stores 和 --days 必须 ≥ 1")
    return args


def main(argv: list[str] | None = None) -> int:
    use_python_strings()  # the app's pandas text storage (analytics)
    args = parse_args(argv)
    spec = DemoSpec(stores=args.stores, days=args.days, seed=args.seed, end_date=args.end_date)
    started = time.perf_counter()
    with tqdm(total=len(GENERATION_STEPS), unit="步", desc="生成", ncols=90) as bar:

        def step(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        demo = generate_demo(spec, progress=step)
        generated = time.perf_counter() - started
        bar.set_description("写文件")

        def written(path: Path) -> None:
            bar.total += 1
            bar.set_postfix_str(path.name)
            bar.update(1)

        paths = write_demo(demo, args.out, fmt=args.format, progress=written)  # a month at a time
        truth_path = args.out / "ground_truth.json"
        write_ground_truth(demo.truth, truth_path)
    rows, orders = demo.line_count, demo.order_count
    del demo
    elapsed = time.perf_counter() - started
    print(f"✅ {spec.stores} 家门店 × {spec.days} 天 (seed {spec.seed}, 截至 {spec.end_date})")
    print(f"   行数 {rows:,}  订单 {orders:,}  文件 {len(paths)}  "
          f"用时 {elapsed:.1f}s (生成 {generated:.1f}s, 写文件 {elapsed - generated:.1f}s)")
    for path in paths:
        print(f"   {path}")
    print(f"   {truth_path}")
    if args.load:
        return load(paths)
    return 0


def load(paths: list[Path]) -> int:
    """Import the written files (CSV when both formats were written) into the configured database."""
    # ---- loading is owned by db.importer / db.engine (written separately); this is the only call ----
    from config import Settings
    from db.engine import make_engine
    from db.importer import import_files
    from db.migrate import upgrade

    to_load = [p for p in paths if p.suffix == ".csv"] or paths
    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        started = time.perf_counter()
        results = import_files(engine, to_load, settings)
    finally:
        engine.dispose()
    failed = [r for r in results if not r.ok]
    for result in results:
        print(f"{'✅' if result.ok else '❌'} {result.message}")
    print(f"导入用时 {time.perf_counter() - started:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
