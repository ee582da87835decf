"""readmodel.sums on a hand-built table: selections, the abnormal-order exclusion, sums."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from readmodel import sums
from readmodel.selection import Selection

D1, D2, D3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)
FEE = ("美团闪购", "饿了么")


def table() -> pd.DataFrame:
    rows = [  # store, day, channel, fee 0?, orders, revenue
        (1, D1, "美团闪购", False, 3, 30.0),
        (1, D1, "美团闪购", True, 1, 12.0),  # abnormal: fee channel with a zero platform fee
        (1, D2, "自营小程序", True, 2, 20.0),  # own channel: a zero fee is normal
        (2, D2, "饿了么", False, 5, 55.0),
        (2, D3, "美团闪购", False, 4, 44.0),
    ]
    frame = pd.DataFrame(rows, columns=["store_id", "day", "channel", "platform_fee_zero", "orders", "revenue"])
    frame["day"] = [d.toordinal() for d in frame["day"]]
    frame["channel"] = frame["channel"].astype("category")
    return sums.as_table(frame, ["orders", "revenue"])


def test_sums001_select_keeps_the_window_stores_channels_and_drops_abnormal_orders():
    frame = table()
    assert frame["revenue"].iloc[sums.select(frame, Selection(D1, D2), FEE)].tolist() == [3000, 2000, 5500]
    assert frame["revenue"].iloc[sums.select(frame, Selection(D2, D3, (2,), ("美团闪购",)), FEE)].tolist() == [4400]
    assert frame["orders"].iloc[sums.select(frame, Selection(D1, D3))].sum() == 1500  # none excluded: no fee channels
    assert sums.select(frame, Selection(D1, D3, (9,), None), FEE).size == 0  # a store without rows
    assert sums.select(frame, Selection(D1, D3, None, ("没有的渠道",)), FEE).size == 0


def test_sums005_sums_are_exact_in_hundredths():
    frame = pd.DataFrame({"store_id": [1] * 3, "day": [D1.toordinal()] * 3, "channel": ["美团闪购"] * 3,
                          "platform_fee_zero": [False] * 3, "revenue": [0.1, 0.2, 0.3]})  # fmt: skip
    assert 0.1 + 0.2 + 0.3 == 0.6000000000000001  # what float addition gives
    frame = sums.as_table(frame.assign(channel=frame["channel"].astype("category")), ["revenue"])
    rows = sums.select(frame, Selection(D1, D1))
    assert sums.sums(frame, rows, ["day"], ["revenue"])["revenue"].tolist() == [0.6]


@pytest.fixture(params=["counting", "sorting"])
def grouping(request, monkeypatch):
    """Both ways of grouping: by counting key combinations, and by sorting (many combinations)."""
    if request.param == "sorting":
        monkeypatch.setattr(sums, "DENSE_GROUPS", 0)


def test_sums002_sums_per_day_per_store_and_per_channel(grouping):
    frame = table()
    rows = sums.select(frame, Selection(D1, D3), FEE)
    daily = sums.sums(frame, rows, ["day"], ["orders", "revenue"])
    assert daily.to_dict("records") == [
        {"day": D1, "orders": 3.0, "revenue": 30.0},
        {"day": D2, "orders": 7.0, "revenue": 75.0},
        {"day": D3, "orders": 4.0, "revenue": 44.0},
    ]
    channels = sums.sums(frame, rows, ["channel"], ["revenue"])
    assert dict(zip(channels["channel"], channels["revenue"], strict=True)) == {"美团闪购": 74.0, "自营小程序": 20.0,
                                                                                 "饿了么": 55.0}  # fmt: skip
    assert channels["channel"].dtype == object  # plain text, as the SQL answered
    by_store = sums.sums(frame, rows, ["store_id", "day"], ["orders"])
    assert by_store[["store_id", "orders"]].values.tolist() == [[1, 3.0], [1, 2.0], [2, 5.0], [2, 4.0]]
    assert by_store["day"].tolist() == [D1, D2, D2, D3]


def test_sums003_store_totals_split_into_current_and_previous(grouping):
    frame = table()
    rows = sums.select(frame, Selection(D1, D3), FEE)
    totals = sums.store_totals(frame, rows, ["revenue"], split=D2)
    got = {(r.store_id, r.period): r.revenue for r in totals.itertuples(index=False)}
    assert got == {(1, "previous"): 30.0, (1, "current"): 20.0, (2, "current"): 99.0}
    whole = sums.store_totals(frame, rows, ["revenue"])
    assert whole[["store_id", "period", "revenue"]].values.tolist() == [[1, "current", 50.0], [2, "current", 99.0]]


def test_sums004_abnormal_orders_counted_in_the_selection():
    assert sums.abnormal_orders(table(), Selection(D1, D3), FEE) == 1
    assert sums.abnormal_orders(table(), Selection(D2, D3), FEE) == 0
    assert sums.abnormal_orders(table(), Selection(D1, D3, (1,), ("自营小程序",)), FEE) == 0
    assert sums.abnormal_orders(table(), Selection(D1, D3), ()) == 0
    empty = sums.sums(table(), sums.select(table(), Selection(D3, D3, (1,), None)), ["day"], ["orders"])
    assert empty.empty and list(empty.columns) == ["day", "orders"]
    with pytest.raises(KeyError):
        sums.sums(table(), sums.select(table(), Selection(D1, D3)), ["day"], ["no_such_measure"])
