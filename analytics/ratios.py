"""Every ratio of the dashboard through one function (docs/METRICS.md §7).

Zero-denominator rule, once: a ratio is *undefined* where its denominator is 0 or missing —
``None`` for two scalars, ``NaN`` in a Series or array — and the pages show it as "—". The
named ratios below are the only places 利润率, 客单价, 佣金率 … are written; everything else
calls them. Ratios are always of sums, never averages of ratios.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _is_vector(value) -> bool:
    return isinstance(value, (pd.Series, np.ndarray))


def ratio(numerator, denominator):
    """numerator / denominator; None (scalars) or NaN (Series / arrays) where the denominator
    is 0 or missing."""
    if _is_vector(numerator) or _is_vector(denominator):
        if isinstance(denominator, pd.Series):
            bottom = denominator.astype(float)
            bottom = bottom.where(bottom != 0)
        elif isinstance(denominator, np.ndarray):
            bottom = np.asarray(denominator, dtype=float)
            bottom = np.where(bottom != 0, bottom, np.nan)
        else:
            bottom = np.nan if denominator is None or pd.isna(denominator) or denominator == 0 else float(denominator)
        top = numerator.astype(float) if isinstance(numerator, pd.Series) else np.asarray(numerator, dtype=float)
        return top / bottom
    if denominator is None or pd.isna(denominator) or denominator == 0:
        return None
    return float(numerator) / float(denominator)


def relative_change(current, base):
    """(current − base) / |base|: undefined (as :func:`ratio`) where base is 0 or missing."""
    if not (_is_vector(current) or _is_vector(base)) and (current is None or base is None):
        return None
    return ratio(current - base, abs(base))


def profit_margin(actual_profit, revenue):
    """利润率 = 实际利润 / 实收."""
    return ratio(actual_profit, revenue)


def avg_order_value(revenue, orders):
    """客单价 = 实收 / 订单数."""
    return ratio(revenue, orders)


def commission_rate(platform_fee, revenue):
    """佣金率 = 平台服务费 / 实收."""
    return ratio(platform_fee, revenue)


def marketing_rate(marketing_cost, revenue):
    """营销成本率 = 营销成本 / 实收."""
    return ratio(marketing_cost, revenue)


def delivery_rate(delivery_net_cost, revenue):
    """配送成本率 = 配送净成本 / 实收."""
    return ratio(delivery_net_cost, revenue)


def delivery_cost_per_order(delivery_net_cost, orders):
    """单均配送成本 = 配送净成本 / 订单数."""
    return ratio(delivery_net_cost, orders)


def gross_margin(profit, revenue):
    """商品毛利率 = Σ利润额 / 实收."""
    return ratio(profit, revenue)


def unit_amount(amount, quantity):
    """Per unit: 平均单价 = 实收 / 销量, 成本单价 = 成本 / 销量."""
    return ratio(amount, quantity)


def share(values: pd.Series) -> pd.Series:
    """Each value's share of their total (NaN everywhere when the total is 0)."""
    return ratio(values, float(values.sum()))
