"""Chain-wide tables: a store-level table (``readmodel.tables``) with its stores added up, for the
views of every store.

A chain table has one row per (its keys, day, channel, platform_fee_zero) — the store-level
table's keys without ``store_id`` — and the same measures, summed exactly in integer units. It
answers every total of a selection of all stores that does not name stores: at 300 stores × 365
days the product table has 11.5 M rows and its chain table ~1.3 M, the hour table 3.7 M and its
chain table ~100,000 (docs/ARCHITECTURE.md "At chain scale").

What cannot be added up is kept as store bitsets: bit ``i`` of ``stores_<w>`` (word ``w``, 64
stores a word) says that the ``64·w + i``-th store of the store-level table has a row in the
group, ``sold_<w>`` that its row there sold (quantity > 0). The distinct stores of a product
(OR over its rows) and its store-days with a sale (OR per day, then added up) come from them,
counted as the store-level table counts them (``sums.product_totals``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from readmodel import sums

GROUP = ("day", "channel", "platform_fee_zero")  # with the table's own keys: a chain row's key
WORD_BITS = 64


def build(table: pd.DataFrame, keys: Sequence[str], measures: Sequence[str], store_bits: bool = False) -> pd.DataFrame:
    """The chain table of a store-level ``table``, ordered by (``keys``, day, channel,
    platform_fee_zero): a key's rows of a window stay together (what the bitset counts need)."""
    channel = table["channel"]
    columns = {k: table[k].to_numpy() for k in keys}
    columns.update(day=table["day"].to_numpy(), channel=channel.cat.codes.to_numpy(),
                   platform_fee_zero=table["platform_fee_zero"].to_numpy().astype(np.int8))  # fmt: skip
    code, spans, _ = sums.mixed_code(columns)
    order = np.argsort(code, kind="stable")
    code = code[order]
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]]) if len(code) else np.empty(0, dtype=np.int64)
    values = sums.decoded(code[starts], spans)
    frame = pd.DataFrame({k: values[k].astype(table[k].dtype) for k in keys})
    frame["day"] = values["day"].astype(table["day"].dtype)
    frame["channel"] = pd.Categorical.from_codes(values["channel"].astype(channel.cat.codes.dtype),
                                                 dtype=channel.dtype)  # fmt: skip
    frame["platform_fee_zero"] = values["platform_fee_zero"].astype(bool)
    for m in measures:
        added = _reduced(np.add, table[m].to_numpy().astype(np.int64)[order], starts)
        frame[m] = added.astype(np.int32) if not len(added) or np.abs(added).max() < 2**31 else added
    if store_bits:
        frame = frame.assign(**_store_bits(table, order, starts))
    return frame


def _store_bits(table: pd.DataFrame, order: np.ndarray, starts: np.ndarray) -> dict[str, np.ndarray]:
    store = table["store_id"].to_numpy()
    rank = np.searchsorted(np.unique(store), store)[order]
    word, bit = rank // WORD_BITS, np.left_shift(np.uint64(1), (rank % WORD_BITS).astype(np.uint64))
    sold = table["quantity"].to_numpy()[order] > 0
    columns = {}
    for w in range(int(word.max()) + 1 if len(word) else 1):
        mine = word == w
        columns[f"stores_{w}"] = _reduced(np.bitwise_or, np.where(mine, bit, np.uint64(0)), starts)
        columns[f"sold_{w}"] = _reduced(np.bitwise_or, np.where(mine & sold, bit, np.uint64(0)), starts)
    return columns


def _reduced(ufunc: np.ufunc, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``ufunc`` over each run of ``values`` beginning at ``starts`` (none: empty)."""
    return ufunc.reduceat(values, starts) if len(starts) else values[:0]


def is_chain(table: pd.DataFrame) -> bool:
    return "store_id" not in table.columns


def _distinct(table: pd.DataFrame, prefix: str, positions: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per run of ``positions`` beginning at ``starts``: how many stores have a bit in it."""
    counts = np.zeros(len(starts), dtype=np.int64)
    for name in [c for c in table.columns if c.startswith(f"{prefix}_")]:
        counts += np.bitwise_count(_reduced(np.bitwise_or, table[name].to_numpy()[positions], starts))
    return counts


def product_totals(table: pd.DataFrame, positions: np.ndarray, measures: Sequence[str]) -> pd.DataFrame:
    """``sums.product_totals`` from the product chain table: the sums, sales_days (store-days
    with a sale, added up over the stores) and stores (stores with any row)."""
    frame = sums.sums(table, positions, ["product_id"], measures)
    if frame.empty:
        return frame.assign(sales_days=pd.Series(dtype=int), stores=pd.Series(dtype=int))
    product, day = table["product_id"].to_numpy()[positions], table["day"].to_numpy()[positions]
    products = np.flatnonzero(np.r_[True, product[1:] != product[:-1]])  # in product order, as ``frame``
    frame["stores"] = _distinct(table, "stores", positions, products)
    product_days = np.flatnonzero(np.r_[True, (product[1:] != product[:-1]) | (day[1:] != day[:-1])])
    per_day = _distinct(table, "sold", positions, product_days)
    frame["sales_days"] = np.add.reduceat(per_day, np.searchsorted(product_days, products))
    return frame[["product_id", *measures, "sales_days", "stores"]]


def distinct_products(table: pd.DataFrame, positions: np.ndarray, start: dt.date, end: dt.date) -> int:
    """``sums.distinct_products`` from the product chain table: products a store sold on
    ``start``..``end`` (a row whose sold bits are not all zero)."""
    day = table["day"].to_numpy()[positions]
    sold = np.zeros(len(positions), dtype=bool)
    for name in [c for c in table.columns if c.startswith("sold_")]:
        sold |= table[name].to_numpy()[positions] != 0
    sold &= (day >= sums.ordinal(start)) & (day <= sums.ordinal(end))
    return int(np.unique(table["product_id"].to_numpy()[positions][sold]).size)
