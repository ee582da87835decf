"""The import history: one plain record per batch, filtered and sorted in SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, or_, select

from db.models import ImportBatch

# sort keys the history table offers ("-" in front: descending)
SORTABLE = (
    "id", "started_at", "file_name", "size_bytes", "rows", "orders", "stores", "min_date",
    "max_date", "duration_s", "status", "error_count", "source", "created_by", "undone_at",
)  # fmt: skip
STATUSES = ("running", "succeeded", "failed", "undone")
SOURCES = ("cli", "upload", "demo")


@dataclass(frozen=True)
class BatchRecord:
    id: int
    file_name: str
    size_bytes: int
    sha256: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    rows: int
    orders: int
    stores: int
    min_date: dt.date | None
    max_date: dt.date | None
    duration_s: float | None
    status: str
    error_count: int
    source: str
    created_by: str | None
    undone_at: dt.datetime | None


FIELDS = tuple(BatchRecord.__dataclass_fields__)


def list_batches(
    engine: Engine,
    *,
    status: str | Iterable[str] | None = None,
    source: str | Iterable[str] | None = None,
    search: str | None = None,
    order_by: str = "-id",
    limit: int | None = 500,
) -> list[BatchRecord]:
    """Batches newest first by default. ``search``: part of the file name, a SHA-256 prefix or
    a batch number (``12`` or ``#12``). ``order_by``: one of SORTABLE, "-" for descending."""
    t = ImportBatch.__table__
    query = select(*[t.c[name] for name in FIELDS])
    for column, wanted in ((t.c.status, status), (t.c.source, source)):
        if wanted:
            query = query.where(column.in_([wanted] if isinstance(wanted, str) else list(wanted)))
    if search and search.strip():
        needle = search.strip()
        found = [t.c.file_name.icontains(needle, autoescape=True)]
        if all(c in "0123456789abcdefABCDEF" for c in needle) and len(needle) >= 6:
            found.append(t.c.sha256.startswith(needle.lower(), autoescape=True))
        number = needle.removeprefix("#")
        if number.isdigit():
            found.append(t.c.id == int(number))
        query = query.where(or_(*found))
    descending = order_by.startswith("-")
    name = order_by.removeprefix("-")
    if name not in SORTABLE:
        raise ValueError(f"unknown sort key {order_by!r}; one of {SORTABLE}")
    column = t.c[name]
    query = query.order_by(
        (column.desc() if descending else column.asc()).nulls_last(), t.c.id.desc()
    )
    if limit is not None:
        query = query.limit(int(limit))
    with engine.connect() as conn:
        return [BatchRecord(**row._mapping) for row in conn.execute(query)]


__all__ = ["SORTABLE", "BatchRecord", "list_batches"]
