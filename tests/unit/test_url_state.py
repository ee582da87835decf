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


def test_url003_query_params_parse_as_dash_pages_does():
    from services.url_state import query_params

    assert query_params("?stores=3,5&start=2026-11-01&channels=%E9%A5%BF%E4%BA%86%E4%B9%88&x=") == {
        "stores": "3,5", "start": "2026-11-01", "channels": "饿了么", "x": ""}  # fmt: skip
    assert query_params("") == {} and query_params(None) == {} and query_params("a=1") == {}
    assert query_params("?a=1&a=2") == {"a": ["1", "2"]}


def test_url004_whole_numbers_written_alike_whatever_their_type():
    # a number input sends back 40 for the 40.0 a layout gave it: both must write the same
    # address, or restoring a split from the URL would push a new history entry
    assert to_query(["all"], None, None, ["all"], {"sell": 40.0}) == "?sell=40"
    assert to_query(["all"], None, None, ["all"], {"sell": 40}) == "?sell=40"
    assert to_query(["all"], None, None, ["all"], {"sell": 40.0, "margin": 12.5}) == "?sell=40&margin=12.5"
