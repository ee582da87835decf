"""View-model records: every column type becomes a JSON-native value, missing values None."""

from __future__ import annotations

import datetime as dt

import numpy as np
import orjson
import pandas as pd

from services.tables import records


def test_tables001_records_are_json_native():
    frame = pd.DataFrame({
        "i": np.array([1, 2], np.int32), "f": [1.5, np.nan], "b": [True, False],
        "s": pd.Series(["甲", None], dtype="str"), "o": ["x", None], "c": pd.Categorical(["美团闪购", "饿了么"]),
        "d": [dt.date(2026, 1, 1), None], "t": pd.to_datetime(["2026-01-01 10:00:00", None]),
        "n": pd.array([7, None], dtype="Int64"),
    })  # fmt: skip
    rows = records(frame)
    assert rows == [
        {"i": 1, "f": 1.5, "b": True, "s": "甲", "o": "x", "c": "美团闪购", "d": "2026-01-01",
         "t": "2026-01-01T10:00:00", "n": 7},
        {"i": 2, "f": None, "b": False, "s": None, "o": None, "c": "饿了么", "d": None, "t": None, "n": None},
    ]  # fmt: skip
    assert [type(v) for v in rows[0].values()] == [int, float, bool, str, str, str, str, str, int]
    orjson.dumps(rows)  # nothing numpy or pandas left
    assert records(frame.iloc[:0]) == []
