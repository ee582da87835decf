"""What the database columns can hold, read from db.models: the one place the importer's value
ranges come from, so a schema change moves the validation with it.

A NUMERIC(p, s) column stores at most 10^(p−s) − 10^−s in absolute value; PostgreSQL refuses a
larger value for the whole COPY (NumericValueOutOfRange) and SQLite would store it as a float
the dashboard then shows as Infinity or garbage, so the importer rejects such cells first.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Column, Numeric, String

from db.export_format import COLUMNS, NUMERIC_KINDS
from db.models import AggStoreDayChannel, Order, OrderItem, Product, Store

# Export columns stored under another name (or table) than their own.
_TEXT_TARGETS = {
    "city": Store.__table__.c.city,
    "franchise_type": Store.__table__.c.franchise_type,
    "store_name": Store.__table__.c.name,
    "store_code": Store.__table__.c.code,
    "product_name": Product.__table__.c.name,
    "barcode": Product.__table__.c.barcode,
    "product_code": Product.__table__.c.store_code,
    "category_l1": Product.__table__.c.category_l1,
    "category_l3": Product.__table__.c.category_l3,
}


def numeric_limit(column: Column) -> float:
    """Largest absolute value the NUMERIC column ``column`` can store."""
    kind = column.type
    if not isinstance(kind, Numeric) or kind.precision is None:
        raise TypeError(f"{column} is not a NUMERIC(p, s) column")
    scale = kind.scale or 0
    return 10.0 ** (kind.precision - scale) - 10.0**-scale


def _stored(name: str) -> Column | None:
    for table in (Order.__table__, OrderItem.__table__):
        if name in table.c:
            return table.c[name]
    return _TEXT_TARGETS.get(name)


@cache
def cell_limits() -> dict[str, float]:
    """Export column name → largest absolute value its database column stores."""
    return {c.name: numeric_limit(_stored(c.name)) for c in COLUMNS if c.kind in NUMERIC_KINDS}


@cache
def text_lengths() -> dict[str, int]:
    """Export column name → longest text its database column stores (address is never stored)."""
    result = {}
    for c in COLUMNS:
        column = _stored(c.name) if c.kind == "text" else None
        if column is not None and isinstance(column.type, String) and column.type.length:
            result[c.name] = column.type.length
    return result


@cache
def key_lengths() -> dict[str, int]:
    """Keys the importer builds from the cells (store_key, sku_key) → longest text stored."""
    return {"store_key": Store.__table__.c.code.type.length, "sku_key": Product.__table__.c.sku_key.type.length}


@cache
def order_limits() -> dict[str, float]:
    """Per-order figures computed at import (analytics.formulas.order_totals) → their limit."""
    return {
        c.name: numeric_limit(c)
        for c in Order.__table__.c
        if (c.name.startswith("items_") or c.name in DERIVED_ORDER_FIGURES) and isinstance(c.type, Numeric)
    }


@cache
def day_limits() -> dict[str, float]:
    """Measures of agg_store_day_channel (the coarsest daily aggregate) → their limit."""
    return {c.name: numeric_limit(c) for c in AggStoreDayChannel.__table__.c if isinstance(c.type, Numeric)}


DERIVED_ORDER_FIGURES = ("platform_fee", "marketing_cost", "delivery_net_cost", "actual_profit")
