"""Breakdowns of the analysis pages (docs/METRICS.md §6): money ratios of any grouping, time
slots and the weekday × hour heatmap, channel economics with a rating, distance bands.

Inputs are sums over the daily aggregates (one row per group); every ratio is computed from
sums, never averaged from per-day ratios.
"""

from __future__ import annotations

import pandas as pd

from analytics import ratios
from config.rules import ChannelRules

# (label, first hour, end hour exclusive); 深夜 wraps past midnight
TIME_SLOTS = (
    ("清晨", 6, 9), ("上午", 9, 11), ("正午", 11, 14), ("下午", 14, 17),
    ("傍晚", 17, 20), ("晚间", 20, 23), ("深夜", 23, 2), ("凌晨", 2, 6),
)  # fmt: skip
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
DISTANCE_LABELS = {0: "0–1km", 1: "1–2km", 2: "2–3km", 3: "3–4km", 4: "4–5km", 5: "5–6km", 6: "6km+"}
RATES = (("platform_fee", "commission_rate", ratios.commission_rate),
         ("marketing_cost", "marketing_rate", ratios.marketing_rate),
         ("delivery_net_cost", "delivery_rate", ratios.delivery_rate))  # fmt: skip


def with_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Add 客单价, 利润率 and, where their sums are present, 佣金率 / 营销成本率 / 配送成本率."""
    out = frame.copy()
    out["avg_order_value"] = ratios.avg_order_value(out["revenue"], out["orders"])
    out["profit_margin"] = ratios.profit_margin(out["actual_profit"], out["revenue"])
    for source, rate, formula in RATES:
        if source in out:
            out[rate] = formula(out[source], out["revenue"])
    return out


def time_slot(hours: pd.Series) -> pd.Series:
    """Slot label of each hour (0–23)."""
    lookup = {}
    for label, first, end in TIME_SLOTS:
        hour = first
        while hour != end:
            lookup[hour] = label
            hour = (hour + 1) % 24
    return hours.astype(int).map(lookup)


def slot_table(hourly: pd.DataFrame) -> pd.DataFrame:
    """``hourly``: hour, orders, revenue, actual_profit (any number of rows per hour).
    One row per slot in TIME_SLOTS order, with 客单价 and 利润率; slots without orders show 0."""
    frame = hourly.assign(slot=time_slot(hourly["hour"])) if len(hourly) else hourly.assign(slot=[])
    sums = frame.groupby("slot")[["orders", "revenue", "actual_profit"]].sum()
    order = [label for label, _, _ in TIME_SLOTS]
    sums = sums.reindex(order, fill_value=0).rename_axis("slot").reset_index()
    sums["hours"] = [f"{first}:00–{end}:00" for _, first, end in TIME_SLOTS]
    return with_ratios(sums)


def weekday_hour_matrix(hourly: pd.DataFrame, measure: str = "orders") -> pd.DataFrame:
    """``hourly``: day (date), hour, ``measure``. A 7 × 24 frame (周一…周日 × 0–23) of the
    measure's daily average per weekday: totals divided by how many such weekdays the data spans."""
    matrix = pd.DataFrame(0.0, index=list(WEEKDAYS), columns=list(range(24)))
    if hourly.empty:
        return matrix
    frame = hourly.assign(weekday=pd.to_datetime(hourly["day"]).dt.day_of_week)
    totals = frame.groupby(["weekday", "hour"])[measure].sum()
    days = pd.Series(pd.to_datetime(hourly["day"]).unique())
    per_weekday = days.dt.day_of_week.value_counts()
    for (weekday, hour), value in totals.items():
        matrix.iloc[int(weekday), int(hour)] = value / per_weekday.get(weekday, 1)
    return matrix


def _points(values: pd.Series, good: float, bad: float) -> pd.Series:
    """Linear 0–100 between ``bad`` and ``good`` (either direction), clipped; NaN → 0."""
    scaled = (values.astype(float) - bad) / (good - bad) * 100
    return scaled.clip(0, 100).fillna(0)


def channel_table(channels: pd.DataFrame, rules: ChannelRules) -> pd.DataFrame:
    """``channels``: channel, orders, revenue, actual_profit, platform_fee, marketing_cost,
    delivery_net_cost. Adds the ratios, a 0–100 ``rating_score`` and ``rating`` (优/良/中/差).

    ``rules.thresholds`` maps profit_margin, commission_rate, marketing_rate, delivery_rate to
    (good, bad): each ratio earns 0 points at ``bad`` and 100 at ``good``, linearly; the score
    weighs them by ``rules.weights`` and is rated by ``rules.ratings``.
    """
    out = with_ratios(channels)
    thresholds = rules.thresholds
    out["rating_score"] = sum(weight * _points(out[name], *thresholds[name]) for name, weight in rules.weights.items())
    labels = rules.ratings
    out["rating"] = out["rating_score"].map(lambda s: next(label for floor, label in labels if s >= floor))
    return out.sort_values("revenue", ascending=False).reset_index(drop=True)


DISTANCE_MEASURES = ["orders", "revenue", "actual_profit", "delivery_net_cost"]
NO_DISTANCE = -1  # band of orders without a 距离 (到店 / 收银机): not delivered, so in no band


def _with_delivery_ratios(sums: pd.DataFrame) -> pd.DataFrame:
    out = with_ratios(sums)
    out["delivery_cost_per_order"] = ratios.delivery_cost_per_order(out["delivery_net_cost"], out["orders"])
    return out


def distance_table(bands: pd.DataFrame) -> pd.DataFrame:
    """``bands``: distance_band, orders, revenue, actual_profit, delivery_net_cost. One row per
    delivery band 0–6 (6 = 6 km+) with 利润率, 配送成本率, 客单价, 单均配送成本. Orders without a
    distance are left out: they were never delivered, and their margin would bend the bands'
    line (see ``no_distance_orders``)."""
    sums = bands.groupby("distance_band")[DISTANCE_MEASURES].sum()
    sums = sums.reindex(range(7), fill_value=0).rename_axis("distance_band").reset_index()
    sums.insert(1, "band", sums["distance_band"].map(DISTANCE_LABELS))
    return _with_delivery_ratios(sums)


def no_distance_orders(bands: pd.DataFrame) -> pd.DataFrame:
    """The orders without a distance (band −1) as one row with the bands' ratios; no row when
    the selection has none."""
    part = bands.loc[bands["distance_band"] == NO_DISTANCE, DISTANCE_MEASURES]
    if not part["orders"].sum():
        return _with_delivery_ratios(part.iloc[0:0])
    return _with_delivery_ratios(pd.DataFrame([part.sum()]).astype({"orders": "int64"}))

