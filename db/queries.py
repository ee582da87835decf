"""Read queries over the daily aggregates; each returns a DataFrame or a primitive.

Every query takes normalised filters (store ids, ISO dates, channel names) and applies the
"fee channel with zero platform fee" exclusion (docs/METRICS.md) so no caller can forget it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Float, and_, case, cast, func, not_, or_, select
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


@dataclass(frozen=True)
class Scope:
    """What to read: ``store_ids``/``channels`` None means all."""

    start: dt.date
    end: dt.date
    store_ids: tuple[int, ...] | None = None
    channels: tuple[str, ...] | None = None
    fee_channels: tuple[str, ...] = ()


def _sum(column, label: str):
    """SUM as double precision: the driver hands back floats instead of Decimals that would be
    converted one value at a time (a third of a query's time on tens of thousands of rows).
    The cast comes after the sum: casting every numeric to float8 first costs more than the
    numeric additions (健康分 over all stores: 42 → 85 ms)."""
    return cast(func.sum(column), Float).label(label)


def _float_sum(column, label: str):
    """SUM of values cast to double precision one by one: cheaper than _sum when the grouping
    barely reduces the rows (a numeric running sum per group is allocated; a float's is not).
    A store's 60 product-days (3,600 rows → 2,800 groups): 9.6 → 5.3 ms in PostgreSQL."""
    return func.sum(cast(column, Float)).label(label)


def _where(table, scope: Scope) -> list:
    clauses = [table.c.day >= scope.start, table.c.day <= scope.end]
    if scope.store_ids is not None:
        clauses.append(table.c.store_id.in_(scope.store_ids))
    if scope.channels is not None:
        clauses.append(table.c.channel.in_(scope.channels))
    if scope.fee_channels:
        clauses.append(not_(and_(table.c.platform_fee_zero, table.c.channel.in_(scope.fee_channels))))
    return clauses


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
    row = conn.execute(select(func.min(t.c.day), func.max(t.c.day))).one()
    return _as_date(row[0]), _as_date(row[1])


@_guard
def store_data_spans(conn: Connection) -> pd.DataFrame:
    """Per store with any order (any channel, abnormal ones included): first_day, last_day."""
    t = AggStoreDayChannel.__table__
    query = select(t.c.store_id, func.min(t.c.day), func.max(t.c.day)).group_by(t.c.store_id).order_by(t.c.store_id)
    frame = _frame(conn, query, ["store_id", "first_day", "last_day"], dates=["first_day", "last_day"])
    return frame.astype({"store_id": int})


@_guard
def stores(conn: Connection) -> pd.DataFrame:
    """All stores: id, code, name, city, franchise_type (ordered by city, name)."""
    query = select(Store.id, Store.code, Store.name, Store.city, Store.franchise_type).order_by(Store.city, Store.name)
    return _frame(conn, query, ["id", "code", "name", "city", "franchise_type"])


@_guard
def channels(conn: Connection) -> list[str]:
    t = AggStoreDayChannel.__table__
    return [r[0] for r in conn.execute(select(t.c.channel).distinct().order_by(t.c.channel))]


DAILY_MEASURES = (
    "orders", "loss_orders", "revenue", "actual_profit", "item_profit", "platform_fee",
    "delivery_fee", "marketing_cost", "delivery_net_cost", "corporate_rebate",
)  # fmt: skip


@_guard
def daily_totals(conn: Connection, scope: Scope, by_store: bool = False) -> pd.DataFrame:
    """One row per day (per store and day with ``by_store``): orders, revenue (实收),
    actual_profit and the cost components."""
    t = AggStoreDayChannel.__table__
    measures = DAILY_MEASURES
    keys = [t.c.store_id, t.c.day] if by_store else [t.c.day]
    query = select(*keys, *[_sum(t.c[m], m) for m in measures]).where(*_where(t, scope)).group_by(*keys).order_by(*keys)
    return _frame(conn, query, [*[k.name for k in keys], *measures], measures, dates=["day"])


@_guard
def store_totals(conn: Connection, scope: Scope, split: dt.date | None = None) -> pd.DataFrame:
    """One row per store (and per side of ``split``: period "current" for days ≥ split, else
    "previous"): the sums of daily_totals' measures, grouped in the database."""
    t = AggStoreDayChannel.__table__
    keys = [t.c.store_id]
    if split is not None:
        keys.append(case((t.c.day >= split, "current"), else_="previous").label("period"))
    query = select(*keys, *[_sum(t.c[m], m) for m in DAILY_MEASURES]).where(*_where(t, scope))
    names = ["store_id", "period"][: len(keys)]
    frame = _frame(conn, query.group_by(*keys), [*names, *DAILY_MEASURES], DAILY_MEASURES)
    if split is None:
        frame.insert(1, "period", "current")
    return frame.astype({"store_id": int})


@_guard
def product_days(conn: Connection, scope: Scope) -> pd.DataFrame:
    """Store × day × product sales of non-consumable products (all channels in the scope summed):
    store_id, day, product_id, quantity, revenue, cost, profit."""
    t = AggStoreDayProduct.__table__
    keys = [t.c.store_id, t.c.day, t.c.product_id]
    measures = ("quantity", "revenue", "cost", "profit")
    query = (
        select(*keys, *[_float_sum(t.c[m], m) for m in measures])
        .join(Product.__table__, Product.id == t.c.product_id)
        .where(*_where(t, scope), not_(Product.is_consumable))
        .group_by(*keys)
    )
    return _frame(conn, query, ["store_id", "day", "product_id", *measures], measures, dates=["day"])


DAY_ORDER_COLUMNS = ("id", "store_id", "channel", "platform_order_id", "ordered_at", "distance_km", "items_revenue",
                     "delivery_fee", "actual_profit")  # fmt: skip


@_guard
def day_orders(conn: Connection, scope: Scope) -> pd.DataFrame:
    """Raw orders of the scope's days (drill-down; abnormal orders excluded): one row per order."""
    o = Order.__table__.c
    clauses = [o.business_date >= scope.start, o.business_date <= scope.end]
    if scope.store_ids is not None:
        clauses.append(o.store_id.in_(scope.store_ids))
    if scope.channels is not None:
        clauses.append(o.channel.in_(scope.channels))
    if scope.fee_channels:
        clauses.append(not_(and_(o.platform_fee_zero, o.channel.in_(scope.fee_channels))))
    return _frame(conn, select(*[o[c] for c in DAY_ORDER_COLUMNS]).where(*clauses), DAY_ORDER_COLUMNS,
                  ["items_revenue", "delivery_fee", "actual_profit"])  # fmt: skip


@_guard
def products(conn: Connection) -> pd.DataFrame:
    """Every non-耗材 product: id, name, category (一级分类, None when not given)."""
    p = Product.__table__.c
    query = select(p.id, p.name, p.category_l1).where(not_(p.is_consumable)).order_by(p.id)
    return _frame(conn, query, ["id", "name", "category"]).astype({"id": int})


@_guard
def product_names(conn: Connection, product_ids: Sequence[int]) -> dict[int, str]:
    if not product_ids:
        return {}
    rows = conn.execute(select(Product.id, Product.name).where(Product.id.in_([int(i) for i in product_ids])))
    return {int(i): name for i, name in rows}


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


@_guard
def active_sku_counts(conn: Connection, scope: Scope, periods: dict[str, tuple[dt.date, dt.date]]) -> dict[str, int]:
    """动销SKU数 per named period: distinct non-consumable products with quantity > 0.

    One scan over the union of the periods (``scope`` gives stores/channels; its dates are
    ignored): products are grouped once, each with a flag per period, then the flags counted.
    """
    t = AggStoreDayProduct.__table__
    start = min(p[0] for p in periods.values())
    end = max(p[1] for p in periods.values())
    wide = Scope(start, end, scope.store_ids, scope.channels, scope.fee_channels)
    flags = [
        func.max(case((and_(t.c.day >= lo, t.c.day <= hi), 1), else_=0)).label(name)
        for name, (lo, hi) in periods.items()
    ]
    sold = select(t.c.product_id, *flags).where(*_where(t, wide), t.c.quantity > 0).group_by(t.c.product_id).subquery()
    query = (
        select(*[func.coalesce(func.sum(sold.c[name]), 0) for name in periods])
        .select_from(sold)
        .join(Product.__table__, Product.id == sold.c.product_id)
        .where(not_(Product.is_consumable))
    )
    row = conn.execute(query).one()
    return {name: int(value) for name, value in zip(periods, row, strict=True)}


AGGREGATES = {"channel": AggStoreDayChannel, "hour": AggStoreDayHour, "distance": AggStoreDayDistance,
              "product": AggStoreDayProduct}  # fmt: skip
PIECE_CHUNK_ROWS = 50_000
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


@_guard
def aggregate_rows(conn: Connection, aggregate: str, keys: Sequence[str], measures: Sequence[str]) -> pd.DataFrame:
    """Every row of one daily aggregate (``AGGREGATES``), ordered by store and day, for the
    in-memory pieces: store_id (int32), day (its proleptic ordinal, int32), channel
    (categorical), platform_fee_zero, ``keys`` (int16) and ``measures`` as floats."""
    t = AGGREGATES[aggregate].__table__
    names = ["store_id", "day", "channel", "platform_fee_zero", *keys]
    query = select(*[t.c[n] for n in names], *[cast(t.c[m], Float).label(m) for m in measures]).order_by(
        t.c.store_id, t.c.day)  # fmt: skip
    if aggregate == "product":  # every product view leaves 耗材 (consumables) out
        query = query.join(Product.__table__, Product.id == t.c.product_id).where(not_(Product.is_consumable))
    return _piece_frame(conn, query, keys, measures)


@_guard
def depth_rows(conn: Connection) -> pd.DataFrame:
    """Orders and 实收 per store, day, channel, zero-fee flag and basket depth (``goods_lines``),
    shaped like :func:`aggregate_rows`: the piece that answers :func:`basket_depths` for any
    selection (at most 7 depths per store-day-channel: ~150,000 rows for 100 stores × 90 days)."""
    o = Order.__table__.c
    groups = [o.store_id, o.business_date, o.channel, o.platform_fee_zero, o.goods_lines]
    query = (
        select(o.store_id, o.business_date.label("day"), o.channel, o.platform_fee_zero, o.goods_lines.label("depth"),
               cast(func.count(), Float).label("orders"), _sum(o.items_revenue, "revenue"))
        .group_by(*groups)
        .order_by(o.store_id, o.business_date)
    )  # fmt: skip
    return _piece_frame(conn, query, ("depth",), ("orders", "revenue"))


def _piece_frame(conn: Connection, query, keys: Sequence[str], measures: Sequence[str]) -> pd.DataFrame:
    """A piece query's rows (store_id, day, channel, platform_fee_zero, ``keys``, ``measures``) as
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
    result = conn.execution_options(stream_results=True, yield_per=PIECE_CHUNK_ROWS).execute(query)
    for rows in result.partitions():
        for name, values in zip(names, zip(*rows, strict=True), strict=True):
            if name == "day":
                days = pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[D]").astype(np.int64)
                parts[name].append(days + _EPOCH_ORDINAL)
            else:
                parts[name].append(np.asarray(values, dtype=object if name == "channel" else None))
    return {n: np.concatenate(p) if p else np.asarray([], dtype=object if n == "channel" else np.int64)
            for n, p in parts.items()}  # fmt: skip


def _sums(table, scope: Scope, keys: list, measures: Sequence[str]):
    """SELECT of SUM(``measures``) grouped and ordered by ``keys`` over one aggregate table."""
    query = select(*keys, *[_sum(table.c[m], m) for m in measures]).where(*_where(table, scope))
    return query.group_by(*keys).order_by(*keys)


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


CHANNEL_MEASURES = ("orders", "loss_orders", "revenue", "actual_profit", "platform_fee", "marketing_cost",
                    "delivery_fee", "delivery_net_cost")  # fmt: skip


@_guard
def channel_totals(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per channel: orders, loss_orders, 实收, 实际利润 and the cost sums."""
    t = AggStoreDayChannel.__table__
    query = _sums(t, scope, [t.c.channel], CHANNEL_MEASURES)
    return _frame(conn, query, ["channel", *CHANNEL_MEASURES], CHANNEL_MEASURES)


@_guard
def hourly_totals(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per day and hour: orders, 实收, 实际利润."""
    t = AggStoreDayHour.__table__
    measures = ("orders", "revenue", "actual_profit")
    query = _sums(t, scope, [t.c.day, t.c.hour], measures)
    return _frame(conn, query, ["day", "hour", *measures], measures, dates=["day"]).astype({"hour": int})


@_guard
def distance_totals(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per distance band: orders, 实收, 实际利润, 配送费, 配送净成本."""
    t = AggStoreDayDistance.__table__
    measures = ("orders", "revenue", "actual_profit", "delivery_fee", "delivery_net_cost")
    query = _sums(t, scope, [t.c.distance_band], measures)
    return _frame(conn, query, ["distance_band", *measures], measures).astype({"distance_band": int})


@_guard
def product_totals(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per non-耗材 product sold in the scope: name, category, quantity, 实收, cost, profit,
    sales_days (store-days with a sale) and stores (stores that sold it).

    Grouped per product and store first (with the store's distinct sale days), then per product:
    half the time of grouping per store-day (all stores, 30 days: 735 → 349 ms). Quantities are
    never negative (the importer rejects them), so a day with a row of quantity > 0 is a sale day."""
    t = AggStoreDayProduct.__table__
    measures = ("quantity", "revenue", "cost", "profit")
    per_store = (
        select(t.c.product_id, t.c.store_id, *[func.sum(t.c[m]).label(m) for m in measures],
               func.count(func.distinct(case((t.c.quantity > 0, t.c.day)))).label("days"))
        .where(*_where(t, scope))
        .group_by(t.c.product_id, t.c.store_id)
        .subquery()
    )  # fmt: skip
    p = Product.__table__.c
    query = (
        select(
            per_store.c.product_id, p.name, p.category_l1,
            *[_sum(per_store.c[m], m) for m in measures],
            func.sum(per_store.c.days).label("sales_days"),
            func.count().label("stores"),
        )
        .join(Product.__table__, p.id == per_store.c.product_id)
        .where(not_(p.is_consumable))
        .group_by(per_store.c.product_id, p.name, p.category_l1)
    )  # fmt: skip
    columns = ["product_id", "name", "category", *measures, "sales_days", "stores"]
    frame = _frame(conn, query, columns, measures)
    return frame.astype({"product_id": int, "sales_days": int, "stores": int})


@_guard
def category_days(conn: Connection, scope: Scope) -> pd.DataFrame:
    """实收 per 一级分类 and day (non-耗材)."""
    t = AggStoreDayProduct.__table__
    p = Product.__table__.c
    category = func.coalesce(p.category_l1, "未分类").label("category")
    query = (
        select(category, t.c.day, _sum(t.c.revenue, "revenue"))
        .join(Product.__table__, p.id == t.c.product_id)
        .where(*_where(t, scope), not_(p.is_consumable))
        .group_by(category, t.c.day)
    )
    return _frame(conn, query, ["category", "day", "revenue"], ["revenue"], dates=["day"])


def _order_clauses(o, scope: Scope) -> list:
    clauses = [o.business_date >= scope.start, o.business_date <= scope.end]
    if scope.store_ids is not None:
        clauses.append(o.store_id.in_(scope.store_ids))
    if scope.channels is not None:
        clauses.append(o.channel.in_(scope.channels))
    return clauses


def _normal(o, scope: Scope) -> list:
    return [not_(and_(o.platform_fee_zero, o.channel.in_(scope.fee_channels)))] if scope.fee_channels else []


@_guard
def basket_depths(conn: Connection, scope: Scope) -> pd.DataFrame:
    """Orders and 实收 by basket depth (orders.goods_lines: non-耗材 lines per order)."""
    o = Order.__table__.c
    query = (
        select(o.goods_lines, func.count(), _sum(o.items_revenue, "revenue"))
        .where(*_order_clauses(o, scope), *_normal(o, scope))
        .group_by(o.goods_lines)
    )
    return _frame(conn, query, ["depth", "orders", "revenue"], ["orders", "revenue"]).astype({"depth": int})


ORDER_COLUMNS = (
    "id", "store_id", "channel", "platform_order_id", "ordered_at", "business_date", "distance_km", "line_count",
    "items_revenue", "items_profit", "platform_fee", "delivery_fee", "user_delivery_fee", "delivery_fee_discount",
    "corporate_rebate", "marketing_cost", "delivery_net_cost", "actual_profit",
)  # fmt: skip
ORDER_MONEY = tuple(c for c in ORDER_COLUMNS[8:])
NEWEST_FIRST = (Order.ordered_at.desc(), Order.id.desc())  # lists of orders; id settles equal times


def _orders(conn: Connection, query) -> pd.DataFrame:
    frame = _frame(conn, query, ORDER_COLUMNS, ORDER_MONEY)
    return frame.astype({"id": int, "store_id": int})


@_guard
def flagged_orders(conn: Connection, fee_floor: float, fee_channels: Sequence[str]) -> pd.DataFrame:
    """Every order that an order rule or the 异常订单 list can name, whatever the selection:
    实际利润 < 0 (穿底), 物流配送费 > ``fee_floor`` (高配送成本 candidates) or abnormal (a fee
    channel with platform fee 0) — ~6 % of the orders. ``ORDER_COLUMNS`` plus platform_fee_zero
    and day (ordinal, int32), ordered by store and day (newest first within a day), so
    ``analytics.cube.select`` slices it like a piece."""
    o = Order.__table__.c
    flags = [o.actual_profit < 0, o.delivery_fee > fee_floor]
    if fee_channels:
        flags.append(and_(o.platform_fee_zero, o.channel.in_(tuple(fee_channels))))
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
def abnormal_count(conn: Connection, scope: Scope) -> int:
    """Number of abnormal orders (fee channel, platform fee 0) in the scope, from the aggregates."""
    if not scope.fee_channels:
        return 0
    t = AggStoreDayChannel.__table__
    unfiltered = Scope(scope.start, scope.end, scope.store_ids, scope.channels)
    query = select(func.coalesce(func.sum(t.c.orders), 0)).where(
        *_where(t, unfiltered), t.c.platform_fee_zero, t.c.channel.in_(scope.fee_channels)
    )
    return int(conn.execute(query).scalar_one())


@_guard
def abnormal_orders(conn: Connection, scope: Scope, limit: int) -> tuple[int, pd.DataFrame]:
    """异常订单: orders on a fee channel whose platform fee is 0 (excluded from every KPI).
    Returns (count, the first ``limit`` of them, newest first)."""
    o = Order.__table__.c
    if not scope.fee_channels:
        return 0, _frame(conn, select(*[o[c] for c in ORDER_COLUMNS]).where(False), ORDER_COLUMNS)
    clauses = [*_order_clauses(o, scope), o.platform_fee_zero, o.channel.in_(scope.fee_channels)]
    total = conn.execute(select(func.count()).where(*clauses)).scalar_one()
    query = select(*[o[c] for c in ORDER_COLUMNS]).where(*clauses).order_by(*NEWEST_FIRST).limit(limit)
    return int(total), _orders(conn, query)


@_guard
def orders_with_product(conn: Connection, scope: Scope, product_id: int, limit: int) -> tuple[int, pd.DataFrame]:
    """Orders in the scope (abnormal excluded) that contain ``product_id``: (count, newest first)."""
    o = Order.__table__.c
    i = OrderItem.__table__.c
    has = select(i.order_id).where(i.product_id == int(product_id), i.order_id == o.id).exists()
    clauses = [*_order_clauses(o, scope), *_normal(o, scope), has]
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


def _as_date(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
