"""Sums over an in-memory copy of a daily aggregate (a "piece"): the same answers as the SQL in
db/queries.py, for any stores / channels / dates, without the database.

A piece is one aggregate table as a frame: ``store_id``, ``day`` (proleptic ordinal, int32, so a
date range is two integer comparisons), ``channel``, ``platform_fee_zero``, the table's own keys
and its measures as integers in 1/UNITS (:func:`as_units`: money has two decimals, counts none),
so sums are exact like the database's NUMERIC sums, whatever the order of addition. The
abnormal-order exclusion (fee channel with zero platform fee, docs/METRICS.md) is applied by
:func:`select`, exactly as ``db.queries._where`` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

UNITS = 100


def ordinal(day: dt.date) -> int:
    return day.toordinal()


def as_piece(frame: pd.DataFrame, measures: Sequence[str]) -> pd.DataFrame:
    """An aggregate's rows as a piece: ordered by store and day (:func:`select` slices a store's
    rows out instead of testing every row), ``measures`` (at most two decimals) as int64
    hundredths."""
    ordered = frame.sort_values(["store_id", "day"], kind="stable", ignore_index=True)
    return ordered.assign(**{m: np.rint(ordered[m].to_numpy(dtype=np.float64) * UNITS).astype(np.int64)
                             for m in measures})  # fmt: skip


def select(piece: pd.DataFrame, start: dt.date, end: dt.date, store_ids: Sequence[int] | None = None,
           channels: Sequence[str] | None = None, fee_channels: Sequence[str] = ()) -> pd.DataFrame:  # fmt: skip
    """The rows of ``start``..``end`` (inclusive) of the stores / channels (None = all), abnormal
    orders of ``fee_channels`` left out."""
    if store_ids is not None:  # the piece is ordered by store: each store's rows are one slice
        store = piece["store_id"].to_numpy()
        wanted = np.unique(np.asarray(list(store_ids), dtype=store.dtype))
        lows, highs = np.searchsorted(store, wanted, "left"), np.searchsorted(store, wanted, "right")
        piece = piece.iloc[np.concatenate([np.arange(lo, hi) for lo, hi in zip(lows, highs, strict=True)]
                                          or [np.empty(0, dtype=np.int64)])]  # fmt: skip
    day = piece["day"].to_numpy()
    keep = (day >= ordinal(start)) & (day <= ordinal(end))
    channel = piece["channel"]
    if channels is not None:
        keep &= channel.isin(list(channels)).to_numpy()
    if fee_channels:
        keep &= ~(piece["platform_fee_zero"].to_numpy() & channel.isin(list(fee_channels)).to_numpy())
    return piece[keep]


def sums(rows: pd.DataFrame, keys: list[str], measures: Sequence[str]) -> pd.DataFrame:
    """SUM(measures) grouped and ordered by ``keys``, as floats; ``day`` comes back as datetime.date."""
    grouped = rows.groupby(keys, sort=True, observed=True)[list(measures)].sum().reset_index()
    for m in measures:
        grouped[m] = grouped[m].to_numpy(dtype=np.float64) / UNITS
    if "day" in keys:
        grouped["day"] = [dt.date.fromordinal(int(d)) for d in grouped["day"]]
    for key in keys:
        if key in ("store_id", "hour", "distance_band"):
            grouped[key] = grouped[key].astype(int)
        elif key == "channel":
            grouped[key] = grouped[key].astype(object)
    return grouped[[*keys, *measures]].astype({m: float for m in measures})


def store_totals(rows: pd.DataFrame, measures: Sequence[str], split: dt.date | None = None) -> pd.DataFrame:
    """One row per store (and per side of ``split``: "current" for days ≥ split, else "previous")."""
    if split is None:
        frame = sums(rows, ["store_id"], measures)
        frame.insert(1, "period", "current")
        return frame
    period = np.where(rows["day"].to_numpy() >= ordinal(split), "current", "previous")
    frame = sums(rows.assign(period=period), ["store_id", "period"], measures)
    frame["period"] = frame["period"].astype(object)
    return frame


def abnormal_orders(piece: pd.DataFrame, start: dt.date, end: dt.date, store_ids: Sequence[int] | None,
                    channels: Sequence[str] | None, fee_channels: Sequence[str]) -> int:  # fmt: skip
    """Orders of the fee channels with a zero platform fee (the ones every KPI excludes)."""
    if not fee_channels:
        return 0
    rows = select(piece, start, end, store_ids, channels)
    abnormal = rows["platform_fee_zero"].to_numpy() & rows["channel"].isin(list(fee_channels)).to_numpy()
    return int(rows.loc[abnormal, "orders"].sum()) // UNITS
