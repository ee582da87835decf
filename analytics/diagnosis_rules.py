"""今日必做 rules on daily aggregates (pure pandas; thresholds as arguments, defaults in docs).

Inputs are the frames the services read from the aggregates (abnormal orders and 耗材 already
excluded):
- ``store_days``: store_id, day (datetime.date), orders, revenue, actual_profit
- ``product_days``: store_id, day, product_id, quantity, revenue, cost

Every rule returns one row per finding with the evidence an operator needs to act on it.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

WEEK = 7


def _window(frame: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    return frame[(frame["day"] >= start) & (frame["day"] <= end)]


def _two_weeks(as_of: dt.date) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    recent = (as_of - dt.timedelta(days=WEEK - 1), as_of)
    previous = (as_of - dt.timedelta(days=2 * WEEK - 1), as_of - dt.timedelta(days=WEEK))
    return recent, previous


def _weekly(store_days: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    recent, previous = _two_weeks(as_of)
    columns = ["orders", "revenue", "actual_profit"]
    now = _window(store_days, *recent).groupby("store_id")[columns].sum().add_suffix("_recent")
    before = _window(store_days, *previous).groupby("store_id")[columns].sum().add_suffix("_previous")
    return now.join(before, how="outer").fillna(0.0)


def traffic_drop(store_days: pd.DataFrame, as_of: dt.date, threshold: float = 0.30) -> pd.DataFrame:
    """🟡 单量下滑: orders of the last 7 days ≥ ``threshold`` below the 7 days before."""
    weekly = _weekly(store_days, as_of)
    weekly = weekly[weekly["orders_previous"] > 0]
    drop = 1 - weekly["orders_recent"] / weekly["orders_previous"]
    found = weekly.assign(drop_ratio=drop)[drop >= threshold]
    return found.reset_index()[["store_id", "orders_recent", "orders_previous", "drop_ratio"]]


def margin_decline(store_days: pd.DataFrame, as_of: dt.date, points: float = 0.10) -> pd.DataFrame:
    """🟡 利润率下滑: margin (实际利润/实收) of the last 7 days more than ``points`` below the 7 before."""
    weekly = _weekly(store_days, as_of)
    weekly = weekly[(weekly["revenue_recent"] > 0) & (weekly["revenue_previous"] > 0)]
    recent = weekly["actual_profit_recent"] / weekly["revenue_recent"]
    previous = weekly["actual_profit_previous"] / weekly["revenue_previous"]
    found = weekly.assign(recent_margin=recent, previous_margin=previous, decline=previous - recent)
    found = found[found["decline"] > points]
    return found.reset_index()[["store_id", "previous_margin", "recent_margin", "decline"]]


def _sales(product_days: pd.DataFrame) -> pd.DataFrame:
    return product_days[product_days["quantity"] > 0]


def slow_movers(product_days: pd.DataFrame, as_of: dt.date, min_idle_days: int = 3,
                min_selling_days: int = 3) -> pd.DataFrame:  # fmt: skip
    """🟡 滞销: SKUs that sold on ≥ ``min_selling_days`` days but not in the last ``min_idle_days``;
    bucketed 3–6 / 7–14 / 15+ days."""
    sales = _sales(product_days)
    per_sku = sales.groupby(["store_id", "product_id"]).agg(last_sale=("day", "max"), selling_days=("day", "nunique"))
    idle = (pd.Timestamp(as_of) - pd.to_datetime(per_sku["last_sale"])).dt.days
    found = per_sku.assign(idle_days=idle)
    found = found[(found["idle_days"] >= min_idle_days) & (found["selling_days"] >= min_selling_days)]
    bucket = pd.cut(found["idle_days"], [0, 6, 14, 10_000], labels=["3-6天", "7-14天", "15天+"])
    return found.assign(bucket=bucket.astype(str)).reset_index()


def stockout_hot_skus(
    product_days: pd.DataFrame, as_of: dt.date, top_n: int = 10, min_zero_days: int = 2,
    max_zero_days: int = 14, baseline_days: int = 14, alpha: float = 0.001,
) -> pd.DataFrame:  # fmt: skip
    """🔴 热销缺货: a store's top-``top_n`` seller by quantity over the ``baseline_days`` before the
    gap (a window fully inside the data) that has sold nothing for the last ``min_zero_days`` to
    ``max_zero_days`` days, when such a gap is improbable by chance: with λ its daily quantity in
    the baseline, exp(−λ · gap) < ``alpha`` (Poisson). Longer silences are 滞销, not stock-outs."""
    sales = _sales(product_days)
    first_day = product_days["day"].min() if len(product_days) else as_of
    last_sale = sales.groupby(["store_id", "product_id"])["day"].max()
    gap_days = (pd.Timestamp(as_of) - pd.to_datetime(last_sale)).dt.days
    gap_days = gap_days[(gap_days >= min_zero_days) & (gap_days <= max_zero_days)]
    rows = []
    for (store_id, product_id), zero_days in gap_days.items():
        gap_start = as_of - dt.timedelta(days=int(zero_days) - 1)
        base_start = gap_start - dt.timedelta(days=baseline_days)
        if base_start < first_day:
            continue  # not enough history before the gap to call it a best seller
        base = _window(sales[sales["store_id"] == store_id], base_start, gap_start - dt.timedelta(days=1))
        totals = base.groupby("product_id")["quantity"].sum()
        if product_id not in totals.index:
            continue
        rank = int(totals.rank(ascending=False, method="min")[product_id])
        rate = totals[product_id] / baseline_days
        if rank <= top_n and math.exp(-rate * int(zero_days)) < alpha:
            rows.append(
                {
                    "store_id": store_id,
                    "product_id": product_id,
                    "zero_days": int(zero_days),
                    "rank": rank,
                    "baseline_quantity": float(totals[product_id]),
                }
            )
    return pd.DataFrame(rows, columns=["store_id", "product_id", "zero_days", "rank", "baseline_quantity"])


def below_cost(product_days: pd.DataFrame, as_of: dt.date, days: int = 3) -> pd.DataFrame:
    """🔴 价格异常: SKUs whose received revenue was below their purchase cost over the last
    ``days`` days (unit received price < unit cost), with the unit figures as evidence."""
    recent = _sales(_window(product_days, as_of - dt.timedelta(days=days - 1), as_of))
    totals = recent.groupby(["store_id", "product_id"])[["quantity", "revenue", "cost"]].sum()
    found = totals[totals["revenue"] < totals["cost"] - 0.005]
    found = found.assign(unit_price=found["revenue"] / found["quantity"], unit_cost=found["cost"] / found["quantity"])
    return found.reset_index()
