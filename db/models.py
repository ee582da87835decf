"""SQLAlchemy 2.0 typed models. The schema is owned by Alembic (migrations/).

Money is NUMERIC(12,2) in PostgreSQL, read back as float (``asdecimal=False``) because every
consumer is pandas. Order-level money lives on ``orders`` once per order; item-level money on
``order_items`` once per SKU line, so nothing is counted twice.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT identity on PostgreSQL, INTEGER PRIMARY KEY (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def Money() -> Numeric:  # noqa: N802 - reads like a type
    return Numeric(12, 2, asdecimal=False)


def BigMoney() -> Numeric:  # noqa: N802
    return Numeric(16, 2, asdecimal=False)


def Quantity() -> Numeric:  # noqa: N802
    return Numeric(12, 3, asdecimal=False)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    city: Mapped[str | None] = mapped_column(String(64))
    franchise_type: Mapped[str | None] = mapped_column(String(32))
    # the import batch that first wrote this store: undoing it removes the store once it has
    # no orders left (NULL for stores of no known batch)
    created_by_batch: Mapped[int | None] = mapped_column(BigInteger)


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # barcode when present, else "code:<店内码>", else "name:<商品名称>" (see docs/METRICS.md)
    sku_key: Mapped[str] = mapped_column(String(160), unique=True)
    barcode: Mapped[str | None] = mapped_column(String(32))
    store_code: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    category_l1: Mapped[str | None] = mapped_column(String(64))
    category_l3: Mapped[str | None] = mapped_column(String(64))
    is_consumable: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_batch: Mapped[int | None] = mapped_column(BigInteger)  # as on stores


class ImportBatch(Base):
    """One import of one file: the history the 数据管理 page lists and the unit of undo."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    stores: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    error_count: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed | undone
    source: Mapped[str] = mapped_column(String(16), server_default="cli", default="cli")  # cli | upload | demo
    created_by: Mapped[str | None] = mapped_column(String(64))  # user name, once accounts exist
    error_report: Mapped[str | None] = mapped_column(Text)
    min_date: Mapped[dt.date | None] = mapped_column(Date)
    max_date: Mapped[dt.date | None] = mapped_column(Date)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)
    undone_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ImportJob(Base):
    """A file uploaded through 数据管理 and what is asked of it (check, then import). The table is
    the queue: a worker thread in each app process claims the oldest queued job, one running
    job per database (docs/ARCHITECTURE.md "Import jobs"); progress is written back here so
    every worker, and a page opened later, shows it."""

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(500))
    stored_path: Mapped[str] = mapped_column(String(1000))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # uploaded → checking → checked | invalid; → queued → running → succeeded | failed;
    # cancelled (removed by the user before it ran)
    status: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))  # check | import: what the worker is to do
    step: Mapped[str | None] = mapped_column(String(32))
    lines_done: Mapped[int] = mapped_column(BigInteger, server_default="0", default=0)
    lines_total: Mapped[int] = mapped_column(BigInteger, server_default="0", default=0)
    mapping: Mapped[str | None] = mapped_column(Text)  # JSON {field: file column} chosen by the user
    mapping_name: Mapped[str | None] = mapped_column(String(100))
    preview: Mapped[str | None] = mapped_column(Text)  # JSON: mapping, share rules, report summary
    error_count: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    message: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(BigInteger)
    worker: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ImportMapping(Base):
    """A column mapping saved by name on the 数据管理 page ({field: file column} as JSON)."""

    __tablename__ = "import_mappings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    mapping: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class DataVersion(Base):
    """Single-row counter bumped by every successful import (cache invalidation), and the
    random identity of this database (written by migration 0004), which keeps the caches of
    two databases sharing one data directory or Redis apart."""

    __tablename__ = "data_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    database_id: Mapped[str] = mapped_column(String(32), default=lambda: uuid.uuid4().hex)


class Order(Base):
    """One order. Fact tables (orders, order_items) and the aggregates carry no FOREIGN KEY
    constraints: the importer resolves every key in the same transaction (tests check there are
    no orphans), and per-row FK triggers measured ~9 µs per key per row here, most of the
    import time (docs/ARCHITECTURE.md)."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "platform_order_id", name="uq_orders_channel_platform_order_id"),
        Index("ix_orders_store_day", "store_id", "business_date"),
        # 异常订单 (fee channel with platform fee 0) are a few dozen among ~500k orders: a
        # partial index finds them without scanning (all stores, 90 days: 75–105 → < 2 ms)
        Index("ix_orders_fee_zero", "channel", "business_date", "store_id",
              postgresql_where=text("platform_fee_zero"), sqlite_where=text("platform_fee_zero")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    platform_order_id: Mapped[str] = mapped_column(String(64))
    order_no: Mapped[str | None] = mapped_column(String(64))
    store_id: Mapped[int] = mapped_column(BigId)
    ordered_at: Mapped[dt.datetime] = mapped_column(DateTime)
    business_date: Mapped[dt.date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    delivery_platform: Mapped[str | None] = mapped_column(String(32))
    distance_km: Mapped[float | None] = mapped_column(Numeric(7, 2, asdecimal=False))
    distance_band: Mapped[int] = mapped_column(SmallInteger)  # -1 unknown, 0..6 (6 = 6+ km)
    address_hash: Mapped[str | None] = mapped_column(String(64))
    # order-level money as exported (counted once per order)
    expected_income: Mapped[float] = mapped_column(Money())
    delivery_fee: Mapped[float] = mapped_column(Money())
    commission: Mapped[float | None] = mapped_column(Money())
    service_fee: Mapped[float | None] = mapped_column(Money())
    user_delivery_fee: Mapped[float] = mapped_column(Money())
    delivery_fee_discount: Mapped[float] = mapped_column(Money())
    full_reduction: Mapped[float] = mapped_column(Money())
    merchant_voucher: Mapped[float] = mapped_column(Money())
    merchant_coupon_share: Mapped[float] = mapped_column(Money())
    packaging_fee: Mapped[float] = mapped_column(Money())
    gift_amount: Mapped[float] = mapped_column(Money())
    other_discount: Mapped[float] = mapped_column(Money())
    new_customer_discount: Mapped[float] = mapped_column(Money())
    corporate_rebate: Mapped[float] = mapped_column(Money())
    # roll-ups of this order's lines and derived figures (analytics/formulas.py)
    line_count: Mapped[int] = mapped_column(Integer)
    goods_lines: Mapped[int] = mapped_column(Integer, server_default="0")  # lines that are not 耗材
    items_quantity: Mapped[float] = mapped_column(Quantity())
    items_revenue: Mapped[float] = mapped_column(Money())
    items_list_amount: Mapped[float] = mapped_column(Money())
    items_cost: Mapped[float] = mapped_column(Money())
    items_profit: Mapped[float] = mapped_column(Money())
    items_discount: Mapped[float] = mapped_column(Money())
    platform_fee: Mapped[float] = mapped_column(Money())
    marketing_cost: Mapped[float] = mapped_column(Money())
    delivery_net_cost: Mapped[float] = mapped_column(Money())
    actual_profit: Mapped[float] = mapped_column(Money())
    platform_fee_zero: Mapped[bool] = mapped_column(Boolean)
    import_batch_id: Mapped[int | None] = mapped_column(BigInteger)


class OrderItem(Base):
    """One SKU line, keyed by its order and its position in the order (no surrogate id: one
    index less to maintain on the largest table)."""

    __tablename__ = "order_items"
    # No index on product_id: drill-downs reach lines through orders (store, day) → order_id.

    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    line_no: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    product_id: Mapped[int] = mapped_column(BigId)
    quantity: Mapped[float] = mapped_column(Quantity())
    list_price: Mapped[float | None] = mapped_column(Money())
    sale_price: Mapped[float | None] = mapped_column(Money())
    received_price: Mapped[float] = mapped_column(Money())
    cost: Mapped[float] = mapped_column(Money())
    profit: Mapped[float] = mapped_column(Money())
    item_discount: Mapped[float] = mapped_column(Money())
    stock: Mapped[float | None] = mapped_column(Quantity())
    remaining_stock: Mapped[float | None] = mapped_column(Quantity())


# Versions replaced by a later import, kept so that undoing that import restores them. An order
# in a file replaces the stored order with the same (channel, platform_order_id) in place (same
# id, lines replaced); the version it replaced moves here with ``superseded_by`` = the batch
# that replaced it (db/importer/undo.py).


def _history_table(name: str, source: Table, key: list[str]) -> Table:
    columns = [Column(c.name, c.type, nullable=c.nullable) for c in source.columns]
    return Table(
        name,
        Base.metadata,
        *columns,
        Column("superseded_by", BigInteger, nullable=False),
        PrimaryKeyConstraint("superseded_by", *key),
    )


ORDER_HISTORY = _history_table("order_history", Order.__table__, ["id"])
ORDER_ITEM_HISTORY = _history_table("order_item_history", OrderItem.__table__, ["order_id", "line_no"])
Index("ix_order_history_import_batch_id", ORDER_HISTORY.c.import_batch_id)
Index("ix_order_history_id", ORDER_HISTORY.c.id)


# ---------------------------------------------------------------------------------------------
# Daily aggregates, maintained by the importer for the (store, day) pairs an import touches.
# Every one is keyed by channel and platform_fee_zero so that channel filters and the
# "fee channel with zero platform fee" exclusion can be applied when reading.
# ---------------------------------------------------------------------------------------------


class AggStoreDayChannel(Base):
    __tablename__ = "agg_store_day_channel"
    __table_args__ = (Index("ix_agg_store_day_channel_day", "day"),)

    store_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform_fee_zero: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    loss_orders: Mapped[int] = mapped_column(Integer)
    lines: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[float] = mapped_column(Quantity())
    revenue: Mapped[float] = mapped_column(BigMoney())
    list_amount: Mapped[float] = mapped_column(BigMoney())
    cost: Mapped[float] = mapped_column(BigMoney())
    item_profit: Mapped[float] = mapped_column(BigMoney())
    expected_income: Mapped[float] = mapped_column(BigMoney())
    platform_fee: Mapped[float] = mapped_column(BigMoney())
    delivery_fee: Mapped[float] = mapped_column(BigMoney())
    user_delivery_fee: Mapped[float] = mapped_column(BigMoney())
    delivery_fee_discount: Mapped[float] = mapped_column(BigMoney())
    corporate_rebate: Mapped[float] = mapped_column(BigMoney())
    packaging_fee: Mapped[float] = mapped_column(BigMoney())
    marketing_cost: Mapped[float] = mapped_column(BigMoney())
    delivery_net_cost: Mapped[float] = mapped_column(BigMoney())
    actual_profit: Mapped[float] = mapped_column(BigMoney())


class AggStoreDayProduct(Base):
    __tablename__ = "agg_store_day_product"
    __table_args__ = (
        Index("ix_agg_store_day_product_day", "day"),
        # one store's days read from the index alone (PostgreSQL index-only scan): the rows of a
        # store lie on a page each, since imports write every store of a day together
        Index("ix_agg_store_day_product_store", "store_id", "day", "product_id",
              postgresql_include=["channel", "platform_fee_zero", "quantity", "revenue", "cost", "profit"]),
    )  # fmt: skip

    store_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform_fee_zero: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    product_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[float] = mapped_column(Quantity())
    revenue: Mapped[float] = mapped_column(BigMoney())
    list_amount: Mapped[float] = mapped_column(BigMoney())
    cost: Mapped[float] = mapped_column(BigMoney())
    profit: Mapped[float] = mapped_column(BigMoney())
    item_discount: Mapped[float] = mapped_column(BigMoney())


class AggStoreDayHour(Base):
    __tablename__ = "agg_store_day_hour"
    __table_args__ = (
        Index("ix_agg_store_day_hour_day", "day"),
        Index("ix_agg_store_day_hour_store", "store_id", "day", "hour",
              postgresql_include=["channel", "platform_fee_zero", "orders", "revenue", "actual_profit"]),
    )  # fmt: skip

    store_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform_fee_zero: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[float] = mapped_column(BigMoney())
    actual_profit: Mapped[float] = mapped_column(BigMoney())
    marketing_cost: Mapped[float] = mapped_column(BigMoney())


class AggStoreDayDistance(Base):
    __tablename__ = "agg_store_day_distance"
    __table_args__ = (Index("ix_agg_store_day_distance_day", "day"),)

    store_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform_fee_zero: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    distance_band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[float] = mapped_column(BigMoney())
    actual_profit: Mapped[float] = mapped_column(BigMoney())
    delivery_fee: Mapped[float] = mapped_column(BigMoney())
    delivery_net_cost: Mapped[float] = mapped_column(BigMoney())


AGGREGATE_TABLES = (
    AggStoreDayChannel.__table__,
    AggStoreDayProduct.__table__,
    AggStoreDayHour.__table__,
    AggStoreDayDistance.__table__,
)
