"""The filter values a callback may receive (readmodel.selection): what the filter bar can send."""

from __future__ import annotations

import datetime as dt

import pytest

from components.prop_kinds import CHANNELS, DATE, STORES
from readmodel.selection import MAX_FILTER_ITEMS, Selection, is_channel_values, is_date_value, is_store_values


@pytest.mark.parametrize("stores", [[{"id": 3}], [["3"]], ["3 OR 1=1"], ["9" * 30], [2**64], [True], [-1]])
def test_filters001_only_whole_store_ids_build_filters(stores):
    assert not is_store_values(stores) and not STORES.accepts(stores)
    with pytest.raises(ValueError):
        Selection.build("2026-11-01", "2026-11-02", stores, ["all"])


def test_filters002_what_the_bar_sends_is_accepted():
    assert is_store_values(["all"]) and is_store_values(["3", "12"]) and is_store_values([3]) and is_store_values(None)
    assert Selection.build("2026-11-02", "2026-11-01", ["12", 3], ["饿了么"]) == Selection(
        dt.date(2026, 11, 1), dt.date(2026, 11, 2), (3, 12), ("饿了么",)
    )
    assert is_channel_values(["美团闪购", "all"]) and is_date_value("2026-11-01T00:00:00")


@pytest.mark.parametrize("value, ok", [
    ([str(i) for i in range(MAX_FILTER_ITEMS + 1)], False), ("3", False), ({"3": 1}, False), (3, False),
])  # fmt: skip
def test_filters003_store_values_are_a_bounded_list(value, ok):
    assert is_store_values(value) is ok


@pytest.mark.parametrize("value", [["2026-11-01"], 20261101, {"d": 1}, "2" * 40, "2026-13-45", "0001-01-01",
                                   "1999-12-31", "2100-01-01", "9999-12-31T00:00:00"])  # fmt: skip
def test_filters004_a_date_is_an_iso_day_of_this_century(value):
    assert not is_date_value(value) and not DATE.accepts(value)
    if isinstance(value, str):
        with pytest.raises(ValueError):
            Selection.build(value, "2026-11-02", ["all"], ["all"])


@pytest.mark.parametrize("value", ["饿了么", [{"name": "饿了么"}], [1], ["x" * 65]])
def test_filters005_channels_are_a_list_of_names(value):
    assert not is_channel_values(value) and not CHANNELS.accepts(value)
