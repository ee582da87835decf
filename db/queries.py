"""What production reads from the database: the read model's whole-table loaders (COPY → Arrow
on PostgreSQL), the filter bar's options, and the drill-downs to single orders (orders of a
product, one order's detail, the last reported stock). Every total a view shows is summed by
``readmodel.totals`` from the loaded tables; their SQL twins are the tests' oracle
(tests/oracle/sql_totals.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Float, and_, cast, func, not_, or_, select, text
from sqlalchemy.exc import SQLAlchemyError

from db.errors import DataLayerError
from db.models import (
    AggStoreDayChannel,
    AggStoreDayDistance,
    AggStoreDayHour,
    AggStoreDayProduct,
    Order,
    OrderItem,
    Product,
    Store,
)


def _sum(column, label: str):
    """SUM as double precision: the driver hands back floats instead of Decimals that would be
    converted one value at a time (a third of a query's time on tens of thousands of rows).
    The cast comes after the sum: casting every numeric to float8 first costs more than the
    numeric additions (健康分 over all stores: 42 → 85 ms)."""
    return cast(func.sum(column), Float).label(label)


def _guard(fn):
    """Turn driver errors into DataLayerError so pages can show a friendly message."""

    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SQLAlchemyError as exc:
            raise DataLayerError(f"database query {fn.__name__} failed: {exc.__class__.__name__}") from exc

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_guard
def data_date_bounds(conn: Connection) -> tuple[dt.date | None, dt.date | None]:
    """First and last day that has any order."""
    t = AggStoreDayChannel.__table__
    frame = _frame(conn, select(func.min(t.c.day), func.max(t.c.day)), ["first", "last"], dates=["first", "last"])
    return tuple(None if pd.isna(v) else v for v in frame.iloc[0])


@_guard
def stores(conn: Connection) -> pd.DataFrame:
    """All stores: id, code, name, city, franchise_type (ordered by city, name)."""
    query = select(Store.id, Store.code, Store.name, Store.city, Store.franchise_type).order_by(Store.city, Store.name)
    return _frame(conn, query, ["id", "code", "name", "city", "franchise_type"])


@_guard
def channels(conn: Connection) -> list[str]:
    t = AggStoreDayChannel.__table__
    return [r[0] for r in conn.execute(select(t.c.channel).distinct().order_by(t.c.channel))]


@_guard
def products(conn: Connection) -> pd.DataFrame:
    """Every non-耗材 product: id, name, category (一级分类, None when not given)."""
    p = Product.__table__.c
    query = select(p.id, p.name, p.category_l1).where(not_(p.is_consumable)).order_by(p.id)
    return _frame(conn, query, ["id", "name", "category"]).astype({"id": int})


@_guard
def last_stock(conn: Connection, pairs: Sequence[tuple[int, int]], start: dt.date, end: dt.date) -> pd.DataFrame:
    """剩余库存 reported with the latest sale (any channel) of each (store_id, product_id) pair
    between ``start`` and ``end``: store_id, product_id, remaining_stock (NaN when not exported).
    Reaches the lines through orders (store, day), the index the drill-downs use."""
    columns = ["store_id", "product_id", "remaining_stock"]
    if not pairs:
        return pd.DataFrame(columns=columns)
    o, i = Order.__table__.c, OrderItem.__table__.c
    latest = func.row_number().over(partition_by=[o.store_id, i.product_id],
                                    order_by=[o.ordered_at.desc(), o.id.desc(), i.line_no.desc()])  # fmt: skip
    ranked = (
        select(o.store_id, i.product_id, i.remaining_stock, latest.label("latest"))
        .select_from(Order.__table__.join(OrderItem.__table__, OrderItem.order_id == Order.id))
        .where(
            o.store_id.in_(sorted({int(s) for s, _ in pairs})),
            o.business_date.between(start, end),
            i.product_id.in_(sorted({int(p) for _, p in pairs})),
            i.quantity > 0,
        )
        .subquery()
    )
    query = select(ranked.c.store_id, ranked.c.product_id, ranked.c.remaining_stock).where(ranked.c.latest == 1)
    frame = _frame(conn, query, columns, ["remaining_stock"])
    wanted = {(int(s), int(p)) for s, p in pairs}
    return frame[[(int(s), int(p)) in wanted for s, p in zip(frame["store_id"], frame["product_id"], strict=True)]]


AGGREGATES = {"channel": AggStoreDayChannel, "hour": AggStoreDayHour, "distance": AggStoreDayDistance,
              "product": AggStoreDayProduct}  # fmt: skip
TABLE_CHUNK_ROWS = 50_000


@_guard
def estimated_rows(conn: Connection, source: str) -> int:
    """About how many rows the aggregate ``source`` (or ``orders``) holds, without counting
    them: PostgreSQL's planner estimate, SQLite's largest rowid (-1: never analysed)."""
    table = AGGREGATES[source].__table__ if source in AGGREGATES else Order.__table__
    if conn.dialect.name == "postgresql":
        found = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"),
                             {"name": table.name}).scalar()  # fmt: skip
    else:
        found = conn.execute(text(f'SELECT max(rowid) FROM "{table.name}"')).scalar()
    return int(found) if found is not None else 0
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


@_guard
def aggregate_rows(conn: Connection, aggregate: str, keys: Sequence[str], measures: Sequence[str]) -> pd.DataFrame:
    """Every row of one daily aggregate (``AGGREGATES``), ordered by store and day, for the
    read model's tables: store_id (int32), day (its proleptic ordinal, int32), channel
    (categorical), platform_fee_zero, ``keys`` (int16) and ``measures`` as floats."""
    t = AGGREGATES[aggregate].__table__
    names = ["store_id", "day", "channel", "platform_fee_zero", *keys]
    query = select(*[t.c[n] for n in names], *[cast(t.c[m], Float).label(m) for m in measures]).order_by(
        t.c.store_id, t.c.day)  # fmt: skip
    if aggregate == "product":  # every product view leaves 耗材 (consumables) out
        query = query.join(Product.__table__, Product.id == t.c.product_id).where(not_(Product.is_consumable))
    return _table_frame(conn, query, keys, measures)


@_guard
def depth_rows(conn: Connection) -> pd.DataFrame:
    """Orders and 实收 per store, day, channel, zero-fee flag and basket depth (``goods_lines``),
    shaped like :func:`aggregate_rows`: the table of basket depths for any selection (at most 7
    depths per store-day-channel: ~150,000 rows for 100 stores × 90 days)."""
    o = Order.__table__.c
    groups = [o.store_id, o.business_date, o.channel, o.platform_fee_zero, o.goods_lines]
    query = (
        select(o.store_id, o.business_date.label("day"), o.channel, o.platform_fee_zero, o.goods_lines.label("depth"),
               cast(func.count(), Float).label("orders"), _sum(o.items_revenue, "revenue"))
        .group_by(*groups)
        .order_by(o.store_id, o.business_date)
    )  # fmt: skip
    return _table_frame(conn, query, ("depth",), ("orders", "revenue"))


def _table_frame(conn: Connection, query, keys: Sequence[str], measures: Sequence[str]) -> pd.DataFrame:
    """A table query's rows (store_id, day, channel, platform_fee_zero, ``keys``, ``measures``) as
    typed columns. PostgreSQL sends them with ``COPY … TO STDOUT`` parsed by Arrow's CSV reader
    (307,000 hour rows: 2.2 s and ~100 MB of row objects through the driver → well under a
    second); SQLite's rows are read in chunks."""
    names = ["store_id", "day", "channel", "platform_fee_zero", *keys]
    if conn.dialect.name == "postgresql":
        columns = _copy_columns(conn, query, names, measures)
    else:
        columns = _chunked_columns(conn, query, [*names, *measures])
    return pd.DataFrame({
        "store_id": np.asarray(columns["store_id"], dtype=np.int32),
        "day": np.asarray(columns["day"], dtype=np.int32),
        "channel": _categorical(columns["channel"]),
        "platform_fee_zero": np.asarray(columns["platform_fee_zero"], dtype=bool),
        **{k: np.asarray(columns[k], dtype=np.int32 if k == "product_id" else np.int16) for k in keys},
        **{m: np.asarray(columns[m], dtype=np.float64) for m in measures},
    })  # fmt: skip


def _categorical(values) -> pd.Categorical:
    """Channel names as a categorical with sorted categories (codes then follow name order)."""
    values = values if isinstance(values, pd.Categorical) else pd.Categorical(values)
    return values.reorder_categories(sorted(values.categories)) if len(values.categories) else values


def _copy_columns(conn: Connection, query, keys: list[str], measures: Sequence[str]) -> dict[str, np.ndarray]:
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    buffer = io.BytesIO()
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", buffer)
    finally:
        cursor.close()
    buffer.seek(0)
    names = [*keys, *measures]
    types = {**dict.fromkeys(keys, pa.int64()), **dict.fromkeys(measures, pa.float64()), "day": pa.date32(),
             "channel": pa.string(), "platform_fee_zero": pa.bool_()}  # fmt: skip
    table = pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=names),
        convert_options=pacsv.ConvertOptions(column_types=types, true_values=["t"], false_values=["f"]),
    )  # fmt: skip
    del buffer
    columns = {n: table.column(n).to_numpy() for n in names if n not in ("day", "channel")}
    columns["day"] = table.column("day").cast(pa.int32()).to_numpy() + _EPOCH_ORDINAL
    channel = table.column("channel").combine_chunks().dictionary_encode()  # no Python string per row
    columns["channel"] = pd.Categorical.from_codes(channel.indices.to_numpy(),
                                                   pd.Index(channel.dictionary.to_pylist(), dtype=object))  # fmt: skip
    return columns


def _chunked_columns(conn: Connection, query, names: list[str]) -> dict[str, np.ndarray]:
    parts: dict[str, list] = {n: [] for n in names}
    result = conn.execution_options(stream_results=True, yield_per=TABLE_CHUNK_ROWS).execute(query)
    for rows in result.partitions():
        for name, values in zip(names, zip(*rows, strict=True), strict=True):
            if name == "day":
                days = pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[D]").astype(np.int64)
                parts[name].append(days + _EPOCH_ORDINAL)
            else:
                parts[name].append(np.asarray(values, dtype=object if name == "channel" else None))
    return {n: np.concatenate(p) if p else np.asarray([], dtype=object if n == "channel" else np.int64)
            for n, p in parts.items()}  # fmt: skip


def _frame(conn: Connection, query, columns: Sequence[str], floats: Sequence[str] = (),
           dates: Sequence[str] = ()) -> pd.DataFrame:  # fmt: skip
    """The query's rows as a frame, built column by column (a frame built from Row objects probes
    every row for a mapping interface: a third of a 20,000-row read); ``dates`` become datetime.date
    whatever the driver returned (SQLite gives strings)."""
    rows = conn.execute(query).all()
    values = zip(*rows, strict=True) if rows else ([] for _ in columns)
    frame = pd.DataFrame(dict(zip(columns, values, strict=True)), columns=list(columns))
    for c in dates:
        frame[c] = pd.to_datetime(frame[c]).dt.date
    return frame.astype({c: float for c in floats})


ORDER_COLUMNS = (
    "id", "store_id", "channel", "platform_order_id", "ordered_at", "business_date", "distance_km", "line_count",
    "items_revenue", "items_profit", "platform_fee", "delivery_fee", "user_delivery_fee", "delivery_fee_discount",
    "corporate_rebate", "marketing_cost", "delivery_net_cost", "actual_profit",
)  # fmt: skip
ORDER_MONEY = tuple(c for c in ORDER_COLUMNS[8:])
NEWEST_FIRST = (Order.ordered_at.desc(), Order.id.desc())  # lists of orders; id settles equal times


def abnormal_clause(o, fee_channels: Sequence[str]):
    """The abnormal-order rule's SQL form (its definition: ``readmodel.abnormal``) over the
    columns ``o`` of orders or an aggregate: a fee channel with a zero platform fee. None when
    there are no fee channels (no order is abnormal)."""
    return and_(o.platform_fee_zero, o.channel.in_(tuple(fee_channels))) if fee_channels else None


class OrderFilter(Protocol):
    """What a drill-down query reads of the view's selection (``readmodel.Selection`` is one):
    db stays below the read model, which loads its tables through this module."""

    start: dt.date
    end: dt.date
    store_ids: tuple[int, ...] | None
    channels: tuple[str, ...] | None


def _order_clauses(o, selection: OrderFilter, fee_channels: Sequence[str]) -> list:
    """The selection's orders, abnormal ones left out."""
    clauses = [o.business_date >= selection.start, o.business_date <= selection.end]
    if selection.store_ids is not None:
        clauses.append(o.store_id.in_(selection.store_ids))
    if selection.channels is not None:
        clauses.append(o.channel.in_(selection.channels))
    abnormal = abnormal_clause(o, fee_channels)
    return clauses if abnormal is None else [*clauses, not_(abnormal)]


def _orders(conn: Connection, query) -> pd.DataFrame:
    frame = _frame(conn, query, ORDER_COLUMNS, ORDER_MONEY)
    return frame.astype({"id": int, "store_id": int})


@_guard
def flagged_orders(conn: Connection, fee_floor: float, fee_channels: Sequence[str]) -> pd.DataFrame:
    """Every order that an order rule or the 异常订单 list can name, whatever the selection:
    实际利润 < 0 (穿底), 物流配送费 > ``fee_floor`` (高配送成本 candidates) or abnormal (a fee
    channel with platform fee 0) — ~6 % of the orders. ``ORDER_COLUMNS`` plus platform_fee_zero
    and day (ordinal, int32), ordered by store and day (newest first within a day), so
    ``readmodel.sums.select`` slices it like the other tables."""
    o = Order.__table__.c
    flags = [o.actual_profit < 0, o.delivery_fee > fee_floor]
    if fee_channels:
        flags.append(abnormal_clause(o, fee_channels))
    names = (*ORDER_COLUMNS, "platform_fee_zero")
    query = select(*[o[c] for c in names]).where(or_(*flags)).order_by(
        o.store_id, o.business_date, o.ordered_at.desc(), o.id.desc())  # fmt: skip
    frame = _frame(conn, query, names, ORDER_MONEY, dates=("business_date",))
    return frame.assign(
        store_id=frame["store_id"].to_numpy(dtype=np.int32),
        channel=_categorical(pd.Categorical(frame["channel"].to_numpy(dtype=object))),
        platform_fee_zero=frame["platform_fee_zero"].to_numpy(dtype=bool),
        day=np.asarray([d.toordinal() for d in frame["business_date"]], dtype=np.int32),
    ).astype({"id": np.int64})


@_guard
def orders_with_product(conn: Connection, selection: OrderFilter, fee_channels: Sequence[str], product_id: int,
                        limit: int) -> tuple[int, pd.DataFrame]:  # fmt: skip
    """Orders of the selection (abnormal excluded) that contain ``product_id``: (count, newest first)."""
    o = Order.__table__.c
    i = OrderItem.__table__.c
    has = select(i.order_id).where(i.product_id == int(product_id), i.order_id == o.id).exists()
    clauses = [*_order_clauses(o, selection, fee_channels), has]
    total = conn.execute(select(func.count()).where(*clauses)).scalar_one()
    query = select(*[o[c] for c in ORDER_COLUMNS]).where(*clauses).order_by(*NEWEST_FIRST).limit(limit)
    return int(total), _orders(conn, query)


LINE_COLUMNS = ("line_no", "product_id", "name", "category", "quantity", "list_price", "received_price", "cost",
                "profit", "item_discount")  # fmt: skip


@_guard
def order_detail(conn: Connection, order_id: int) -> tuple[dict | None, pd.DataFrame]:
    """One order with all its fees (every column of ``orders``) and its lines."""
    row = conn.execute(select(Order.__table__).where(Order.__table__.c.id == int(order_id))).mappings().first()
    i = OrderItem.__table__.c
    p = Product.__table__.c
    query = (
        select(i.line_no, i.product_id, p.name, p.category_l1, i.quantity, i.list_price, i.received_price, i.cost,
               i.profit, i.item_discount)
        .join(Product.__table__, p.id == i.product_id)
        .where(i.order_id == int(order_id))
        .order_by(i.line_no)
    )  # fmt: skip
    lines = _frame(conn, query, LINE_COLUMNS, ("quantity", "received_price", "cost", "profit", "item_discount"))
    return (dict(row) if row else None), lines
