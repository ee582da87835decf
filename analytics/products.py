"""商品分析 (docs/METRICS.md §7): ABC by 实收, 动销 × 利润率 quadrant, price bands, basket depth,
category trends. Consumables (耗材) are already left out by the query."""

from __future__ import annotations

import math

import pandas as pd

from analytics.ratios import avg_order_value, gross_margin, ratio, share, unit_amount

ABC_CLASSES = ("A", "B", "C")
PRICE_GROUP_NAMES = ("流量", "主流", "利润", "高价")
QUADRANTS = {(True, True): "明星", (True, False): "引流", (False, True): "潜力", (False, False): "问题"}
DEPTH_BUCKETS = ("1", "2", "3", "4", "5+")


def product_metrics(products: pd.DataFrame, days: int) -> pd.DataFrame:
    """``products``: product_id, quantity, revenue, cost, profit, sales_days, stores (one row per
    product over the selection). Adds unit price, 商品毛利率 and 动销率 = sales_days / (days × stores)."""
    out = products.copy()
    out["unit_price"] = unit_amount(out["revenue"], out["quantity"])
    out["margin"] = gross_margin(out["profit"], out["revenue"])
    out["sell_through"] = ratio(out["sales_days"], out["stores"] * days)
    return out


def abc_classes(products: pd.DataFrame, shares: tuple[float, float]) -> pd.DataFrame:
    """Pareto by 实收: sorted by revenue, a product is A while the revenue share *before* it is
    below ``shares[0]`` (80 %), B below ``shares[1]`` (95 %), else C (so the product that crosses
    the first share is still A)."""
    out = products.sort_values(["revenue", "product_id"], ascending=[False, True]).reset_index(drop=True)
    out["revenue_share"] = share(out["revenue"])
    before = out["revenue_share"].cumsum() - out["revenue_share"]
    out["cumulative_share"] = before + out["revenue_share"]
    out["abc"] = "C"
    for label, limit in reversed(tuple(zip(ABC_CLASSES, shares, strict=False))):
        out.loc[before < limit - 1e-12, "abc"] = label
    return out


def abc_summary(classified: pd.DataFrame) -> pd.DataFrame:
    """Per class: SKU count, 实收, its share, profit."""
    sums = classified.groupby("abc").agg(skus=("product_id", "size"), revenue=("revenue", "sum"),
                                         profit=("profit", "sum"))  # fmt: skip
    sums = sums.reindex(list(ABC_CLASSES), fill_value=0).rename_axis("abc").reset_index()
    sums["revenue_share"] = share(sums["revenue"])
    return sums


def quadrant(products: pd.DataFrame, sell_through_split: float, margin_split: float) -> pd.Series:
    """明星 (high 动销, high margin), 引流 (high 动销, low margin), 潜力 (low, high), 问题 (low, low).
    "High" means at or above the split."""
    high_sales = products["sell_through"].fillna(0) >= sell_through_split
    high_margin = products["margin"].fillna(-math.inf) >= margin_split
    return pd.Series([QUADRANTS[(s, m)] for s, m in zip(high_sales, high_margin, strict=True)],
                     index=products.index)  # fmt: skip


def price_band_labels(edges: tuple[float, ...]) -> list[str]:
    """'0–10', '10–20', … '200+' for the band edges (元, the first band starts at 0)."""
    lows = (0.0, *edges)
    return [f"{low:g}–{high:g}" for low, high in zip(lows, edges, strict=False)] + [f"{lows[-1]:g}+"]


def price_band(unit_price: pd.Series, edges: tuple[float, ...]) -> pd.Series:
    """Band label of each unit price: [0, edges[0]), [edges[0], edges[1]), …, ≥ edges[-1]."""
    bins = [0.0, *edges, math.inf]
    return pd.cut(unit_price, bins=bins, right=False, labels=price_band_labels(edges)).astype(object)


def price_group(unit_price: pd.Series, edges: tuple[float, ...]) -> pd.Series:
    """流量 / 主流 / 利润 / 高价 split at the three group edges."""
    bins = [0.0, *edges, math.inf]
    return pd.cut(unit_price, bins=bins, right=False, labels=list(PRICE_GROUP_NAMES)).astype(object)


def price_band_table(products: pd.DataFrame, band_edges: tuple[float, ...],
                     group_edges: tuple[float, ...]) -> pd.DataFrame:  # fmt: skip
    """Per price band (all of them, in order): its group (by the band's lower bound), SKUs,
    quantity, 实收 and share, profit, margin."""
    frame = products[products["unit_price"].notna()].assign(band=lambda f: price_band(f["unit_price"], band_edges))
    sums = frame.groupby("band").agg(skus=("product_id", "size"), quantity=("quantity", "sum"),
                                     revenue=("revenue", "sum"), profit=("profit", "sum"))  # fmt: skip
    sums = sums.reindex(price_band_labels(band_edges), fill_value=0).rename_axis("band").reset_index()
    lows = pd.Series([0.0, *band_edges], dtype=float)
    sums.insert(1, "group", price_group(lows, group_edges))
    sums["revenue_share"] = share(sums["revenue"])
    sums["margin"] = gross_margin(sums["profit"], sums["revenue"])
    return sums


def basket_depth(depths: pd.DataFrame) -> pd.DataFrame:
    """``depths``: depth (non-耗材 lines per order), orders, revenue. Buckets 1…4 and 5+ with
    order share and 客单价."""
    frame = depths[depths["depth"] >= 1]
    bucket = frame["depth"].clip(upper=5).astype(int).astype(str).replace("5", "5+")
    sums = frame.assign(bucket=bucket).groupby("bucket")[["orders", "revenue"]].sum()
    sums = sums.reindex(list(DEPTH_BUCKETS), fill_value=0).rename_axis("bucket").reset_index()
    sums["order_share"] = share(sums["orders"])
    sums["avg_order_value"] = avg_order_value(sums["revenue"], sums["orders"])
    return sums


def category_trend(category_days: pd.DataFrame, top: int) -> pd.DataFrame:
    """``category_days``: category, day, revenue. Long frame of the ``top`` categories by total
    实收 (the rest summed as 其他), one row per category and day."""
    if category_days.empty:
        return category_days
    totals = category_days.groupby("category")["revenue"].sum().sort_values(ascending=False)
    keep = set(totals.index[:top])
    frame = category_days.assign(category=category_days["category"].where(category_days["category"].isin(keep),
                                                                          "其他"))  # fmt: skip
    return frame.groupby(["category", "day"], as_index=False)["revenue"].sum().sort_values(["category", "day"])
