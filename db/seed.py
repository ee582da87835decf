"""Seed demo data on first start: generate export files, then load them via the importer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select

from config import Settings
from db.demo_data import DemoSpec, generate_orders, write_exports, write_ground_truth
from db.importer import import_file
from db.models import Order

log = logging.getLogger(__name__)


def database_is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Order)).scalar_one() == 0


def seed_demo(
    engine: Engine,
    settings: Settings,
    spec: DemoSpec | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Path]:
    """Generate ``spec`` (default from settings) into data_dir/demo and import every file."""
    spec = spec or DemoSpec(stores=settings.demo_stores, days=settings.demo_days, seed=settings.demo_seed)
    report = progress or (lambda _label, _done, _total: None)
    out_dir = Path(settings.data_dir) / "demo"
    report("生成演示数据", 0, 1)
    lines, truth = generate_orders(spec)
    paths = write_exports(lines, out_dir, fmt="csv")
    write_ground_truth(truth, out_dir / "ground_truth.json")
    del lines
    for done, path in enumerate(paths, start=1):
        report(f"导入 {path.name}", done - 1, len(paths))
        result = import_file(engine, path, settings, source="demo")
        if not result.ok:
            raise RuntimeError(f"demo import failed: {result.message}")
        report(f"导入 {path.name}", done, len(paths))
    return paths
