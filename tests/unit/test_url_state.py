"""Selection ⇄ query string (pages/_url.py)."""

import datetime as dt

from pages._url import query_params, selection_from_query, to_query
from readmodel.selection import Selection

OPTIONS = {"stores": [{"id": 3}, {"id": 5}], "channels": ["美团闪购", "饿了么"],
           "first_day": "2026-09-01", "last_day": "2026-11-27"}  # fmt: skip
DEFAULT = (dt.date(2026, 11, 21), dt.date(2026, 11, 27))


def _fields(selection: Selection) -> tuple:
    return selection.store_ids, selection.start, selection.end, selection.channels


def test_url001_round_trip():
    query = to_query(Selection.build("2026-11-01", "2026-11-07T00:00:00", ["3", "5"], ["饿了么"]))
    assert query.startswith("?stores=3,5&start=2026-11-01&end=2026-11-07&channels=")
    assert to_query(None) == ""
    assert to_query(Selection.build("2026-11-01", "2026-11-07", ["all"], ["all"])) == "?start=2026-11-01&end=2026-11-07"
    params = {"stores": "3,5", "start": "2026-11-01", "end": "2026-11-07", "channels": "饿了么"}
    assert _fields(selection_from_query(params, OPTIONS, DEFAULT)) == (
        (3, 5), dt.date(2026, 11, 1), dt.date(2026, 11, 7), ("饿了么",))
    assert selection_from_query(query_params(query), OPTIONS, DEFAULT) == Selection.build(
        "2026-11-01", "2026-11-07", [3, 5], ["饿了么"])  # fmt: skip


def test_url002_bad_values_fall_back():
    found = selection_from_query({"stores": "99,x", "start": "2026-13-01", "end": "soon", "channels": "火星"},
                                 OPTIONS, DEFAULT)  # fmt: skip
    assert _fields(found) == (None, *DEFAULT, None)
    clipped = selection_from_query({"start": "2026-08-01", "end": "2026-12-31"}, OPTIONS, DEFAULT)
    assert (clipped.start, clipped.end) == (dt.date(2026, 9, 1), dt.date(2026, 11, 27))
    # a repeated date (a list) is no date
    assert _fields(selection_from_query({"start": ["2026-11-01", "2026-11-02"], "end": "2026-11-07"},
                                        OPTIONS, DEFAULT))[1:3] == DEFAULT  # fmt: skip


def test_url003_query_params_parse_as_dash_pages_does():
    assert query_params("?stores=3,5&start=2026-11-01&channels=%E9%A5%BF%E4%BA%86%E4%B9%88&x=") == {
        "stores": "3,5", "start": "2026-11-01", "channels": "饿了么", "x": ""}  # fmt: skip
    assert query_params("") == {} and query_params(None) == {} and query_params("a=1") == {}
    assert query_params("?a=1&a=2") == {"a": ["1", "2"]}


def test_url004_whole_numbers_written_alike_whatever_their_type():
    # a number input sends back 40 for the 40.0 a layout gave it: both must write the same
    # address, or restoring a split from the URL would push a new history entry
    assert to_query(None, {"sell": 40.0}) == "?sell=40"
    assert to_query(None, {"sell": 40}) == "?sell=40"
    assert to_query(None, {"sell": 40.0, "margin": 12.5}) == "?sell=40&margin=12.5"


def test_url005_a_channel_name_with_a_comma_survives_the_address():
    # one parameter per channel: "京东到家,自营" is one channel, not 京东到家 and 自营
    options = {**OPTIONS, "channels": ["京东到家", "京东到家,自营", "自营", "饿了么"]}
    chosen = Selection.build("2026-11-01", "2026-11-07", None, ["京东到家,自营", "饿了么"])
    query = to_query(chosen)
    assert "channels=%E4%BA%AC%E4%B8%9C%E5%88%B0%E5%AE%B6%2C%E8%87%AA%E8%90%A5" in query  # the comma encoded
    assert selection_from_query(query_params(query), options, DEFAULT) == chosen
    only = Selection.build("2026-11-01", "2026-11-07", None, ["京东到家,自营"])
    assert selection_from_query(query_params(to_query(only)), options, DEFAULT) == only


def test_url006_older_links_with_comma_separated_channels_still_work():
    found = selection_from_query({"channels": "美团闪购,饿了么"}, OPTIONS, DEFAULT)
    assert found.channels == ("美团闪购", "饿了么")
    assert selection_from_query({"channels": "美团闪购,火星"}, OPTIONS, DEFAULT).channels == ("美团闪购",)
    # repeated store parameters read like a comma-separated list
    assert selection_from_query({"stores": ["3", "5"]}, OPTIONS, DEFAULT).store_ids == (3, 5)
