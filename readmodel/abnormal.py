"""The abnormal-order rule (异常订单, docs/METRICS.md): an order of a fee channel
(``Settings.fee_channels``: the platforms that always charge a fee) whose platform fee is 0.
Such orders are left out of every total and listed apart. This is the rule's one definition;
``db.queries.abnormal_clause`` is its SQL form for the drill-downs that still query orders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def abnormal_mask(table: pd.DataFrame, positions: np.ndarray | None, fee_channels: Sequence[str]) -> np.ndarray:
    """Whether each row (at ``positions``; None = every row) of a table with ``channel``
    (categorical) and ``platform_fee_zero`` is an abnormal order."""
    zero_fee = table["platform_fee_zero"].to_numpy()
    channel = table["channel"].cat.codes.to_numpy()
    if positions is not None:
        zero_fee, channel = zero_fee[positions], channel[positions]
    if not fee_channels:
        return np.zeros(len(zero_fee), dtype=bool)
    found = table["channel"].cat.categories.get_indexer(list(fee_channels))
    return zero_fee & np.isin(channel, found[found >= 0])
