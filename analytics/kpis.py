"""The six KPI cards of the diagnosis page with 环比 and 同比上周 (docs/METRICS.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from analytics.formulas import ratio

PERIODS = ("current", "previous", "last_week")


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def comparison_periods(start: dt.date, end: dt.date) -> dict[str, Period]:
    """current; previous = equal-length period just before (环比); last_week = 7 days earlier (同比上周)."""
    if end < start:
        raise ValueError("end date is before start date")
    length = (end - start).days + 1
    week = dt.timedelta(days=7)
    return {
        "current": Period(start, end),
        "previous": Period(start - dt.timedelta(days=length), start - dt.timedelta(days=1)),
        "last_week": Period(start - week, end - week),
    }


def period_totals(daily: pd.DataFrame, period: Period) -> dict[str, float | None]:
    """Sum a per-day frame (day, orders, revenue, actual_profit) over ``period``."""
    days = daily["day"] if len(daily) else pd.Series([], dtype=object)
    rows = daily[(days >= period.start) & (days <= period.end)] if len(daily) else daily
    orders = float(rows["orders"].sum()) if len(rows) else 0.0
    revenue = float(rows["revenue"].sum()) if len(rows) else 0.0
    profit = float(rows["actual_profit"].sum()) if len(rows) else 0.0
    return {
        "orders": orders,
        "revenue": revenue,
        "actual_profit": profit,
        "avg_order_value": ratio(revenue, orders),
        "profit_margin": ratio(profit, revenue),
    }


def relative_change(current: float | None, base: float | None) -> float | None:
    """(current − base) / |base|; None when either side is missing or base is 0."""
    if current is None or base is None or base == 0:
        return None
    return (current - base) / abs(base)


def point_change(current: float | None, base: float | None) -> float | None:
    """Difference of two rates in percentage points (as a fraction: 0.02 = 2 points)."""
    if current is None or base is None:
        return None
    return current - base


@dataclass(frozen=True)
class KpiDef:
    key: str
    label: str
    unit: str  # count | money | percent
    rate: bool = False  # rates compare in points, totals relatively


KPI_DEFS = (
    KpiDef("orders", "订单数", "count"),
    KpiDef("revenue", "实收", "money"),
    KpiDef("actual_profit", "实际利润", "money"),
    KpiDef("avg_order_value", "客单价", "money_precise"),
    KpiDef("profit_margin", "利润率", "percent", rate=True),
    KpiDef("active_skus", "动销SKU数", "count"),
)


def kpi_cards(daily: pd.DataFrame, active_skus: dict[str, int], periods: dict[str, Period]) -> list[dict]:
    """One dict per card: key, label, unit, value, previous, last_week, 环比 and 同比上周 changes."""
    totals = {name: period_totals(daily, periods[name]) for name in PERIODS}
    for name in PERIODS:
        totals[name]["active_skus"] = float(active_skus.get(name, 0))
    cards = []
    for kpi in KPI_DEFS:
        change = point_change if kpi.rate else relative_change
        value = totals["current"][kpi.key]
        previous = totals["previous"][kpi.key]
        last_week = totals["last_week"][kpi.key]
        cards.append(
            {
                "key": kpi.key,
                "label": kpi.label,
                "unit": kpi.unit,
                "rate": kpi.rate,
                "value": value,
                "previous": previous,
                "last_week": last_week,
                "vs_previous": change(value, previous),
                "vs_last_week": change(value, last_week),
            }
        )
    return cards
