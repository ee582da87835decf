"""The six KPI cards of the diagnosis page with 环比 and 同比 (docs/METRICS.md §3).

A comparison is shown only when both of its periods are covered by imported data for every
selected store; otherwise the card says why instead of printing a percentage that compares a
full period with a few days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.ratios import avg_order_value, profit_margin, relative_change

COMPARISONS = ("previous", "weeks_ago")  # 环比, 同比
PERIODS = ("current", *COMPARISONS)
WEEK = 7
# 同比 goes back whole weeks (same weekdays): one week for windows shorter than a week, four weeks
# (a month of weekdays) for longer ones, and always more weeks than the window is long, so 同比
# never is nor overlaps the 环比 period or the selection itself.
SHORT_WINDOW_WEEKS = 1
WEEKS_BACK = 4
BASE_SHORT, CURRENT_SHORT = "base", "current"  # why a comparison is withheld


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def shifted(self, days: int) -> Period:
        """The same dates ``days`` earlier."""
        delta = dt.timedelta(days=days)
        return Period(self.start - delta, self.end - delta)


def weeks_back(days: int) -> int:
    """How many weeks before a ``days``-long window its 同比 period lies."""
    floor = SHORT_WINDOW_WEEKS if days < WEEK else WEEKS_BACK
    return max(floor, days // WEEK + 1)


def comparison_periods(start: dt.date, end: dt.date) -> dict[str, Period]:
    """current; previous = the equal-length period just before (环比); weeks_ago = the same
    weekdays :func:`weeks_back` weeks earlier (同比)."""
    if end < start:
        raise ValueError("end date is before start date")
    current = Period(start, end)
    return {
        "current": current,
        "previous": current.shifted(current.days),
        "weeks_ago": current.shifted(WEEK * weeks_back(current.days)),
    }


def covered_days(spans: pd.DataFrame, period: Period) -> pd.Series:
    """Per store (``spans``: store_id, first_day, last_day of its orders) the days of ``period``
    inside the imported data: from the store's first day with any order to the data's last day
    (any store's). A store that stops selling is a real drop, not missing data; a store that has
    not started yet has no data to compare with."""
    index = pd.Index(spans["store_id"].astype(int), name="store_id")
    if not len(spans):
        return pd.Series(0, index=index, dtype=int)
    first = np.array([d.toordinal() for d in spans["first_day"]], dtype=np.int64)
    low = np.maximum(first, period.start.toordinal())
    high = min(period.end, max(spans["last_day"])).toordinal()
    return pd.Series(np.clip(high - low + 1, 0, None), index=index, dtype=int)


def coverage(spans: pd.DataFrame, period: Period, store_ids=None) -> dict:
    """How much of ``period`` the imported data covers for the selected stores (None = every
    store with data; a selected store without any data covers nothing): the least covered
    store's days, how many stores fall short, and whether every store covers every day."""
    days = covered_days(spans, period)
    if store_ids is not None:
        days = days.reindex(pd.Index([int(i) for i in store_ids]), fill_value=0)
    least = int(days.min()) if len(days) else 0
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "days": period.days,
        "covered_days": least,
        "stores": len(days),
        "short_stores": int((days < period.days).sum()),
        "full": bool(len(days)) and least == period.days,
    }


def withheld(current: dict, base: dict) -> str | None:
    """Why a comparison of two coverages (see :func:`coverage`) must not be shown, or None."""
    if not base["full"]:
        return BASE_SHORT
    if not current["full"]:
        return CURRENT_SHORT
    return None


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
        "avg_order_value": avg_order_value(revenue, orders),
        "profit_margin": profit_margin(profit, revenue),
    }


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


def comparisons(periods: dict[str, Period], coverages: dict[str, dict]) -> dict[str, dict]:
    """Per comparison (环比, 同比): its period with coverage, weeks back (同比) and ``withheld``."""
    return {
        name: {
            "period": coverages[name],
            "current": coverages["current"],
            "weeks": weeks_back(periods["current"].days) if name == "weeks_ago" else None,
            "withheld": withheld(coverages["current"], coverages[name]),
        }
        for name in COMPARISONS
    }


def kpi_cards(daily: pd.DataFrame, active_skus: dict[str, int], periods: dict[str, Period],
              coverages: dict[str, dict]) -> dict:  # fmt: skip
    """``cards``: one dict per card (key, label, unit, value, and per comparison its base value
    and change ``vs_<comparison>``, None when withheld); ``comparisons`` as :func:`comparisons`."""
    compared = comparisons(periods, coverages)
    totals = {name: period_totals(daily, periods[name]) for name in PERIODS}
    for name in PERIODS:
        totals[name]["active_skus"] = float(active_skus.get(name, 0))
    cards = []
    for kpi in KPI_DEFS:
        change = point_change if kpi.rate else relative_change
        value = totals["current"][kpi.key]
        card = {"key": kpi.key, "label": kpi.label, "unit": kpi.unit, "rate": kpi.rate, "value": value}
        for name in COMPARISONS:
            base = totals[name][kpi.key]
            card[name] = base
            card[f"vs_{name}"] = None if compared[name]["withheld"] else change(value, base)
        cards.append(card)
    return {"cards": cards, "comparisons": compared}
