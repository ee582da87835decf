"""Every total a view reads, each computed once, from the read model's tables: the selection
is passed whole, the abnormal-order rule applied by ``sums.select``. ``tests/oracle`` holds
their SQL twins, which the integration tests check these against on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from db.queries import ORDER_COLUMNS
from readmodel import chain, sums
from readmodel.selection import Selection
from readmodel.tables import (
    CHAIN_TABLES,
    CHANNEL_MEASURES,
    DAILY_MEASURES,
    DEPTH_MEASURES,
    DISTANCE_MEASURES,
    HOUR_MEASURES,
    PRODUCT_MEASURES,
    ReadModel,
)

DAY_ORDER_COLUMNS = ("id", "store_id", "channel", "platform_order_id", "ordered_at", "distance_km", "items_revenue",
                     "delivery_fee", "actual_profit")  # fmt: skip


def _selected(model: ReadModel, name: str, selection: Selection,
              by_store: bool = False) -> tuple[pd.DataFrame, np.ndarray]:  # fmt: skip
    """(the table, positions of the selection's rows, abnormal orders left out): the chain table
    (``readmodel.chain``) when the selection is every store and no store is asked for."""
    if selection.store_ids is None and not by_store and name in CHAIN_TABLES:
        table = model.chain_table(name)
    else:
        table = model.table(name)
    return table, sums.select(table, selection, model.settings.fee_channels)


def stores(model: ReadModel) -> pd.DataFrame:
    """All stores: id, code, name, city, franchise_type (ordered by city, name)."""
    return model.table("stores")


def store_names(model: ReadModel) -> dict[int, str]:
    directory = stores(model)
    return {int(i): name for i, name in zip(directory["id"], directory["name"], strict=True)}


def product_names(model: ReadModel, product_ids) -> dict[int, str]:
    """Names of the given non-耗材 products (every product a table can name)."""
    wanted = sorted({int(i) for i in product_ids})
    found = model.table("products").set_index("id")["name"].reindex(wanted).dropna()
    return {int(i): name for i, name in found.items()}


def store_data_spans(model: ReadModel) -> pd.DataFrame:
    """store_id, first_day, last_day of every store with orders, abnormal ones included (what the
    环比 / 同比 coverage is measured against)."""
    table = model.table("channel")  # ordered by store and day: a store's first and last rows
    store, day = table["store_id"].to_numpy(), table["day"].to_numpy()
    starts = np.flatnonzero(np.r_[True, store[1:] != store[:-1]])[: len(store)]
    ends = np.r_[starts[1:], len(store)][: len(starts)] - 1
    return pd.DataFrame({"store_id": store[starts].astype(int), "first_day": sums.as_dates(day[starts]),
                         "last_day": sums.as_dates(day[ends])})  # fmt: skip


def daily_totals(model: ReadModel, selection: Selection, by_store: bool = False) -> pd.DataFrame:
    """One row per day (per store and day with ``by_store``): orders, 实收, 实际利润 and the costs."""
    table, rows = _selected(model, "channel", selection)
    return sums.sums(table, rows, ["store_id", "day"] if by_store else ["day"], DAILY_MEASURES)


def store_totals(model: ReadModel, selection: Selection, split: dt.date | None = None) -> pd.DataFrame:
    """One row per store (and per side of ``split``: period "current" for days ≥ split, else
    "previous"), the sums of daily_totals' measures."""
    table, rows = _selected(model, "channel", selection)
    return sums.store_totals(table, rows, DAILY_MEASURES, split)


def channel_totals(model: ReadModel, selection: Selection) -> tuple[pd.DataFrame, int]:
    """(one row per channel with orders, 实收, 实际利润 and the costs; the abnormal orders left out)."""
    table, rows = _selected(model, "channel", selection)
    totals = sums.sums(table, rows, ["channel"], CHANNEL_MEASURES)
    return totals, sums.abnormal_orders(table, selection, model.settings.fee_channels)


def hourly_totals(model: ReadModel, selection: Selection) -> pd.DataFrame:
    """One row per day and hour: orders, 实收, 实际利润."""
    table, rows = _selected(model, "hour", selection)
    return sums.sums(table, rows, ["day", "hour"], HOUR_MEASURES)


def distance_totals(model: ReadModel, selection: Selection) -> pd.DataFrame:
    """One row per distance band: orders, 实收, 实际利润, 配送费, 配送净成本."""
    table, rows = _selected(model, "distance", selection)
    return sums.sums(table, rows, ["distance_band"], DISTANCE_MEASURES)


def product_days(model: ReadModel, selection: Selection) -> pd.DataFrame:
    """Store × day × product sums of non-耗材 products (channels added up)."""
    table, rows = _selected(model, "product", selection, by_store=True)
    return sums.sums(table, rows, ["store_id", "day", "product_id"], PRODUCT_MEASURES)


def product_daily(model: ReadModel, selection: Selection, product_id: int) -> pd.DataFrame:
    """One product's sums per day (channels and stores added up)."""
    table, rows = _selected(model, "product", selection)
    rows = rows[table["product_id"].to_numpy()[rows] == int(product_id)]
    return sums.sums(table, rows, ["day"], PRODUCT_MEASURES)


def product_totals(model: ReadModel, selection: Selection) -> pd.DataFrame:
    """One row per product sold in the selection: name, category, the sums, sales_days
    (store-days with a sale) and stores (stores with any row)."""
    table, rows = _selected(model, "product", selection)
    counted = chain.product_totals if chain.is_chain(table) else sums.product_totals
    totals = counted(table, rows, PRODUCT_MEASURES)
    names = model.table("products").set_index("id")
    totals.insert(1, "name", names["name"].reindex(totals["product_id"]).to_numpy(dtype=object))
    totals.insert(2, "category", names["category"].reindex(totals["product_id"]).to_numpy(dtype=object))
    return totals


def category_days(model: ReadModel, selection: Selection) -> pd.DataFrame:
    """实收 per 一级分类 (未分类 when none) and day."""
    table, rows = _selected(model, "product", selection)
    per_day = sums.sums(table, rows, ["product_id", "day"], ["revenue"])
    category = model.table("products").set_index("id")["category"]
    per_day["category"] = category.reindex(per_day["product_id"]).fillna("未分类").to_numpy(dtype=object)
    grouped = per_day.groupby(["category", "day"], sort=False)["revenue"].sum().reset_index()
    return grouped.astype({"category": object})


def active_sku_counts(model: ReadModel, selection: Selection, periods: dict[str, tuple[dt.date, dt.date]]):
    """动销SKU数 per named period (its stores and channels from ``selection``, not its days)."""
    wide = selection.window(min(p[0] for p in periods.values()), max(p[1] for p in periods.values()))
    table, rows = _selected(model, "product", wide)
    distinct = chain.distinct_products if chain.is_chain(table) else sums.distinct_products
    return {name: distinct(table, rows, lo, hi) for name, (lo, hi) in periods.items()}


def basket_depths(model: ReadModel, selection: Selection) -> pd.DataFrame:
    """Orders and 实收 per basket depth (non-耗材 lines per order)."""
    table, rows = _selected(model, "depth", selection)
    return sums.sums(table, rows, ["depth"], DEPTH_MEASURES)


def _listed(table: pd.DataFrame, rows, columns) -> pd.DataFrame:
    """The table's rows at ``rows`` as a plain frame of ``columns`` (channel as text)."""
    picked = table.iloc[rows]
    frame = picked[[c for c in columns if c != "business_date"]].reset_index(drop=True)
    if "business_date" in columns:
        frame.insert(list(columns).index("business_date"), "business_date",
                     sums.as_dates(picked["day"].to_numpy()))  # fmt: skip
    return frame.astype({c: object for c in ("channel", "platform_order_id") if c in frame})


def rule_orders(model: ReadModel, selection: Selection, fee_floor: float) -> pd.DataFrame:
    """The orders of the selection's last day (abnormal excluded) that the order rules may flag —
    实际利润 < 0 or 物流配送费 > ``fee_floor`` — with DAY_ORDER_COLUMNS."""
    table = model.flagged_orders(fee_floor)
    rows = sums.select(table, selection.window(selection.end, selection.end), model.settings.fee_channels)
    return _listed(table, rows, DAY_ORDER_COLUMNS)


def abnormal_orders(model: ReadModel, selection: Selection, limit: int, fee_floor: float) -> tuple[int, pd.DataFrame]:
    """(count, the newest ``limit``) of the selection's abnormal orders, with ORDER_COLUMNS."""
    table = model.flagged_orders(fee_floor)
    rows = sums.abnormal_rows(table, sums.select(table, selection), model.settings.fee_channels)
    newest = table.iloc[rows].sort_values(["ordered_at", "id"], ascending=False, kind="stable").head(limit)
    return len(rows), _listed(newest, slice(None), ORDER_COLUMNS)
