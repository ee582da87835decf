"""Sums over one of the read model's tables (an aggregate held in memory), for any selection of
stores / channels / days, without the database.

A table is one aggregate as a frame: ``store_id``, ``day`` (proleptic ordinal, int32, so a
date range is two integer comparisons), ``channel``, ``platform_fee_zero``, the table's own keys
and its measures as integers in 1/UNITS (:func:`as_units`: money has two decimals, counts none),
so sums are exact like the database's NUMERIC sums, whatever the order of addition. The
abnormal-order exclusion (``readmodel.abnormal``, docs/METRICS.md) is applied by :func:`select`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from readmodel.abnormal import abnormal_mask
from readmodel.selection import Selection

UNITS = 100
DENSE_GROUPS = 1 << 22  # up to this many possible key combinations, group by counting (no sort)
SCALES = {"quantity": 1000}  # measures with three decimals (件 / kg); money has two, counts none


def scale(measure: str) -> int:
    return SCALES.get(measure, UNITS)


def ordinal(day: dt.date) -> int:
    return day.toordinal()


def as_dates(ordinals: np.ndarray) -> np.ndarray:
    """Proleptic ordinals as datetime.date objects, one conversion per distinct day."""
    days, inverse = np.unique(ordinals, return_inverse=True)
    return np.array([dt.date.fromordinal(int(d)) for d in days] or [], dtype=object)[inverse.reshape(-1)]


def as_table(frame: pd.DataFrame, measures: Sequence[str], compact: bool = False) -> pd.DataFrame:
    """An aggregate's rows as a table: ordered by store and day (:func:`select` slices a store's
    rows out instead of testing every row), ``measures`` as integers in 1/:func:`scale` (int32
    with ``compact`` when every value fits: half the memory of the million-row product table)."""
    store, day = frame["store_id"].to_numpy(), frame["day"].to_numpy()
    in_order = len(frame) < 2 or bool(np.all((store[1:] > store[:-1]) | ((store[1:] == store[:-1])
                                                                         & (day[1:] >= day[:-1]))))  # fmt: skip
    ordered = frame if in_order else frame.sort_values(["store_id", "day"], kind="stable", ignore_index=True)
    units = {}
    for m in measures:
        values = np.rint(ordered[m].to_numpy(dtype=np.float64) * scale(m)).astype(np.int64)
        if compact and (not len(values) or np.abs(values).max() < 2**31):
            values = values.astype(np.int32)
        units[m] = values
    return ordered.assign(**units)


def select(table: pd.DataFrame, selection: Selection, fee_channels: Sequence[str] = ()) -> np.ndarray:
    """Positions of the table's rows of the selection (its days inclusive, its stores and
    channels; None = all), abnormal orders of ``fee_channels`` left out. Positions, not a copy of
    the rows: :func:`sums` reads only the columns it adds up."""
    if selection.store_ids is not None:  # the table is ordered by store: each store's rows are one slice
        store = table["store_id"].to_numpy()
        wanted = np.unique(np.asarray(list(selection.store_ids), dtype=store.dtype))
        lows, highs = np.searchsorted(store, wanted, "left"), np.searchsorted(store, wanted, "right")
        positions = np.concatenate([np.arange(lo, hi) for lo, hi in zip(lows, highs, strict=True)]
                                   or [np.empty(0, dtype=np.int64)])  # fmt: skip
    else:  # every row: test the columns themselves (no copy of a million-row column)
        positions = None

    def column(values: np.ndarray) -> np.ndarray:
        return values if positions is None else values[positions]

    day = column(table["day"].to_numpy())
    keep = (day >= ordinal(selection.start)) & (day <= ordinal(selection.end))
    if selection.channels is not None:
        keep &= np.isin(column(table["channel"].cat.codes.to_numpy()), codes(table, selection.channels))
    if fee_channels:
        keep &= ~abnormal_mask(table, positions, fee_channels)
    return np.flatnonzero(keep) if positions is None else positions[keep]


def codes(table: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """The channel codes of ``names`` in the table's channel categorical (unknown names left out)."""
    found = table["channel"].cat.categories.get_indexer(list(names))
    return found[found >= 0]


def sums(table: pd.DataFrame, positions: np.ndarray, keys: list[str], measures: Sequence[str]) -> pd.DataFrame:
    """SUM(measures) of the rows at ``positions`` grouped and ordered by ``keys``, as floats;
    ``day`` comes back as datetime.date, ``channel`` as text."""
    columns = {}
    for key in keys:
        values = table[key]
        columns[key] = values.cat.codes.to_numpy()[positions] if key == "channel" else values.to_numpy()[positions]
    frame = _grouped(table, positions, columns, measures)
    if "day" in keys:
        frame["day"] = as_dates(frame["day"].to_numpy())
    if "channel" in keys:
        frame["channel"] = pd.Series(table["channel"].cat.categories.to_numpy(dtype=object)[frame["channel"]],
                                     dtype=object)  # fmt: skip
    return frame


def _grouped(table: pd.DataFrame, positions: np.ndarray, columns: dict[str, np.ndarray],
             measures: Sequence[str]) -> pd.DataFrame:  # fmt: skip
    """Group by the integer ``columns`` (a mixed-radix code of them, so the groups come out in
    key order) and add up each measure with one bincount: no copy of the rows."""
    groups, inverse, keys = _group_codes(columns)
    frame = pd.DataFrame(keys)
    for m in measures:
        weights = table[m].to_numpy()[positions].astype(np.float64)  # integer units: exact below 2**53
        frame[m] = np.bincount(inverse, weights=weights, minlength=len(groups)) / scale(m)
    return frame


def _group_codes(columns: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(group codes in key order, each row's group, each group's key values)."""
    code, spans, total = mixed_code(columns)
    if total <= DENSE_GROUPS:  # a count per possible code instead of sorting the rows
        present = np.bincount(code, minlength=total) > 0
        groups = np.flatnonzero(present)
        inverse = (np.cumsum(present) - 1)[code]
    else:
        groups, inverse = np.unique(code, return_inverse=True)
    return groups, inverse, decoded(groups, spans)


def mixed_code(columns: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, tuple[int, int]], int]:
    """One int64 per row that orders like the tuple of ``columns`` (a mixed-radix number of
    them), each column's (lowest value, span), and the number of possible codes."""
    code = np.zeros(len(next(iter(columns.values()))), dtype=np.int64)
    spans = {}
    total = 1
    for name, values in columns.items():
        values = values.astype(np.int64)
        low = int(values.min()) if len(values) else 0
        span = (int(values.max()) - low + 1) if len(values) else 1
        code = code * span + (values - low)
        spans[name] = (low, span)
        total *= span
    return code, spans, total


def decoded(codes: np.ndarray, spans: dict[str, tuple[int, int]]) -> dict[str, np.ndarray]:
    """The column values of ``mixed_code`` codes."""
    keys = {}
    rest = codes
    for name in reversed(list(spans)):
        low, span = spans[name]
        keys[name] = (rest % span + low).astype(int)
        rest = rest // span
    return {name: keys[name] for name in spans}


def distinct_products(table: pd.DataFrame, positions: np.ndarray, start: dt.date, end: dt.date) -> int:
    """动销SKU数: distinct products with a quantity > 0 on ``start``..``end`` among ``positions``."""
    day = table["day"].to_numpy()[positions]
    sold = (table["quantity"].to_numpy()[positions] > 0) & (day >= ordinal(start)) & (day <= ordinal(end))
    return int(np.unique(table["product_id"].to_numpy()[positions][sold]).size)


def product_totals(table: pd.DataFrame, positions: np.ndarray, measures: Sequence[str]) -> pd.DataFrame:
    """Per product: the measures' sums, sales_days (store-days with a sale, summed over stores)
    and stores (stores with any row), as ``db.queries.product_totals`` counts them."""
    product = table["product_id"].to_numpy()[positions]
    store = table["store_id"].to_numpy()[positions]
    frame = _grouped(table, positions, {"product_id": product}, measures)
    if frame.empty:
        return frame.assign(sales_days=pd.Series(dtype=int), stores=pd.Series(dtype=int))
    index = pd.Index(frame["product_id"])
    _, _, pairs = _group_codes({"product_id": product, "store_id": store})
    frame["stores"] = np.bincount(index.get_indexer(pairs["product_id"]), minlength=len(frame))
    sold = table["quantity"].to_numpy()[positions] > 0
    if sold.any():
        _, _, days = _group_codes({"product_id": product[sold], "store_id": store[sold],
                                   "day": table["day"].to_numpy()[positions][sold]})  # fmt: skip
        frame["sales_days"] = np.bincount(index.get_indexer(days["product_id"]), minlength=len(frame))
    else:
        frame["sales_days"] = 0
    return frame[["product_id", *measures, "sales_days", "stores"]]


def store_totals(table: pd.DataFrame, positions: np.ndarray, measures: Sequence[str],
                 split: dt.date | None = None) -> pd.DataFrame:  # fmt: skip
    """One row per store (and per side of ``split``: "current" for days ≥ split, else "previous")."""
    stores = table["store_id"].to_numpy()[positions]
    if split is None:
        frame = _grouped(table, positions, {"store_id": stores}, measures)
        frame.insert(1, "period", "current")
        return frame
    current = (table["day"].to_numpy()[positions] >= ordinal(split)).astype(np.int64)
    frame = _grouped(table, positions, {"store_id": stores, "period": current}, measures)
    frame["period"] = np.where(frame["period"].to_numpy() == 1, "current", "previous").astype(object)
    return frame


def abnormal_rows(table: pd.DataFrame, positions: np.ndarray, fee_channels: Sequence[str]) -> np.ndarray:
    """The positions among ``positions`` of abnormal rows (``readmodel.abnormal``)."""
    return positions[abnormal_mask(table, positions, fee_channels)]


def abnormal_orders(table: pd.DataFrame, selection: Selection, fee_channels: Sequence[str]) -> int:
    """Orders of the selection the abnormal-order rule excludes (from a table with ``orders``)."""
    rows = abnormal_rows(table, select(table, selection), fee_channels)
    return int(table["orders"].to_numpy()[rows].sum()) // UNITS
