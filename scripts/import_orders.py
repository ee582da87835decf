"""导入平台订单明细: ``python scripts/import_orders.py FILE...``

Each file is validated completely before anything is written; a file with errors is rejected
as a whole (non-zero exit). The screen shows the errors grouped by column and reason with a few
rows each; ``--report`` writes every one (file, row, column, value, reason) to JSON.

History and undo: ``--list`` prints the import batches, ``--undo BATCH`` takes one back (what it
removed and restored is printed), ``--remove-demo`` removes every demo batch. Exit codes: 0 done,
1 a file rejected or an undo refused, 2 bad settings or arguments.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from tqdm import tqdm

from analytics import use_python_strings
from config import Settings, SettingsError
from db.engine import make_engine
from db.errors import UndoRefusedError
from db.importer import import_file, preview_file
from db.importer.history import list_batches
from db.importer.report import write_json
from db.importer.undo import remove_demo, undo_batch
from db.migrate import upgrade

STAGES = ("读取", "校验", "写入", "统计")


def main(argv: list[str] | None = None) -> int:
    use_python_strings()  # the app's pandas text storage (analytics)
    parser = argparse.ArgumentParser(description="导入平台订单明细 (.xlsx / .csv)")
    files_help = "订单明细文件 (使用 --list / --undo / --remove-demo 时可省略)"
    parser.add_argument("files", nargs="*", type=Path, help=files_help)
    parser.add_argument("--force", action="store_true", help="即使文件已导入过也重新导入 (按订单合并)")
    parser.add_argument("--report", type=Path, help="把完整的错误列表 (每一处错误) 写入 JSON 文件")
    preview_help = "只显示字段映射 (文件列 → 字段、缺少的列、默认值、整单金额规则) 和校验结果，不写入数据库"
    parser.add_argument("--preview", action="store_true", help=preview_help)
    parser.add_argument("--no-migrate", action="store_true", help="不自动执行 alembic upgrade head")
    parser.add_argument("--list", action="store_true", help="列出导入历史 (批次、文件、行数、日期范围、状态)")
    parser.add_argument("--limit", type=int, default=50, help="--list 显示的批次数 (默认 50，最新的在前)")
    undo_help = "撤销一个导入批次: 删除它写入的数据，恢复被它替换的订单"
    parser.add_argument("--undo", type=int, metavar="BATCH", help=undo_help)
    parser.add_argument("--remove-demo", action="store_true", help="移除全部演示数据 (来源为 demo 的批次)")
    args = parser.parse_args(argv)
    managing = args.list or args.undo is not None or args.remove_demo
    if not args.files and not managing:
        parser.error("请给出要导入的文件，或使用 --list / --undo / --remove-demo")
    if args.preview and managing:
        parser.error("--preview 不能与 --list / --undo / --remove-demo 同时使用")

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
    try:
        failures = _import(engine, args, settings) if args.files else 0
        failures += _manage(engine, args, settings.data_dir)
    finally:
        engine.dispose()
    return 1 if failures else 0


def _import(engine, args, settings) -> int:
    """Import the files given; returns how many were rejected."""
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
    if failures:
        print(f"❌ {failures} 个文件被拒绝，未写入任何数据", file=sys.stderr)
    return failures


def _manage(engine, args, data_dir: str) -> int:
    """--undo, --remove-demo, then --list (so the list shows the result); returns failures."""
    failures = 0
    if args.undo is not None:
        try:
            print(f"✅ {undo_batch(engine, args.undo, by=_login(), data_dir=data_dir).format_text()}")
        except UndoRefusedError as exc:
            print(f"❌ {exc}", file=sys.stderr)
            failures += 1
    if args.remove_demo:
        print(f"✅ {remove_demo(engine, by=_login(), data_dir=data_dir).format_text()}")
    if args.list:
        print_batches(list_batches(engine, limit=args.limit))
    return failures


STATUS_TEXT = {"succeeded": "成功", "failed": "失败", "undone": "已撤销", "running": "导入中"}
SOURCE_TEXT = {"cli": "命令行", "upload": "上传", "demo": "演示"}


def print_batches(batches) -> None:
    """The history as a fixed-width table (newest first)."""
    if not batches:
        print("还没有导入记录")
        return
    head = ("批次", "状态", "来源", "开始时间", "行数", "订单", "门店", "日期范围", "用时", "错误", "文件")
    rows = []
    for b in batches:
        dates = f"{b.min_date} ~ {b.max_date}" if b.min_date else "-"
        status = STATUS_TEXT.get(b.status, b.status)
        if b.undone_at is not None:
            status += f" {b.undone_at:%m-%d %H:%M}"
        rows.append((
            f"#{b.id}", status, SOURCE_TEXT.get(b.source, b.source), f"{b.started_at:%Y-%m-%d %H:%M}",
            f"{b.rows:,}", f"{b.orders:,}", f"{b.stores:,}", dates,
            f"{b.duration_s:.1f}s" if b.duration_s is not None else "-", f"{b.error_count:,}", b.file_name,
        ))  # fmt: skip
    widths = [max(_width(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True)).rstrip())


def _login() -> str | None:
    """Who runs the command (recorded with the undo), if the system can tell."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


if __name__ == "__main__":
    sys.exit(main())
