"""Read queries over the daily aggregates; each returns a DataFrame or a primitive.

Every query takes normalised filters (store ids, ISO dates, channel names) and applies the
"fee channel with zero platform fee" exclusion (docs/METRICS.md) so no caller can forget it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, and_, case, func, not_, select
from sqlalchemy.exc import SQLAlchemyError

from db.errors import DataLayerError
from db.models import AggStoreDayChannel, AggStoreDayProduct, Order, Product, Store


@dataclass(frozen=True)
class Scope:
    """What to read: ``store_ids``/``channels`` None means all."""

    start: dt.date
    end: dt.date
    store_ids: tuple[int, ...] | None = None
    channels: tuple[str, ...] | None = None
    fee_channels: tuple[str, ...] = ()


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
def stores(conn: Connection) -> pd.DataFrame:
    """All stores: id, code, name, city, franchise_type (ordered by city, name)."""
    query = select(Store.id, Store.code, Store.name, Store.city, Store.franchise_type).order_by(Store.city, Store.name)
    return pd.DataFrame(conn.execute(query).all(), columns=["id", "code", "name", "city", "franchise_type"])


@_guard
def channels(conn: Connection) -> list[str]:
    t = AggStoreDayChannel.__table__
    return [r[0] for r in conn.execute(select(t.c.channel).distinct().order_by(t.c.channel))]


@_guard
def daily_totals(conn: Connection, scope: Scope, by_store: bool = False) -> pd.DataFrame:
    """One row per day (per store and day with ``by_store``): orders, revenue (实收),
    actual_profit and the cost components."""
    t = AggStoreDayChannel.__table__
    measures = (
        "orders", "loss_orders", "revenue", "actual_profit", "item_profit", "platform_fee",
        "delivery_fee", "marketing_cost", "delivery_net_cost", "corporate_rebate",
    )  # fmt: skip
    keys = [t.c.store_id, t.c.day] if by_store else [t.c.day]
    query = (
        select(*keys, *[func.sum(t.c[m]).label(m) for m in measures])
        .where(*_where(t, scope))
        .group_by(*keys)
        .order_by(*keys)
    )
    names = [k.name for k in keys]
    frame = pd.DataFrame(conn.execute(query).all(), columns=[*names, *measures])
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame.astype({m: float for m in measures})


@_guard
def product_days(conn: Connection, scope: Scope) -> pd.DataFrame:
    """Store × day × product sales of non-consumable products (all channels in the scope summed):
    store_id, day, product_id, quantity, revenue, cost, profit."""
    t = AggStoreDayProduct.__table__
    keys = [t.c.store_id, t.c.day, t.c.product_id]
    measures = ("quantity", "revenue", "cost", "profit")
    query = (
        select(*keys, *[func.sum(t.c[m]).label(m) for m in measures])
        .join(Product.__table__, Product.id == t.c.product_id)
        .where(*_where(t, scope), not_(Product.is_consumable))
        .group_by(*keys)
    )
    frame = pd.DataFrame(conn.execute(query).all(), columns=["store_id", "day", "product_id", *measures])
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame.astype({m: float for m in measures})


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
    columns = ("store_id", "channel", "platform_order_id", "ordered_at", "distance_km", "items_revenue",
               "delivery_fee", "actual_profit")  # fmt: skip
    rows = conn.execute(select(*[o[c] for c in columns]).where(*clauses)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(columns))
    return frame.astype({"items_revenue": float, "delivery_fee": float, "actual_profit": float})


@_guard
def product_names(conn: Connection, product_ids: Sequence[int]) -> dict[int, str]:
    if not product_ids:
        return {}
    rows = conn.execute(select(Product.id, Product.name).where(Product.id.in_([int(i) for i in product_ids])))
    return {int(i): name for i, name in rows}


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


def _as_date(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
