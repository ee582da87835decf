"""导入平台订单明细: ``python scripts/import_orders.py FILE...``

Each file is validated completely before anything is written; a file with errors is rejected
as a whole (non-zero exit). The screen shows the errors grouped by column and reason with a few
rows each; ``--report`` writes every one (file, row, column, value, reason) to JSON.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm import tqdm

from config import Settings, SettingsError
from db.engine import make_engine
from db.importer import import_file, preview_file
from db.importer.report import write_json
from db.migrate import upgrade

STAGES = ("读取", "校验", "写入", "统计")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="导入平台订单明细 (.xlsx / .csv)")
    parser.add_argument("files", nargs="+", type=Path, help="订单明细文件")
    parser.add_argument("--force", action="store_true", help="即使文件已导入过也重新导入 (按订单合并)")
    parser.add_argument("--report", type=Path, help="把完整的错误列表 (每一处错误) 写入 JSON 文件")
    preview_help = "只显示字段映射 (文件列 → 字段、缺少的列、默认值、整单金额规则) 和校验结果，不写入数据库"
    parser.add_argument("--preview", action="store_true", help=preview_help)
    parser.add_argument("--no-migrate", action="store_true", help="不自动执行 alembic upgrade head")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"❌ 配置错误: {exc}", file=sys.stderr)
        return 2
    if args.preview:  # no engine: nothing is written, not even a migration
        results = [preview_file(path, settings) for path in args.files]
        for text, _ok in results:
            print(text)
        return 0 if all(ok for _text, ok in results) else 1
    engine = make_engine(settings.database_url)
    if not args.no_migrate:
        upgrade(engine)

    failures = 0
    reports = []
    with tqdm(total=len(args.files) * len(STAGES), unit="步", desc="导入", ncols=90) as bar:
        for path in args.files:
            seen: list[str] = []

            def on_stage(name: str, path=path, seen=seen) -> None:
                if name not in STAGES:
                    return
                seen.append(name)
                bar.set_postfix_str(f"{path.name} {name}")
                bar.update(1)

            result = import_file(engine, path, settings, force=args.force, on_stage=on_stage)
            bar.update(len(STAGES) - len(seen))
            icon = {"imported": "✅", "skipped": "⏭️", "rejected": "❌"}[result.status]
            tqdm.write(f"{icon} {result.message}")
            for warning in result.warnings:
                tqdm.write(f"⚠️ {path.name}: {warning}")
            if not result.ok:
                failures += 1
                if result.report is not None:
                    reports.append(result.report)
    if args.report and reports:
        with args.report.open("w", encoding="utf-8") as out:
            write_json(reports, out)
        print(f"完整错误报告: {args.report}")
    engine.dispose()
    if failures:
        print(f"❌ {failures} 个文件被拒绝，未写入任何数据", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
