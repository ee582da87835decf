"""Number formatting for Chinese readers: ¥, 万, %, 个百分点.

Every formatter rounds half-up on the decimal a number prints as (``Decimal(str(x))``), the way a
person rounds by hand: 10.5 → 11, 0.125 → ¥0.13, 9999.995 → ¥1.00万. Python's ``round`` and
f-strings round half to even on the binary value instead (¥10.50 became "¥10", 0.125 "¥0.12").
A minus sign goes before ¥ ("-¥168.46") and is dropped when the rounded value is zero.
assets/dashAgGridFunctions.js formats the grids the same way (tests/unit/test_format.py runs both).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

DASH = "—"
WAN = Decimal(10_000)
COUNT_WAN_FROM = Decimal(100_000)  # counts switch to 万 later than money: 99,999 单 still reads well


def _decimal(value) -> Decimal | None:
    """The value as the decimal it prints as; None when missing or not finite."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _round(number: Decimal, digits: int) -> Decimal:
    return number.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def rounded(value, digits: int, shift: int = 0) -> float | None:
    """``value`` × 10^``shift`` rounded as it is shown (half-up on the decimal it prints as), for
    the downloads, which must hold the figures the page shows; None when missing."""
    number = _decimal(value)
    if number is None:
        return None
    return float(_round(number.scaleb(shift), digits)) + 0.0  # no "-0.0"


def _sign(number: Decimal, rounded: Decimal, plus: str = "") -> str:
    if number < 0 and rounded != 0:
        return "-"
    return plus


def _in_wan(value, digits: int, wan_from: Decimal, wan_digits: int, unit: str = "") -> str:
    """``value`` with ``digits`` decimals, or in 万 with ``wan_digits`` from ``wan_from`` on (the
    threshold is read on the rounded amount, so 9,999.995 becomes 1.00万); the sign before the unit."""
    number = _decimal(value)
    if number is None:
        return DASH
    amount, suffix = _round(abs(number), digits), ""
    if amount >= wan_from:
        amount, digits, suffix = _round(abs(number) / WAN, wan_digits), wan_digits, "万"
    return f"{_sign(number, amount)}{unit}{amount:,.{digits}f}{suffix}"


def money(value) -> str:
    """¥1,234.50 below ¥1万, ¥12.35万 from ¥1万 (both two decimals, half-up); -¥168.46."""
    return _in_wan(value, 2, WAN, 2, unit="¥")


def count(value) -> str:
    """Whole numbers with thousands separators; 12.3万 from 100,000."""
    return _in_wan(value, 0, COUNT_WAN_FROM, 1)


def number(value, digits: int = 2) -> str:
    """A plain number (a distance, a score) with thousands separators."""
    parsed = _decimal(value)
    if parsed is None:
        return DASH
    amount = _round(abs(parsed), digits)
    return f"{_sign(parsed, amount)}{amount:,.{digits}f}"


def percent(value, digits: int = 1) -> str:
    """A ratio as a percentage: 0.1225 → 12.3%."""
    number = _decimal(value)
    if number is None:
        return DASH
    amount = _round(abs(number.scaleb(2)), digits)
    return f"{_sign(number, amount)}{amount:.{digits}f}%"


def change(value, rate: bool = False) -> str:
    """Signed change: '+12.3%' for totals, '+1.2个百分点' for rates."""
    number = _decimal(value)
    if number is None:
        return DASH
    amount = _round(abs(number.scaleb(2)), 1)
    return f"{_sign(number, amount, plus='+')}{amount:.1f}" + ("个百分点" if rate else "%")


def kpi_value(value, unit: str) -> str:
    if unit in ("money", "money_precise"):  # 客单价 is money_precise: money keeps two decimals anyway
        return money(value)
    if unit == "percent":
        return percent(value)
    return count(value)
