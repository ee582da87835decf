"""Number formatting for Chinese readers: ¥, 万, %, 个百分点."""

from __future__ import annotations

import math

DASH = "—"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def money(value: float | None, precise: bool = False) -> str:
    """¥1,234 below 10,000; ¥12.35万 from 10,000; two decimals when ``precise``."""
    if _missing(value):
        return DASH
    sign = "-" if value < 0 else ""
    amount = abs(value)
    if amount >= 10_000:
        return f"{sign}¥{amount / 10_000:,.2f}万"
    return f"{sign}¥{amount:,.2f}" if precise else f"{sign}¥{amount:,.0f}"


def count(value: float | None) -> str:
    if _missing(value):
        return DASH
    if abs(value) >= 100_000:
        return f"{value / 10_000:,.1f}万"
    return f"{value:,.0f}"


def percent(value: float | None, digits: int = 1) -> str:
    if _missing(value):
        return DASH
    return f"{value * 100:.{digits}f}%"


def change(value: float | None, rate: bool = False) -> str:
    """Signed change: '+12.3%' for totals, '+1.2个百分点' for rates."""
    if _missing(value):
        return DASH
    if rate:
        return f"{value * 100:+.1f}个百分点"
    return f"{value * 100:+.1f}%"


def kpi_value(value: float | None, unit: str) -> str:
    if unit == "money":
        return money(value)
    if unit == "money_precise":
        return money(value, precise=True)
    if unit == "percent":
        return percent(value)
    return count(value)
