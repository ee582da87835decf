"""analytics.cube on a hand-built piece: selections, the abnormal-order exclusion, sums."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics import cube

D1, D2, D3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)
FEE = ("美团闪购", "饿了么")


def piece() -> pd.DataFrame:
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
    return cube.as_piece(frame, ["orders", "revenue"])


def test_cube001_select_keeps_the_window_stores_channels_and_drops_abnormal_orders():
    frame = piece()
    assert frame["revenue"].iloc[cube.select(frame, D1, D2, None, None, FEE)].tolist() == [3000, 2000, 5500]
    assert frame["revenue"].iloc[cube.select(frame, D2, D3, [2], ["美团闪购"], FEE)].tolist() == [4400]
    assert frame["orders"].iloc[cube.select(frame, D1, D3)].sum() == 1500  # nothing excluded without fee channels
    assert cube.select(frame, D1, D3, [9], None, FEE).size == 0  # a store without rows
    assert cube.select(frame, D1, D3, None, ["没有的渠道"], FEE).size == 0


def test_cube005_sums_are_exact_in_hundredths():
    frame = pd.DataFrame({"store_id": [1] * 3, "day": [D1.toordinal()] * 3, "channel": ["美团闪购"] * 3,
                          "platform_fee_zero": [False] * 3, "revenue": [0.1, 0.2, 0.3]})  # fmt: skip
    assert 0.1 + 0.2 + 0.3 == 0.6000000000000001  # what float addition gives
    frame = cube.as_piece(frame.assign(channel=frame["channel"].astype("category")), ["revenue"])
    assert cube.sums(frame, cube.select(frame, D1, D1), ["day"], ["revenue"])["revenue"].tolist() == [0.6]


@pytest.fixture(params=["counting", "sorting"])
def grouping(request, monkeypatch):
    """Both ways of grouping: by counting key combinations, and by sorting (many combinations)."""
    if request.param == "sorting":
        monkeypatch.setattr(cube, "DENSE_GROUPS", 0)


def test_cube002_sums_per_day_per_store_and_per_channel(grouping):
    frame = piece()
    rows = cube.select(frame, D1, D3, None, None, FEE)
    daily = cube.sums(frame, rows, ["day"], ["orders", "revenue"])
    assert daily.to_dict("records") == [
        {"day": D1, "orders": 3.0, "revenue": 30.0},
        {"day": D2, "orders": 7.0, "revenue": 75.0},
        {"day": D3, "orders": 4.0, "revenue": 44.0},
    ]
    channels = cube.sums(frame, rows, ["channel"], ["revenue"])
    assert dict(zip(channels["channel"], channels["revenue"], strict=True)) == {"美团闪购": 74.0, "自营小程序": 20.0,
                                                                                 "饿了么": 55.0}  # fmt: skip
    assert channels["channel"].dtype == object  # plain text, as the SQL answered
    by_store = cube.sums(frame, rows, ["store_id", "day"], ["orders"])
    assert by_store[["store_id", "orders"]].values.tolist() == [[1, 3.0], [1, 2.0], [2, 5.0], [2, 4.0]]
    assert by_store["day"].tolist() == [D1, D2, D2, D3]


def test_cube003_store_totals_split_into_current_and_previous(grouping):
    frame = piece()
    rows = cube.select(frame, D1, D3, None, None, FEE)
    totals = cube.store_totals(frame, rows, ["revenue"], split=D2)
    got = {(r.store_id, r.period): r.revenue for r in totals.itertuples(index=False)}
    assert got == {(1, "previous"): 30.0, (1, "current"): 20.0, (2, "current"): 99.0}
    whole = cube.store_totals(frame, rows, ["revenue"])
    assert whole[["store_id", "period", "revenue"]].values.tolist() == [[1, "current", 50.0], [2, "current", 99.0]]


def test_cube004_abnormal_orders_counted_in_the_selection():
    assert cube.abnormal_orders(piece(), D1, D3, None, None, FEE) == 1
    assert cube.abnormal_orders(piece(), D2, D3, None, None, FEE) == 0
    assert cube.abnormal_orders(piece(), D1, D3, [1], ["自营小程序"], FEE) == 0
    assert cube.abnormal_orders(piece(), D1, D3, None, None, ()) == 0
    empty = cube.sums(piece(), cube.select(piece(), D3, D3, [1]), ["day"], ["orders"])
    assert empty.empty and list(empty.columns) == ["day", "orders"]
    with pytest.raises(KeyError):
        cube.sums(piece(), cube.select(piece(), D1, D3), ["day"], ["no_such_measure"])
