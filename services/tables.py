"""DataFrame → JSON-native records for cached view-models (NaN → None, numpy → Python)."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd


def _plain(value):
    if value is None:
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    columns = list(frame.columns)
    return [dict(zip(columns, map(_plain, row), strict=True)) for row in frame.itertuples(index=False, name=None)]
