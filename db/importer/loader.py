"""Write validated lines in one transaction: upsert stores/products, stage orders and items
(PostgreSQL COPY, SQLite executemany), merge by key, refresh affected daily aggregates.

Merge rule: an order is identified by (channel, platform_order_id). An order present in the
file replaces the stored version of that order, lines included, so re-importing a file or
importing overlapping files converges to the same rows.

Provenance: the version an import replaces is first copied, lines included, into
order_history / order_item_history with ``superseded_by`` = the new batch (set-based, from the
staged orders; skipped when the file replaces nothing), and stores / products written for the
first time remember the batch (``created_by_batch``), so that db/importer/undo.py can take a
batch back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    and_,
    func,
    literal,
    select,
    true,
    union,
)
from sqlalchemy import delete as sa_delete
from sqlalchemy.dialects import postgresql, sqlite

from analytics.formulas import distance_band, order_totals
from db.export_format import CONSUMABLE_CATEGORY, ORDER_COLUMNS
from db.importer import aggregates
from db.models import (
    ORDER_HISTORY,
    ORDER_ITEM_HISTORY,
    Order,
    OrderItem,
    Product,
    Store,
)

ORDER_KEY = ["channel", "platform_order_id"]

ORDER_MONEY = (
    "expected_income", "delivery_fee", "commission", "service_fee", "user_delivery_fee",
    "delivery_fee_discount", "full_reduction", "merchant_voucher", "merchant_coupon_share",
    "packaging_fee", "gift_amount", "other_discount", "new_customer_discount",
    "corporate_rebate",
)  # fmt: skip
ORDER_DERIVED = (
    "items_quantity", "items_revenue", "items_list_amount", "items_cost", "items_profit",
    "items_discount", "platform_fee", "marketing_cost", "delivery_net_cost", "actual_profit",
)  # fmt: skip
ITEM_VALUES = (
    "quantity", "list_price", "sale_price", "received_price", "cost", "profit",
    "item_discount", "stock", "remaining_stock",
)  # fmt: skip

# aggregate rows of the partitions kept in memory before they go to temporary tables (~120 bytes
# each; the 451k-line demo month makes ~0.8 M: +~120 MB peak RSS, 539 MB in all)
PARTIAL_ROWS_CAP = 900_000

_staging = MetaData()
STG_ORDERS = Table(
    "stg_orders",
    _staging,
    Column("channel", String(32)),
    Column("platform_order_id", String(64)),
    Column("order_no", String(64)),
    Column("store_id", Integer),
    Column("ordered_at", DateTime),
    Column("business_date", Date),
    Column("hour", Integer),
    Column("delivery_platform", String(32)),
    Column("distance_km", Numeric(7, 2)),
    Column("distance_band", Integer),
    Column("address_hash", String(64)),
    # NUMERIC like the target: a float8 → numeric cast per cell cost seconds per file
    *[Column(name, Numeric(16, 3)) for name in ORDER_MONEY + ORDER_DERIVED],
    Column("line_count", Integer),
    Column("goods_lines", Integer),
    Column("platform_fee_zero", Boolean),
    prefixes=["TEMPORARY"],
)
STG_AFFECTED = Table(
    "stg_affected",
    _staging,
    Column("store_id", Integer, primary_key=True),
    Column("day", Date, primary_key=True),
    prefixes=["TEMPORARY"],
)
STAGING_TABLES = (STG_ORDERS, STG_AFFECTED)


@dataclass
class LoadStats:
    rows: int
    orders: int
    stores: int
    products: int
    affected_store_days: int
    min_date: object
    max_date: object


def load_lines(conn: Connection, lines: pd.DataFrame, batch_id: int, salt: str) -> LoadStats:
    """Write ``lines`` (validated by db.importer.validate: English names, defaults and the store and
    SKU keys filled in) inside the caller's transaction."""
    return load_partitions(conn, [lines], lines, lines, batch_id, salt, partitions=1)


def load_partitions(
    conn: Connection,
    parts: Iterable[pd.DataFrame],
    stores: pd.DataFrame,
    products: pd.DataFrame,
    batch_id: int,
    salt: str,
    *,
    partitions: int,
    on_partition: Callable[[int], None] | None = None,
    partial_rows_cap: int | None = None,
) -> LoadStats:
    """Write a file's validated lines, given as ``partitions`` frames that each hold whole orders
    (db.importer.chunks), inside the caller's one transaction. ``stores`` / ``products``: the
    file's lines carrying each store / SKU key (the last one wins). Stores and products are
    upserted once; then each partition is staged, its orders upserted and its lines replaced;
    the aggregates of the affected store-days are rebuilt at the end. ``on_partition`` hears
    the lines written so far; ``partial_rows_cap`` bounds the aggregate rows kept in memory."""
    store_ids = _upsert_stores(conn, stores, batch_id)
    product_ids = _upsert_products(conn, products, batch_id)
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        # Sorts and hashes of the aggregate refresh stay in memory; only for this transaction.
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
    for table in STAGING_TABLES:
        table.drop(conn, checkfirst=True)
        table.create(conn)
    # No try/finally: on failure the rollback drops the temporary tables with everything else,
    # and PostgreSQL refuses any statement (a DROP too) in a failed transaction, which would
    # hide the real error (e.g. NumericValueOutOfRange from the COPY).
    rows = staged = 0
    dates: list[object] = []
    frames = None
    # the partitions' aggregate rows (partial sums: an aggregate key spans partitions, an order
    # does not), kept in memory up to ``partial_cap`` rows and added up in pandas; past the cap
    # they go to temporary tables and are added up in SQL (bounded memory for any file size)
    kept: list[dict] = []
    kept_rows = 0
    partial_cap = PARTIAL_ROWS_CAP if partial_rows_cap is None else partial_rows_cap
    spilled = False
    for lines in parts:
        lines = lines.copy() if partitions == 1 else lines
        lines["line_no"] = lines.groupby(ORDER_KEY, sort=False).cumcount() + 1
        lines["store_id"] = lines["store_key"].map(store_ids)
        lines["product_id"] = lines["sku_key"].map(product_ids)
        orders = _order_frame(lines, salt)
        if staged:
            conn.execute(sa_delete(STG_ORDERS))
        _bulk_insert(conn, STG_ORDERS, orders)
        _analyze(conn)
        existing = _count_existing(conn)
        _collect_affected(conn, replaces=existing > 0)
        if existing:  # the partition's stored versions, before they are replaced
            _keep_replaced_versions(conn, batch_id)
        ids = _upsert_orders(conn, batch_id, existing)
        _replace_items(conn, lines, ids, existing)
        frames = aggregates.frames_from_file(orders, lines)
        if partitions > 1:
            kept.append(frames)
            kept_rows += sum(len(f) for f in frames.values())
            frames = None
            if kept_rows > partial_cap:
                if not spilled:
                    for table in aggregates.PARTIAL_TABLES.values():
                        table.drop(conn, checkfirst=True)
                        table.create(conn)
                    spilled = True
                for partial in kept:
                    aggregates.stage_partial(conn, partial, _bulk_insert)
                kept, kept_rows = [], 0
        rows += len(lines)
        staged += len(orders)
        dates += [orders["business_date"].min(), orders["business_date"].max()]
        del lines, orders
        if on_partition is not None:
            on_partition(rows)
    if postgres:
        conn.exec_driver_sql("ANALYZE stg_affected")
    if spilled:
        for partial in kept:
            aggregates.stage_partial(conn, partial, _bulk_insert)
    elif kept:
        frames = aggregates.sum_partials(kept)
    del kept
    affected = conn.execute(select(func.count()).select_from(STG_AFFECTED)).scalar_one()
    refresh_aggregates(conn, staged, frames)
    for table in (*reversed(STAGING_TABLES), *(aggregates.PARTIAL_TABLES.values() if spilled else ())):
        table.drop(conn, checkfirst=True)
    return LoadStats(
        rows=rows,
        orders=staged,
        stores=len(store_ids),
        products=len(product_ids),
        affected_store_days=int(affected),
        min_date=min(dates) if dates else None,
        max_date=max(dates) if dates else None,
    )


def _dialect_insert(conn: Connection, table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _upsert_stores(conn: Connection, lines: pd.DataFrame, batch_id: int) -> dict[str, int]:
    """Insert new stores (``created_by_batch`` = this batch), update the names of known ones."""
    stores = lines.drop_duplicates("store_key", keep="last")
    records = [
        {"code": r.store_key, "name": r.store_name, "city": r.city, "franchise_type": r.franchise_type,
         "created_by_batch": batch_id}
        for r in stores.itertuples(index=False)
    ]  # fmt: skip
    stmt = _dialect_insert(conn, Store.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["code"],
        set_={k: stmt.excluded[k] for k in ("name", "city", "franchise_type")},
    )
    conn.execute(stmt, records)
    keys = [r["code"] for r in records]
    rows = conn.execute(select(Store.code, Store.id).where(Store.code.in_(keys)))
    return dict(rows.all())


def _upsert_products(conn: Connection, lines: pd.DataFrame, batch_id: int) -> dict[str, int]:
    """As ``_upsert_stores``: ``created_by_batch`` is written on insert only."""
    products = lines.drop_duplicates("sku_key", keep="last")
    records = [
        {
            "sku_key": r.sku_key,
            "barcode": r.barcode,
            "store_code": r.product_code,
            "name": r.product_name,
            "category_l1": r.category_l1,
            "category_l3": r.category_l3,
            "is_consumable": r.category_l1 == CONSUMABLE_CATEGORY,
            "created_by_batch": batch_id,
        }
        for r in products.itertuples(index=False)
    ]
    stmt = _dialect_insert(conn, Product.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["sku_key"],
        set_={
            k: stmt.excluded[k]
            for k in ("barcode", "store_code", "name", "category_l1", "category_l3", "is_consumable")
        },
    )
    conn.execute(stmt, records)
    result: dict[str, int] = {}
    keys = [r["sku_key"] for r in records]
    for start in range(0, len(keys), 5000):  # stay below bind-parameter limits
        chunk = keys[start : start + 5000]
        result.update(
            conn.execute(select(Product.sku_key, Product.id).where(Product.sku_key.in_(chunk))).all()
        )
    return result


def _order_frame(lines: pd.DataFrame, salt: str) -> pd.DataFrame:
    order_cols = [c for c in ORDER_COLUMNS if c in lines.columns] + ["store_id"]
    item_cols = ["received_price", "quantity", "list_price", "cost", "profit", "item_discount"]
    work = lines[order_cols + item_cols]
    if "category_l1" in lines:
        work = work.assign(is_goods=lines["category_l1"] != CONSUMABLE_CATEGORY)
    orders = order_totals(work, ORDER_KEY)
    orders["business_date"] = orders["ordered_at"].dt.date
    orders["hour"] = orders["ordered_at"].dt.hour.astype(int)
    orders["distance_band"] = distance_band(orders["distance_km"])
    orders["address_hash"] = hash_addresses(orders["address"], salt)
    return orders[[c.name for c in STG_ORDERS.columns]]


def hash_addresses(addresses: pd.Series, salt: str) -> pd.Series:
    """Salted SHA-256 of the normalised address; the address itself is never stored."""
    unique = addresses.dropna().unique()
    digests = {
        a: hashlib.sha256(f"{salt}\x1f{' '.join(str(a).split())}".encode()).hexdigest() for a in unique
    }
    return addresses.map(digests).astype(object)


def _bulk_insert(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    if conn.dialect.name == "postgresql":
        _copy_into(conn, table, frame)
        return
    _sqlite_executemany(conn, table, frame)


def _sqlite_executemany(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    """sqlite3's executemany with plain tuples, in SQLAlchemy's storage formats (dates as ISO
    text, datetimes with microseconds, booleans as 0/1): ~5x faster than dict parameters."""
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        elif pd.api.types.is_bool_dtype(values):
            values = values.astype("int64")
        elif values.dtype == object and len(values) and isinstance(values.iloc[0], dt.date):
            values = values.map(lambda d: d.isoformat() if d is not None else None)
        columns[name] = values.astype(object).where(values.notna(), None)
    rows = list(zip(*columns.values(), strict=True))
    placeholders = ", ".join("?" for _ in frame.columns)
    sql = f"INSERT INTO {table.name} ({', '.join(frame.columns)}) VALUES ({placeholders})"
    conn.connection.driver_connection.executemany(sql, rows)


def _copy_into(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    """COPY via Arrow's CSV writer (multi-threaded; nulls are unquoted empty fields, which is
    PostgreSQL's CSV NULL, while empty strings are written quoted)."""
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(arrow, sink, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    buffer = io.BytesIO(sink.getvalue().to_pybytes())
    columns = ", ".join(frame.columns)
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.copy_expert(f"COPY {table.name} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)
    finally:
        cursor.close()


def _analyze(conn: Connection) -> None:
    """Temp tables have no statistics until analysed; without them PostgreSQL estimates a
    thousand rows and can pick a nested loop over the staged orders (seen: minutes per file).
    Only the join columns are sampled."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE stg_orders (channel, platform_order_id, store_id, business_date)")


def _collect_affected(conn: Connection, replaces: bool = True) -> None:
    """(store, day) pairs touched: where the file's orders are now and, when they ``replaces``
    stored orders, where those were before."""
    stg = STG_ORDERS
    after = select(stg.c.store_id, stg.c.business_date).where(true())
    source = after.distinct()
    if replaces:
        before = select(Order.store_id, Order.business_date).join(
            stg, and_(Order.channel == stg.c.channel, Order.platform_order_id == stg.c.platform_order_id)
        ).where(true())
        source = union(before, after)
    # partition after partition: pairs already collected are kept once
    stmt = _dialect_insert(conn, STG_AFFECTED).from_select(["store_id", "day"], source)
    conn.execute(stmt.on_conflict_do_nothing())


def _on_key():
    stg = STG_ORDERS
    return and_(Order.channel == stg.c.channel, Order.platform_order_id == stg.c.platform_order_id)


def _count_existing(conn: Connection) -> int:
    """How many staged orders replace a stored one (0 for a new period: the usual case)."""
    return conn.execute(select(func.count()).select_from(STG_ORDERS).join(Order, _on_key())).scalar_one()


def _keep_replaced_versions(conn: Connection, batch_id: int) -> None:
    """Copy the stored versions of the staged orders, and their lines, into the history tables
    with ``superseded_by`` = this batch (two INSERT … SELECT; no per-order work in Python).
    A version this same batch wrote (an earlier chunk of the file) is not a version to restore."""
    orders = Order.__table__
    earlier = orders.c.import_batch_id.is_distinct_from(batch_id)
    replaced = select(*orders.c, literal(batch_id).label("superseded_by")).join(STG_ORDERS, _on_key()).where(earlier)
    conn.execute(ORDER_HISTORY.insert().from_select([*orders.c.keys(), "superseded_by"], replaced))
    items = OrderItem.__table__
    lines = (
        select(*items.c, literal(batch_id).label("superseded_by"))
        .join(orders, orders.c.id == items.c.order_id)
        .join(STG_ORDERS, _on_key())
        .where(earlier)
    )
    conn.execute(ORDER_ITEM_HISTORY.insert().from_select([*items.c.keys(), "superseded_by"], lines))


def _upsert_orders(conn: Connection, batch_id: int, existing: int) -> pd.DataFrame:
    """Insert or update the staged orders; their ids (order_id + the order key)."""
    stg = STG_ORDERS
    names = [c.name for c in stg.columns]
    source = select(*stg.c, literal(batch_id).label("import_batch_id")).where(true())
    if existing == 0:  # the usual case, a new period: a plain INSERT skips speculative insertion
        # RETURNING hands back the new ids without a second join of the staged orders
        orders = Order.__table__
        stmt = orders.insert().from_select([*names, "import_batch_id"], source)
        rows = conn.execute(stmt.returning(orders.c.id, orders.c.channel, orders.c.platform_order_id))
        return pd.DataFrame([tuple(r) for r in rows], columns=["order_id", *ORDER_KEY])
    stmt = _dialect_insert(conn, Order.__table__).from_select([*names, "import_batch_id"], source)
    stmt = stmt.on_conflict_do_update(
        index_elements=ORDER_KEY,
        set_={n: stmt.excluded[n] for n in [*names, "import_batch_id"] if n not in ORDER_KEY},
    )
    conn.execute(stmt)
    rows = conn.execute(select(Order.id, Order.channel, Order.platform_order_id).join(STG_ORDERS, _on_key()))
    return pd.DataFrame([tuple(r) for r in rows], columns=["order_id", *ORDER_KEY])


def _replace_items(conn: Connection, lines: pd.DataFrame, ids: pd.DataFrame, existing: int) -> None:
    """Delete the stored lines of the partition's orders (when it replaces any: ``existing``),
    then bulk-load its lines under their order ``ids``."""
    if existing:
        stored = select(Order.id).join(STG_ORDERS, _on_key())
        conn.execute(sa_delete(OrderItem).where(OrderItem.order_id.in_(stored)))
    items = lines.merge(ids, on=ORDER_KEY, how="left", validate="many_to_one")
    _bulk_insert(conn, OrderItem.__table__, items[["order_id", "line_no", "product_id", *ITEM_VALUES]])


def refresh_aggregates(conn: Connection, staged: int, frames: dict | None) -> str:
    """Rebuild the aggregates of every affected store-day; returns which builder ran.

    When the file holds every order of those store-days the aggregates come from the file:
    ``frames`` (one partition) or the partial sums staged per partition; otherwise from the
    stored orders."""
    if aggregates.file_covers_affected(conn, STG_AFFECTED, staged):
        if frames is not None:
            aggregates.refresh_from_frames(conn, STG_AFFECTED, frames, _bulk_insert)
        else:
            aggregates.refresh_from_partials(conn, STG_AFFECTED)
        return "file"
    aggregates.refresh_from_database(conn, STG_AFFECTED)
    return "database"
