"""Filters ⇄ query string."""

import datetime as dt

from services.url_state import from_query, to_query

OPTIONS = {"stores": [{"id": 3}, {"id": 5}], "channels": ["美团闪购", "饿了么"],
           "first_day": "2026-09-01", "last_day": "2026-11-27"}  # fmt: skip
DEFAULT = (dt.date(2026, 11, 21), dt.date(2026, 11, 27))


def test_url001_round_trip():
    query = to_query(["3", "5"], "2026-11-01", "2026-11-07T00:00:00", ["饿了么"])
    assert query.startswith("?stores=3,5&start=2026-11-01&end=2026-11-07&channels=")
    assert to_query(["all"], None, None, ["all"]) == ""
    params = {"stores": "3,5", "start": "2026-11-01", "end": "2026-11-07", "channels": "饿了么"}
    state = from_query(params, OPTIONS, DEFAULT)
    assert (state.stores, state.start, state.end, state.channels) == (
        ["3", "5"], dt.date(2026, 11, 1), dt.date(2026, 11, 7), ["饿了么"])


def test_url002_bad_values_fall_back():
    state = from_query({"stores": "99,x", "start": "2026-13-01", "end": "soon", "channels": "火星"}, OPTIONS, DEFAULT)
    assert (state.stores, state.start, state.end, state.channels) == (["all"], *DEFAULT, ["all"])
    clipped = from_query({"start": "2026-08-01", "end": "2026-12-31"}, OPTIONS, DEFAULT)
    assert (clipped.start, clipped.end) == (dt.date(2026, 9, 1), dt.date(2026, 11, 27))
