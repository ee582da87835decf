"""Take an import batch back: remove exactly what it wrote, restore what it replaced.

An import replaces a stored order in place (same ``orders.id``, lines replaced) and first keeps
the replaced version in order_history / order_item_history with ``superseded_by`` = the
importing batch (db/importer/loader.py). Undoing batch X, in one transaction:

1. X's versions that a later batch Y replaced sit in history (``import_batch_id`` = X,
   ``superseded_by`` = Y): they are dropped, and the older versions they had replaced
   (``superseded_by`` = X) are handed to Y, so undoing Y later restores those, never X's.
   The live order stays as Y left it.
2. X's live orders are deleted with their lines; where X had replaced a version, that version
   comes back from history with its lines (same id) and leaves history.
3. Stores / products first written by X (``created_by_batch``) that nothing refers to any more
   are deleted; the ones still used are handed to the oldest batch that uses them, so undoing
   that batch later removes them.
4. The aggregates of every affected (store, day) are rebuilt from the stored orders, the batch is
   marked ``undone`` and the data version bumped (every cache tier and worker drops old values).

Names of stores / products are not versioned: a name a later file changed stays changed.
Every set is handled in SQL (INSERT … SELECT, DELETE … WHERE EXISTS); nothing loops per order.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Engine,
    MetaData,
    Table,
    and_,
    bindparam,
    exists,
    func,
    select,
    union,
    update,
)
from sqlalchemy import delete as sa_delete

from db.errors import UndoRefusedError
from db.importer import aggregates
from db.importer.history import BatchRecord, list_batches
from db.importer.loader import STG_AFFECTED
from db.importer.lock import take_import_lock
from db.models import ORDER_HISTORY, ORDER_ITEM_HISTORY, ImportBatch, Order, OrderItem, Product, Store
from db.version import announce_change, bump_data_version

log = logging.getLogger(__name__)

_staging = MetaData()
# X's versions in history (id) and the batch that replaced each (superseded_by)
STG_REPOINT = Table(
    "stg_undo_repoint",
    _staging,
    Column("id", BigInteger, primary_key=True),
    Column("superseded_by", BigInteger),
    prefixes=["TEMPORARY"],
)
# X's live orders, read once (orders has no index on import_batch_id: one scan, not three)
STG_REMOVED = Table(
    "stg_undo_removed",
    _staging,
    Column("id", BigInteger, primary_key=True),
    Column("store_id", BigInteger),
    Column("business_date", Date),
    prefixes=["TEMPORARY"],
)
UNDO_TABLES = (STG_AFFECTED, STG_REPOINT, STG_REMOVED)


@dataclass
class UndoResult:
    batch_id: int
    file_name: str
    orders_removed: int = 0  # the batch's orders that are gone (no earlier version)
    orders_restored: int = 0  # orders back at the version the batch had replaced
    orders_kept: int = 0  # the batch's orders a later batch replaced: left as that batch left them
    stores_removed: int = 0
    products_removed: int = 0
    affected_store_days: int = 0
    data_version: int | None = None

    def format_text(self) -> str:
        text = (
            f"已撤销批次 #{self.batch_id} ({self.file_name})：删除订单 {self.orders_removed} 单，"
            f"恢复被该批次替换的订单 {self.orders_restored} 单"
        )
        if self.orders_kept:
            text += f"，{self.orders_kept} 单已被之后的批次替换，保持不变"
        text += f"；删除门店 {self.stores_removed} 家、商品 {self.products_removed} 个；"
        text += f"重算 {self.affected_store_days} 个门店日汇总"
        if self.data_version is not None:
            text += f" (数据版本 {self.data_version})"
        return text


@dataclass
class RemoveDemoResult:
    batches: list[UndoResult] = field(default_factory=list)
    affected_store_days: int = 0
    data_version: int | None = None

    @property
    def orders_removed(self) -> int:
        return sum(b.orders_removed for b in self.batches)

    @property
    def stores_removed(self) -> int:
        return sum(b.stores_removed for b in self.batches)

    @property
    def products_removed(self) -> int:
        return sum(b.products_removed for b in self.batches)

    def format_text(self) -> str:
        if not self.batches:
            return "没有演示数据可移除"
        names = "、".join(f"#{b.batch_id} {b.file_name}" for b in self.batches)
        return (
            f"已移除演示数据 ({len(self.batches)} 个批次: {names})：删除订单 {self.orders_removed} 单，"
            f"门店 {self.stores_removed} 家，商品 {self.products_removed} 个；"
            f"重算 {self.affected_store_days} 个门店日汇总 (数据版本 {self.data_version})"
        )


def undo_batch(
    engine: Engine, batch_id: int, *, by: str | None = None, data_dir: str | Path | None = None
) -> UndoResult:
    """Undo one succeeded batch in one transaction; ``UndoRefusedError`` (nothing changed) when
    the batch is unknown or not ``succeeded``. ``data_dir``: the host's processes are told of
    the change (``announce_change``) once it committed."""
    with engine.begin() as conn:
        take_import_lock(conn)
        _prepare(conn)
        result = _undo(conn, int(batch_id), by)
        result.affected_store_days = _finish(conn)
        result.data_version = bump_data_version(conn)
    _committed(engine, result, by, data_dir)
    return result


def remove_demo(engine: Engine, *, by: str | None = None, data_dir: str | Path | None = None) -> RemoveDemoResult:
    """Undo every succeeded batch with ``source = 'demo'``, newest first, in one transaction
    (``data_dir`` as in ``undo_batch``)."""
    result = RemoveDemoResult()
    with engine.begin() as conn:
        take_import_lock(conn)
        ids = conn.execute(
            select(ImportBatch.id)
            .where(ImportBatch.source == "demo", ImportBatch.status == "succeeded")
            .order_by(ImportBatch.id.desc())
        ).scalars()
        ids = list(ids)
        if not ids:
            return result
        _prepare(conn)
        result.batches = [_undo(conn, batch_id, by) for batch_id in ids]
        result.affected_store_days = _finish(conn)
        result.data_version = bump_data_version(conn)
    _committed(engine, result, by, data_dir)
    return result


def _committed(engine: Engine, result: UndoResult | RemoveDemoResult, by: str | None, data_dir) -> None:
    if data_dir is not None:
        announce_change(data_dir, result.data_version)
    _refresh_statistics(engine)
    log.info("%s%s", result.format_text(), f" by {by}" if by else "")


def _prepare(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")  # as the loader: the rebuild's sorts
    for table in UNDO_TABLES:
        table.drop(conn, checkfirst=True)
        table.create(conn)


def _finish(conn: Connection) -> int:
    """Rebuild the aggregates of every store-day collected by the undos; drop the staging tables."""
    affected = conn.execute(select(func.count()).select_from(STG_AFFECTED)).scalar_one()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {STG_AFFECTED.name}")
    aggregates.refresh_from_database(conn, STG_AFFECTED)
    for table in reversed(UNDO_TABLES):
        table.drop(conn, checkfirst=True)
    return int(affected)


def _refuse(batch) -> UndoRefusedError:
    if batch is None:
        return UndoRefusedError("找不到该导入批次，未做任何更改")
    name = f"批次 #{batch.id} ({batch.file_name})"
    if batch.status == "undone":
        when = f"已于 {batch.undone_at:%Y-%m-%d %H:%M} 撤销" if batch.undone_at else "已撤销"
        return UndoRefusedError(f"{name} {when}，不能再次撤销，未做任何更改")
    if batch.status == "failed":
        return UndoRefusedError(f"{name} 导入失败，没有写入任何数据，无需撤销")
    if batch.status == "running":
        return UndoRefusedError(f"{name} 正在导入，完成后才能撤销")
    return UndoRefusedError(f"{name} 状态为 {batch.status}，不能撤销")


def _undo(conn: Connection, batch_id: int, by: str | None) -> UndoResult:
    """Undo one batch inside the caller's transaction; its store-days go into STG_AFFECTED."""
    batch = conn.execute(select(ImportBatch.__table__).where(ImportBatch.id == batch_id)).first()
    if batch is None or batch.status != "succeeded":
        raise _refuse(batch)
    result = UndoResult(batch_id=batch_id, file_name=batch.file_name)
    orders, items = Order.__table__, OrderItem.__table__
    history, item_history = ORDER_HISTORY, ORDER_ITEM_HISTORY
    for table in (STG_REPOINT, STG_REMOVED):
        conn.execute(sa_delete(table))

    # 1. this batch's versions that later batches replaced: drop them, hand what they had
    #    replaced to the batch that replaced them
    conn.execute(
        STG_REPOINT.insert().from_select(
            ["id", "superseded_by"],
            select(history.c.id, history.c.superseded_by).where(history.c.import_batch_id == batch_id),
        )
    )
    repoint = STG_REPOINT.c
    result.orders_kept = conn.execute(select(func.count()).select_from(STG_REPOINT)).scalar_one()
    if result.orders_kept:
        conn.execute(
            sa_delete(item_history).where(
                exists().where(
                    and_(repoint.id == item_history.c.order_id, repoint.superseded_by == item_history.c.superseded_by)
                )
            )
        )
        conn.execute(sa_delete(history).where(history.c.import_batch_id == batch_id))
        for table, id_column in ((history, history.c.id), (item_history, item_history.c.order_id)):
            conn.execute(
                update(table)
                .where(table.c.superseded_by == batch_id, id_column.in_(select(repoint.id)))
                .values(superseded_by=select(repoint.superseded_by).where(repoint.id == id_column).scalar_subquery())
            )

    # 2. this batch's live orders go; the versions it had replaced come back
    conn.execute(
        STG_REMOVED.insert().from_select(
            ["id", "store_id", "business_date"],
            select(orders.c.id, orders.c.store_id, orders.c.business_date).where(
                orders.c.import_batch_id == batch_id
            ),
        )
    )
    removed = STG_REMOVED.c
    pairs = union(
        select(removed.store_id.label("store_id"), removed.business_date.label("day")),
        select(history.c.store_id, history.c.business_date).where(history.c.superseded_by == batch_id),
    ).subquery()
    new_pairs = select(pairs.c.store_id, pairs.c.day).where(
        ~exists().where(and_(STG_AFFECTED.c.store_id == pairs.c.store_id, STG_AFFECTED.c.day == pairs.c.day))
    )
    conn.execute(STG_AFFECTED.insert().from_select(["store_id", "day"], new_pairs))

    deleted = conn.execute(select(func.count()).select_from(STG_REMOVED)).scalar_one()
    conn.execute(sa_delete(items).where(items.c.order_id.in_(select(removed.id))))
    conn.execute(sa_delete(orders).where(orders.c.id.in_(select(removed.id))))
    restored = conn.execute(_restore(orders, history, batch_id)).rowcount
    conn.execute(_restore(items, item_history, batch_id))
    conn.execute(sa_delete(item_history).where(item_history.c.superseded_by == batch_id))
    conn.execute(sa_delete(history).where(history.c.superseded_by == batch_id))
    result.orders_restored = int(restored)
    result.orders_removed = int(deleted) - result.orders_restored

    # 3. stores / products this batch created and nothing uses any more
    result.stores_removed = _drop_unused(conn, Store.__table__, batch_id, _store_users())
    result.products_removed = _drop_unused(conn, Product.__table__, batch_id, _product_users())

    # 4. the batch row (the aggregates and the data version: once, by the caller)
    report = json.loads(batch.error_report) if batch.error_report else {}
    if by:
        report["undone_by"] = by
    conn.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id)
        .values(status="undone", undone_at=dt.datetime.now(), error_report=json.dumps(report, ensure_ascii=False))
    )
    return result


def _restore(live: Table, kept: Table, batch_id: int):
    """INSERT INTO live SELECT the versions ``batch_id`` had replaced FROM its history table."""
    names = [c.name for c in live.columns]
    versions = select(*[kept.c[n] for n in names]).where(kept.c.superseded_by == batch_id)
    return live.insert().from_select(names, versions)


def _store_users() -> tuple:
    """What refers to a store: (ids used live, ids used in history, (id, batch) live, in history)."""
    o, h = Order.__table__.c, ORDER_HISTORY.c
    return (
        select(o.store_id),
        select(h.store_id),
        select(o.store_id.label("key"), o.import_batch_id.label("batch")),
        select(h.store_id.label("key"), h.import_batch_id.label("batch")),
    )


def _product_users() -> tuple:
    o, i = Order.__table__.c, OrderItem.__table__.c
    h, ih = ORDER_HISTORY.c, ORDER_ITEM_HISTORY.c
    return (
        select(i.product_id),
        select(ih.product_id),
        select(i.product_id.label("key"), o.import_batch_id.label("batch")).join(
            Order.__table__, o.id == i.order_id
        ),
        select(ih.product_id.label("key"), h.import_batch_id.label("batch")).join(
            ORDER_HISTORY, and_(h.id == ih.order_id, h.superseded_by == ih.superseded_by)
        ),
    )


def _drop_unused(conn: Connection, table: Table, batch_id: int, users: tuple) -> int:
    """Delete the rows of ``table`` created by ``batch_id`` that no order or line (live or kept
    in history) refers to; hand the others to the oldest batch that uses them. Returns deleted.

    NOT IN (subquery), not NOT EXISTS: the line tables have no index on product_id, and a NOT IN
    is one hashed scan (PostgreSQL) / one temporary index (SQLite) however many rows it tests."""
    live_ids, kept_ids, live, kept = users
    created = table.c.created_by_batch == batch_id
    deleted = conn.execute(
        sa_delete(table).where(created, table.c.id.not_in(live_ids), table.c.id.not_in(kept_ids))
    ).rowcount
    candidates = select(table.c.id).where(created)
    owners: dict[int, int | None] = {}
    for query in (kept, live):  # the live owner wins where there is one
        sub = query.subquery()
        rows = conn.execute(
            select(sub.c.key, func.min(sub.c.batch)).where(sub.c.key.in_(candidates)).group_by(sub.c.key)
        )
        owners.update({key: batch for key, batch in rows if batch is not None or key not in owners})
    if owners:
        conn.execute(
            update(table).where(table.c.id == bindparam("key")).values(created_by_batch=bindparam("owner")),
            [{"key": key, "owner": owner} for key, owner in owners.items()],
        )
    return int(deleted)


def _refresh_statistics(engine: Engine) -> None:
    from db.importer import refresh_statistics

    refresh_statistics(engine)


__all__ = ["BatchRecord", "RemoveDemoResult", "UndoResult", "list_batches", "remove_demo", "undo_batch"]
