"""商品分析 (docs/METRICS.md §7): ABC by 实收, 动销 × 利润率 quadrant, price bands, basket depth,
category trends. Consumables (耗材) are already left out by the query."""

from __future__ import annotations

import math

import pandas as pd

from analytics.breakdowns import _safe_div, share

ABC_LIMITS = (("A", 0.80), ("B", 0.95), ("C", 1.0))
# (label, low, high) in 元 of the average received unit price; high exclusive
PRICE_BANDS = (
    ("0–10", 0, 10), ("10–20", 10, 20), ("20–30", 20, 30), ("30–40", 30, 40),
    ("40–50", 40, 50), ("50–100", 50, 100), ("100–200", 100, 200), ("200+", 200, math.inf),
)  # fmt: skip
PRICE_GROUPS = (("流量", 0, 15), ("主流", 15, 30), ("利润", 30, 50), ("高价", 50, math.inf))
QUADRANTS = {(True, True): "明星", (True, False): "引流", (False, True): "潜力", (False, False): "问题"}
DEPTH_BUCKETS = ("1", "2", "3", "4", "5+")


def product_metrics(products: pd.DataFrame, days: int) -> pd.DataFrame:
    """``products``: product_id, quantity, revenue, cost, profit, sales_days, stores (one row per
    product over the selection). Adds unit price, 商品毛利率 and 动销率 = sales_days / (days × stores)."""
    out = products.copy()
    out["unit_price"] = _safe_div(out["revenue"], out["quantity"])
    out["margin"] = _safe_div(out["profit"], out["revenue"])
    out["sell_through"] = _safe_div(out["sales_days"], out["stores"] * days)
    return out


def abc_classes(products: pd.DataFrame) -> pd.DataFrame:
    """Pareto by 实收: sorted by revenue, a product is A while the revenue share *before* it is
    below 80%, B below 95%, else C (so the product that crosses 80% is still A)."""
    out = products.sort_values(["revenue", "product_id"], ascending=[False, True]).reset_index(drop=True)
    out["revenue_share"] = share(out["revenue"])
    before = out["revenue_share"].cumsum() - out["revenue_share"]
    out["cumulative_share"] = before + out["revenue_share"]
    out["abc"] = "C"
    for label, limit in reversed(ABC_LIMITS[:-1]):
        out.loc[before < limit - 1e-12, "abc"] = label
    return out


def abc_summary(classified: pd.DataFrame) -> pd.DataFrame:
    """Per class: SKU count, 实收, its share, profit."""
    sums = classified.groupby("abc").agg(skus=("product_id", "size"), revenue=("revenue", "sum"),
                                         profit=("profit", "sum"))  # fmt: skip
    sums = sums.reindex([label for label, _ in ABC_LIMITS], fill_value=0).rename_axis("abc").reset_index()
    sums["revenue_share"] = share(sums["revenue"])
    return sums


def quadrant(products: pd.DataFrame, sell_through_split: float, margin_split: float) -> pd.Series:
    """明星 (high 动销, high margin), 引流 (high 动销, low margin), 潜力 (low, high), 问题 (low, low).
    "High" means at or above the split."""
    high_sales = products["sell_through"].fillna(0) >= sell_through_split
    high_margin = products["margin"].fillna(-math.inf) >= margin_split
    return pd.Series([QUADRANTS[(s, m)] for s, m in zip(high_sales, high_margin, strict=True)],
                     index=products.index)  # fmt: skip


def price_band(unit_price: pd.Series) -> pd.Series:
    bins = [low for _, low, _ in PRICE_BANDS] + [math.inf]
    return pd.cut(unit_price, bins=bins, right=False, labels=[label for label, _, _ in PRICE_BANDS]).astype(object)


def price_group(unit_price: pd.Series) -> pd.Series:
    bins = [low for _, low, _ in PRICE_GROUPS] + [math.inf]
    return pd.cut(unit_price, bins=bins, right=False, labels=[label for label, _, _ in PRICE_GROUPS]).astype(object)


def price_band_table(products: pd.DataFrame) -> pd.DataFrame:
    """Per price band (all eight, in order): its group, SKUs, quantity, 实收 and share, profit, margin."""
    frame = products[products["unit_price"].notna()].assign(band=lambda f: price_band(f["unit_price"]))
    sums = frame.groupby("band").agg(skus=("product_id", "size"), quantity=("quantity", "sum"),
                                     revenue=("revenue", "sum"), profit=("profit", "sum"))  # fmt: skip
    labels = [label for label, _, _ in PRICE_BANDS]
    sums = sums.reindex(labels, fill_value=0).rename_axis("band").reset_index()
    lows = pd.Series([low for _, low, _ in PRICE_BANDS], dtype=float)
    sums.insert(1, "group", price_group(lows))
    sums["revenue_share"] = share(sums["revenue"])
    sums["margin"] = _safe_div(sums["profit"], sums["revenue"])
    return sums


def basket_depth(depths: pd.DataFrame) -> pd.DataFrame:
    """``depths``: depth (non-耗材 lines per order), orders, revenue. Buckets 1…4 and 5+ with
    order share and 客单价."""
    frame = depths[depths["depth"] >= 1]
    bucket = frame["depth"].clip(upper=5).astype(int).astype(str).replace("5", "5+")
    sums = frame.assign(bucket=bucket).groupby("bucket")[["orders", "revenue"]].sum()
    sums = sums.reindex(list(DEPTH_BUCKETS), fill_value=0).rename_axis("bucket").reset_index()
    sums["order_share"] = share(sums["orders"])
    sums["avg_order_value"] = _safe_div(sums["revenue"], sums["orders"])
    return sums


def category_trend(category_days: pd.DataFrame, top: int = 8) -> pd.DataFrame:
    """``category_days``: category, day, revenue. Long frame of the ``top`` categories by total
    实收 (the rest summed as 其他), one row per category and day."""
    if category_days.empty:
        return category_days
    totals = category_days.groupby("category")["revenue"].sum().sort_values(ascending=False)
    keep = set(totals.index[:top])
    frame = category_days.assign(category=category_days["category"].where(category_days["category"].isin(keep),
                                                                          "其他"))  # fmt: skip
    return frame.groupby(["category", "day"], as_index=False)["revenue"].sum().sort_values(["category", "day"])
