"""Pieces: in-memory copies of the small daily aggregates, one per data version.

The store × day × channel aggregate (52,000 rows for 100 stores × 90 days), its hour and distance
splits and the store directory are read whole once per data version and cached like any view
(region "pieces": L1 keeps them, L2/L3 hand them to the other workers as Arrow). Views that only
sum these tables (KPI trend, 健康分, 经营总览, 渠道分析, 时段分析, 配送分析) then answer any store /
channel / window combination from memory with ``analytics.cube`` — a combination nobody asked for
before costs milliseconds instead of a database query. Views that need products or single
orders still query the database. With the cache off (``O2O_CACHE_ENABLED=false``) the same
functions run the SQL of ``db.queries`` instead, so nothing is kept in memory.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analytics import cube
from cache import cached
from db import queries
from db.engine import reading
from db.queries import CHANNEL_MEASURES, DAILY_MEASURES, Scope
from services.runtime import Runtime

CHANNEL_PIECE_MEASURES = tuple(dict.fromkeys([*DAILY_MEASURES, *CHANNEL_MEASURES]))
HOUR_MEASURES = ("orders", "revenue", "actual_profit")
DISTANCE_MEASURES = ("orders", "revenue", "actual_profit", "delivery_fee", "delivery_net_cost")
PRODUCT_MEASURES = ("quantity", "revenue", "cost", "profit")
DEPTH_MEASURES = ("orders", "revenue")


@cached("pieces")
def channel_piece(runtime: Runtime) -> pd.DataFrame:
    """agg_store_day_channel, every row."""
    with _whole_table(runtime) as conn:
        frame = queries.aggregate_rows(conn, "channel", (), CHANNEL_PIECE_MEASURES)
    return cube.as_piece(frame, CHANNEL_PIECE_MEASURES)


@cached("pieces")
def hour_piece(runtime: Runtime) -> pd.DataFrame:
    """agg_store_day_hour, every row."""
    with _whole_table(runtime) as conn:
        frame = queries.aggregate_rows(conn, "hour", ("hour",), HOUR_MEASURES)
    return cube.as_piece(frame, HOUR_MEASURES)


@cached("pieces")
def distance_piece(runtime: Runtime) -> pd.DataFrame:
    """agg_store_day_distance, every row."""
    with _whole_table(runtime) as conn:
        frame = queries.aggregate_rows(conn, "distance", ("distance_band",), DISTANCE_MEASURES)
    return cube.as_piece(frame, DISTANCE_MEASURES)


@cached("pieces")
def product_piece(runtime: Runtime) -> pd.DataFrame:
    """agg_store_day_product without 耗材, every row (measures as int32 units: ~30 MB for
    100 stores × 90 days)."""
    with _whole_table(runtime) as conn:
        frame = queries.aggregate_rows(conn, "product", ("product_id",), PRODUCT_MEASURES)
    return cube.as_piece(frame, PRODUCT_MEASURES, compact=True)


@cached("pieces")
def depth_piece(runtime: Runtime) -> pd.DataFrame:
    """Orders and 实收 per store, day, channel and basket depth (from ``orders``)."""
    with _whole_table(runtime) as conn:
        frame = queries.depth_rows(conn)
    return cube.as_piece(frame, DEPTH_MEASURES, compact=True)


@cached("pieces")
def order_piece(runtime: Runtime, fee_floor: float, fee_channels: tuple[str, ...]) -> pd.DataFrame:
    """The orders an order rule or the 异常订单 list can name (``db.queries.flagged_orders``):
    loss-making, delivery fee above ``fee_floor``, or abnormal."""
    with _whole_table(runtime) as conn:  # the dates are in ``day``: no Python date per row
        return queries.flagged_orders(conn, fee_floor, fee_channels).drop(columns="business_date")


@cached("pieces")
def product_directory(runtime: Runtime) -> pd.DataFrame:
    """Every non-耗材 product: id, name, category."""
    with _whole_table(runtime) as conn:
        return queries.products(conn)


@cached("pieces")
def store_directory(runtime: Runtime) -> pd.DataFrame:
    """All stores: id, code, name, city, franchise_type (ordered by city, name)."""
    with _whole_table(runtime) as conn:
        return queries.stores(conn)


def _whole_table(runtime: Runtime):
    """A read of a whole aggregate: bounded by ``db_load_timeout_s``, not the view's bound."""
    return reading(runtime.engine, timeout_s=runtime.settings.db_load_timeout_s)


def enabled(runtime: Runtime) -> bool:
    """Pieces live in the cache: with the cache off every view queries the database itself."""
    return runtime.cache is not None and runtime.cache.enabled


def stores(runtime: Runtime) -> pd.DataFrame:
    """All stores (``db.queries.stores``), from the cached directory when the cache is on."""
    if enabled(runtime):
        return store_directory(runtime)
    with reading(runtime.engine) as conn:
        return queries.stores(conn)


def product_names(runtime: Runtime, product_ids) -> dict[int, str]:
    """Names of the given non-耗材 products (every product a piece can name)."""
    wanted = sorted({int(i) for i in product_ids})
    if not enabled(runtime):
        with reading(runtime.engine) as conn:
            return queries.product_names(conn, wanted)
    directory = product_directory(runtime).set_index("id")["name"]
    found = directory.reindex(wanted).dropna()
    return {int(i): name for i, name in found.items()}


def store_names(runtime: Runtime) -> dict[int, str]:
    directory = stores(runtime)
    return {int(i): name for i, name in zip(directory["id"], directory["name"], strict=True)}


def _scope(runtime: Runtime, start: dt.date, end: dt.date, store_ids, channels) -> Scope:
    return Scope(start, end, store_ids, channels, runtime.settings.fee_channels)


def _sql(runtime: Runtime, query, start: dt.date, end: dt.date, store_ids, channels, *args):
    """The cache-off path: ``query(conn, scope, *args)`` on the database."""
    with reading(runtime.engine) as conn:
        return query(conn, _scope(runtime, start, end, store_ids, channels), *args)


def _selected(runtime: Runtime, piece, start: dt.date, end: dt.date, store_ids, channels):
    """(the piece, positions of the selection's rows, abnormal orders excluded)."""
    frame = piece(runtime)
    return frame, cube.select(frame, start, end, store_ids, channels, runtime.settings.fee_channels)


def store_data_spans(runtime: Runtime) -> pd.DataFrame:
    """``db.queries.store_data_spans``: store_id, first_day, last_day of every store with orders
    (what the 环比 / 同比 coverage is measured against)."""
    if not enabled(runtime):
        with reading(runtime.engine) as conn:
            return queries.store_data_spans(conn)
    piece = channel_piece(runtime)  # ordered by store and day: a store's first and last rows
    store, day = piece["store_id"].to_numpy(), piece["day"].to_numpy()
    starts = np.flatnonzero(np.r_[True, store[1:] != store[:-1]])[: len(store)]
    ends = np.r_[starts[1:], len(store)][: len(starts)] - 1
    return pd.DataFrame({"store_id": store[starts].astype(int), "first_day": cube.as_dates(day[starts]),
                         "last_day": cube.as_dates(day[ends])})  # fmt: skip


def daily_totals(runtime: Runtime, start: dt.date, end: dt.date, store_ids, channels,
                 by_store: bool = False) -> pd.DataFrame:  # fmt: skip
    """``db.queries.daily_totals``: one row per day (per store and day with ``by_store``)."""
    if not enabled(runtime):
        return _sql(runtime, queries.daily_totals, start, end, store_ids, channels, by_store)
    piece, rows = _selected(runtime, channel_piece, start, end, store_ids, channels)
    return cube.sums(piece, rows, ["store_id", "day"] if by_store else ["day"], DAILY_MEASURES)


def store_totals(runtime: Runtime, start: dt.date, end: dt.date, channels, split: dt.date | None = None):
    """``db.queries.store_totals`` over all stores."""
    if not enabled(runtime):
        return _sql(runtime, queries.store_totals, start, end, None, channels, split)
    piece, rows = _selected(runtime, channel_piece, start, end, None, channels)
    return cube.store_totals(piece, rows, DAILY_MEASURES, split)


def channel_totals(runtime: Runtime, start: dt.date, end: dt.date, store_ids, channels) -> tuple[pd.DataFrame, int]:
    """(``db.queries.channel_totals``, ``db.queries.abnormal_count``) of the selection."""
    if not enabled(runtime):
        return (_sql(runtime, queries.channel_totals, start, end, store_ids, channels),
                _sql(runtime, queries.abnormal_count, start, end, store_ids, channels))  # fmt: skip
    piece, rows = _selected(runtime, channel_piece, start, end, store_ids, channels)
    totals = cube.sums(piece, rows, ["channel"], CHANNEL_MEASURES)
    return totals, cube.abnormal_orders(piece, start, end, store_ids, channels, runtime.settings.fee_channels)


def hourly_totals(runtime: Runtime, start: dt.date, end: dt.date, store_ids, channels) -> pd.DataFrame:
    """``db.queries.hourly_totals``: one row per day and hour."""
    if not enabled(runtime):
        return _sql(runtime, queries.hourly_totals, start, end, store_ids, channels)
    piece, rows = _selected(runtime, hour_piece, start, end, store_ids, channels)
    return cube.sums(piece, rows, ["day", "hour"], HOUR_MEASURES)


def distance_totals(runtime: Runtime, start: dt.date, end: dt.date, store_ids, channels) -> pd.DataFrame:
    """``db.queries.distance_totals``: one row per distance band."""
    if not enabled(runtime):
        return _sql(runtime, queries.distance_totals, start, end, store_ids, channels)
    piece, rows = _selected(runtime, distance_piece, start, end, store_ids, channels)
    return cube.sums(piece, rows, ["distance_band"], DISTANCE_MEASURES)


def product_days(runtime: Runtime, start: dt.date, end: dt.date, store_ids, channels) -> pd.DataFrame:
    """``db.queries.product_days``: store × day × product sums (channels added up)."""
    if not enabled(runtime):
        return _sql(runtime, queries.product_days, start, end, store_ids, channels)
    piece, rows = _selected(runtime, product_piece, start, end, store_ids, channels)
    return cube.sums(piece, rows, ["store_id", "day", "product_id"], PRODUCT_MEASURES)


def product_totals(runtime: Runtime, start: dt.date, end: dt.date, store_ids, channels) -> pd.DataFrame:
    """``db.queries.product_totals``: one row per product sold in the selection."""
    if not enabled(runtime):
        return _sql(runtime, queries.product_totals, start, end, store_ids, channels)
    piece, rows = _selected(runtime, product_piece, start, end, store_ids, channels)
    totals = cube.product_totals(piece, rows, PRODUCT_MEASURES)
    names = product_directory(runtime).set_index("id")
    totals.insert(1, "name", names["name"].reindex(totals["product_id"]).to_numpy(dtype=object))
    totals.insert(2, "category", names["category"].reindex(totals["product_id"]).to_numpy(dtype=object))
    return totals


def category_days(runtime: Runtime, start: dt.date, end: dt.date, store_ids, channels) -> pd.DataFrame:
    """``db.queries.category_days``: 实收 per 一级分类 (未分类 when none) and day."""
    if not enabled(runtime):
        return _sql(runtime, queries.category_days, start, end, store_ids, channels)
    piece, rows = _selected(runtime, product_piece, start, end, store_ids, channels)
    per_day = cube.sums(piece, rows, ["product_id", "day"], ["revenue"])
    category = product_directory(runtime).set_index("id")["category"]
    per_day["category"] = category.reindex(per_day["product_id"]).fillna("未分类").to_numpy(dtype=object)
    grouped = per_day.groupby(["category", "day"], sort=False)["revenue"].sum().reset_index()
    return grouped.astype({"category": object})


def active_sku_counts(runtime: Runtime, store_ids, channels, periods: dict[str, tuple[dt.date, dt.date]]):
    """``db.queries.active_sku_counts``: 动销SKU数 per named period."""
    start = min(p[0] for p in periods.values())
    end = max(p[1] for p in periods.values())
    if not enabled(runtime):
        return _sql(runtime, queries.active_sku_counts, start, end, store_ids, channels, periods)
    piece, rows = _selected(runtime, product_piece, start, end, store_ids, channels)
    return {name: cube.distinct_products(piece, rows, lo, hi) for name, (lo, hi) in periods.items()}


def basket_depths(runtime: Runtime, start: dt.date, end: dt.date, store_ids, channels) -> pd.DataFrame:
    """``db.queries.basket_depths``: orders and 实收 per basket depth."""
    if not enabled(runtime):
        return _sql(runtime, queries.basket_depths, start, end, store_ids, channels)
    piece, rows = _selected(runtime, depth_piece, start, end, store_ids, channels)
    return cube.sums(piece, rows, ["depth"], DEPTH_MEASURES)


def _orders_piece(runtime: Runtime, fee_floor: float) -> pd.DataFrame:
    return order_piece(runtime, float(fee_floor), tuple(runtime.settings.fee_channels))


def _listed(piece: pd.DataFrame, rows, columns) -> pd.DataFrame:
    """The piece's rows at ``rows`` as a plain frame of ``columns`` (channel as text)."""
    picked = piece.iloc[rows]
    frame = picked[[c for c in columns if c != "business_date"]].reset_index(drop=True)
    if "business_date" in columns:
        frame.insert(list(columns).index("business_date"), "business_date",
                     cube.as_dates(picked["day"].to_numpy()))  # fmt: skip
    return frame.astype({c: object for c in ("channel", "platform_order_id") if c in frame})


def rule_orders(runtime: Runtime, day: dt.date, store_ids, channels, fee_floor: float) -> pd.DataFrame:
    """The day's orders (abnormal excluded) that the order rules may flag — 实际利润 < 0 or
    物流配送费 > ``fee_floor`` — with ``db.queries.day_orders``' columns. With the cache off all
    the day's orders come from the database (the rules pick the same ones)."""
    if not enabled(runtime):
        return _sql(runtime, queries.day_orders, day, day, store_ids, channels)
    piece = _orders_piece(runtime, fee_floor)
    rows = cube.select(piece, day, day, store_ids, channels, runtime.settings.fee_channels)
    return _listed(piece, rows, queries.DAY_ORDER_COLUMNS)


def abnormal_orders(runtime: Runtime, start: dt.date, end: dt.date, store_ids, channels, limit: int,
                    fee_floor: float) -> tuple[int, pd.DataFrame]:  # fmt: skip
    """``db.queries.abnormal_orders``: (count, the newest ``limit`` abnormal orders)."""
    if not enabled(runtime):
        return _sql(runtime, queries.abnormal_orders, start, end, store_ids, channels, limit)
    piece = _orders_piece(runtime, fee_floor)
    rows = cube.abnormal_rows(piece, cube.select(piece, start, end, store_ids, channels),
                              runtime.settings.fee_channels)  # fmt: skip
    newest = piece.iloc[rows].sort_values(["ordered_at", "id"], ascending=False, kind="stable").head(limit)
    return len(rows), _listed(newest, slice(None), queries.ORDER_COLUMNS)
