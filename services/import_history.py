"""导入历史 for the 数据管理 page: every batch as a plain row, undo of one batch, 移除演示数据.

Thin glue over db.importer.history / db.importer.undo: driver failures become DataLayerError
(the page shows its friendly message); a refused undo stays UndoRefusedError, whose Chinese
message names the batch and why. The undo bumps the data version itself, so every cache tier
and worker drops what it held within its next version check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

from db.errors import DataLayerError
from db.importer.history import BatchRecord, list_batches
from db.importer.undo import RemoveDemoResult, UndoResult, remove_demo, undo_batch
from services.runtime import Runtime

HISTORY_LIMIT = 1000  # newest batches shown (a weekly import is 52 a year)
UNDOABLE = "succeeded"
DEMO = "demo"


@contextmanager
def database_guard(what: str) -> Iterator[None]:
    """A driver failure inside (the database away, a lock timeout) becomes DataLayerError, which
    the page shows as its friendly message; the details go to the log by the caller."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise DataLayerError(f"{what} failed: {exc.__class__.__name__}") from exc


def history_rows(runtime: Runtime) -> list[dict]:
    """Every batch, newest first, as JSON-native values (times ISO, dates ISO)."""
    with database_guard("import history"):
        batches = list_batches(runtime.engine, limit=HISTORY_LIMIT)
    return [_row(batch) for batch in batches]


def has_demo(rows: list[dict]) -> bool:
    """Whether demo batches are still in the database (移除演示数据 has something to remove)."""
    return any(row["source"] == DEMO and row["status"] == UNDOABLE for row in rows)


def undo(runtime: Runtime, batch_id: int, *, by: str | None = None) -> UndoResult:
    """Undo one succeeded batch (UndoRefusedError, nothing changed, when it cannot be)."""
    with database_guard(f"undo of batch {batch_id}"):
        return undo_batch(runtime.engine, int(batch_id), by=by, data_dir=runtime.settings.data_dir)


def remove_demo_data(runtime: Runtime, *, by: str | None = None) -> RemoveDemoResult:
    """Undo every demo batch in one transaction."""
    with database_guard("removing the demo data"):
        return remove_demo(runtime.engine, by=by, data_dir=runtime.settings.data_dir)


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _row(batch: BatchRecord) -> dict:
    days = f"{batch.min_date} ~ {batch.max_date}" if batch.min_date and batch.max_date else None
    return {
        "id": batch.id, "file_name": batch.file_name, "size_bytes": batch.size_bytes,
        "sha256": batch.sha256, "sha256_short": (batch.sha256 or "")[:12],
        "started_at": _iso(batch.started_at), "finished_at": _iso(batch.finished_at),
        "rows": batch.rows, "orders": batch.orders, "stores": batch.stores,
        "min_date": _iso(batch.min_date), "max_date": _iso(batch.max_date), "days": days,
        "duration_s": batch.duration_s, "status": batch.status, "error_count": batch.error_count,
        "source": batch.source, "created_by": batch.created_by, "undone_at": _iso(batch.undone_at),
    }  # fmt: skip
