"""Chain-wide tables answer every all-store total exactly as the store-level table does, with
more stores than one bitset word holds, zero and negative quantities, abnormal orders."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from readmodel import chain, sums
from readmodel.selection import Selection

CHANNELS = ["美团闪购", "饿了么", "京东到家", "自营小程序"]
FIRST = dt.date(2026, 1, 1)
MEASURES = ("quantity", "revenue", "cost", "profit")


def store_table(seed: int, stores: int = 150, rows: int = 40_000) -> pd.DataFrame:
    """A product table as ``readmodel.tables`` loads it: ordered by store and day, int units."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "store_id": rng.choice(np.arange(3, 3 + 2 * stores, 2), rows).astype(np.int32),  # gaps in the ids
        "day": (sums.ordinal(FIRST) + rng.integers(0, 40, rows)).astype(np.int32),
        "channel": pd.Categorical(rng.choice(CHANNELS, rows), categories=CHANNELS),
        "platform_fee_zero": rng.random(rows) < 0.1,
        "product_id": rng.integers(1, 60, rows).astype(np.int32),
        "quantity": rng.choice([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0], rows, p=[0.05, 0.15, 0.1, 0.4, 0.2, 0.1]),
        "revenue": rng.integers(-500, 20_000, rows) / 100,
        "cost": rng.integers(0, 9_000, rows) / 100,
        "profit": rng.integers(-3_000, 9_000, rows) / 100,
    })  # fmt: skip
    frame = frame.drop_duplicates(["store_id", "day", "channel", "platform_fee_zero", "product_id"])
    return sums.as_table(frame.reset_index(drop=True), MEASURES, compact=True)


SELECTIONS = [  # (first day, last day, channels, fee channels)
    (0, 39, None, ()),
    (5, 11, None, ("美团闪购", "饿了么")),
    (0, 0, ["饿了么"], ()),
    (20, 39, ["美团闪购", "自营小程序"], ("美团闪购",)),
    (50, 60, None, ()),  # no data
]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("chosen", SELECTIONS)
def test_chain001_every_store_total_equals_the_store_level_one(seed, chosen):
    table = store_table(seed)
    whole = chain.build(table, ("product_id",), MEASURES, store_bits=True)
    assert len(whole) < len(table) and {"stores_2", "sold_2"} <= set(whole.columns)  # 150 stores: 3 words
    first, last, channels, fee_channels = chosen
    selection = Selection.build(FIRST + dt.timedelta(days=first), FIRST + dt.timedelta(days=last), None, channels)
    rows = sums.select(table, selection, fee_channels)
    chain_rows = sums.select(whole, selection, fee_channels)

    expected = sums.product_totals(table, rows, MEASURES)
    found = chain.product_totals(whole, chain_rows, MEASURES)
    pd.testing.assert_frame_equal(found, expected, check_dtype=False, rtol=0, atol=0)
    if first == 0 and last == 39:
        assert (expected["stores"] > 64).any()  # the counts span words

    for keys in (["product_id", "day"], ["day"], ["channel"]):
        pd.testing.assert_frame_equal(sums.sums(whole, chain_rows, keys, MEASURES),
                                      sums.sums(table, rows, keys, MEASURES), check_dtype=False)  # fmt: skip
    start, end = selection.start, selection.start + dt.timedelta(days=2)
    assert chain.distinct_products(whole, chain_rows, start, end) == sums.distinct_products(table, rows, start, end)


def test_chain002_an_empty_table_gives_an_empty_chain_table():
    empty = store_table(3).iloc[:0]
    whole = chain.build(empty, ("product_id",), MEASURES, store_bits=True)
    assert whole.empty and {"product_id", "day", "channel", "platform_fee_zero", "stores_0"} <= set(whole.columns)
    selection = Selection.build(FIRST, FIRST, None, None)
    assert chain.product_totals(whole, sums.select(whole, selection), MEASURES).empty
