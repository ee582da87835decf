"""View-models of the analysis pages: 经营总览, 商品分析, 时段分析, 渠道分析 (with drill-down), 配送分析.

Each function reads totals from the read model (or, for drill-downs, the orders of one
channel / product / order from the database), runs the pure analytics and returns JSON-native
dicts, so every result goes through the cache's tiers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd

from analytics import breakdowns, products, ratios
from analytics.diagnosis_rules import slow_movers
from analytics.health import health_scores
from analytics.kpis import BASE_SHORT, CURRENT_SHORT, comparison_periods, covered_days
from cache import cached
from db import queries
from db.engine import reading
from readmodel import totals
from readmodel.selection import Selection
from services.runtime import Runtime
from services.tables import records

STORE_MEASURES = ["orders", "loss_orders", "revenue", "actual_profit", "platform_fee", "marketing_cost",
                  "delivery_net_cost"]  # fmt: skip


def _store_names(runtime: Runtime) -> pd.DataFrame:
    """store_id, store (name), city of every store, from the cached store directory."""
    return totals.stores(runtime.tables).rename(columns={"id": "store_id", "name": "store"})[
        ["store_id", "store", "city"]]  # fmt: skip


@cached("kpis")
def store_overview(runtime: Runtime, filters: Selection) -> dict:
    """Every selected store: KPIs, 环比 changes, 健康分 (scored against all stores); per city; the
    stores without orders in the period are listed with zeros and no score. The grid of all
    stores is cached per period and channels, so every store selection shares it; the view
    itself per selection (its 300 rows of records cost 4–16 ms to build)."""
    grid = _store_grid(runtime, replace(filters, store_ids=None))
    if filters.store_ids is not None:
        grid = grid[grid["store_id"].isin(filters.store_ids)]
    city = grid["city"].fillna("未知城市")
    cities = grid.groupby(city)[STORE_MEASURES].sum()
    cities["stores"] = grid.groupby(city).size()
    cities["score"] = grid.groupby(city)["score"].mean()
    cities = breakdowns.with_ratios(cities.rename_axis("city").reset_index()).sort_values("revenue", ascending=False)
    periods = comparison_periods(filters.start, filters.end)
    spans = {name: {"start": periods[name].start.isoformat(), "end": periods[name].end.isoformat(),
                    "days": periods[name].days} for name in ("current", "previous")}  # fmt: skip
    return {"stores": records(grid), "cities": records(cities), "with_data": int((grid["orders"] > 0).sum()),
            "periods": spans}  # fmt: skip


@cached("kpis")
def _store_grid(runtime: Runtime, filters: Selection) -> pd.DataFrame:
    """All stores' row of 经营总览 (ordered by score), whatever stores ``filters`` name."""
    previous = comparison_periods(filters.start, filters.end)["previous"]
    names = _store_names(runtime)
    both = totals.store_totals(runtime.tables, filters.window(previous.start, filters.end), split=filters.start)
    now = both[both["period"] == "current"].set_index("store_id")[STORE_MEASURES]
    before = both[both["period"] == "previous"].set_index("store_id")[["orders", "revenue", "actual_profit"]]
    grid = names.set_index("store_id").join(now, how="left").fillna({m: 0.0 for m in STORE_MEASURES})
    grid = breakdowns.with_ratios(grid.reset_index())
    base = breakdowns.with_ratios(before.reset_index()).set_index("store_id")
    grid["orders_change"] = _relative(grid, base, "orders")
    grid["revenue_change"] = _relative(grid, base, "revenue")
    grid["margin_change"] = grid["profit_margin"] - grid["store_id"].map(base["profit_margin"])
    grid = _withhold_uncovered(runtime, grid, filters)
    scores = health_scores(now.reset_index(), runtime.settings.rules.health)[["store_id", "score"]]
    grid = grid.merge(scores, on="store_id", how="left")
    return grid.sort_values(["score", "store_id"], na_position="last").reset_index(drop=True)


def _withhold_uncovered(runtime: Runtime, grid: pd.DataFrame, filters: Selection) -> pd.DataFrame:
    """A store's 环比 only where its data covers both periods (docs/METRICS.md §3): ``base_days``
    and ``current_days`` say how many days it covers; otherwise the changes are None and
    ``change_withheld`` says which period falls short."""
    periods = comparison_periods(filters.start, filters.end)
    spans = totals.store_data_spans(runtime.tables)
    for column, name in (("base_days", "previous"), ("current_days", "current")):
        days = covered_days(spans, periods[name])
        grid[column] = grid["store_id"].map(days).fillna(0).astype(int)
    base_short = grid["base_days"] < periods["previous"].days
    current_short = grid["current_days"] < periods["current"].days
    grid["change_withheld"] = pd.Series(None, index=grid.index, dtype=object)
    grid.loc[current_short, "change_withheld"] = CURRENT_SHORT
    grid.loc[base_short, "change_withheld"] = BASE_SHORT  # the base's shortfall is named first
    grid.loc[base_short | current_short, ["orders_change", "revenue_change", "margin_change"]] = float("nan")
    return grid


def _relative(grid: pd.DataFrame, base: pd.DataFrame, column: str) -> pd.Series:
    previous = grid["store_id"].map(base[column]) if len(base) else pd.Series(float("nan"), index=grid.index)
    return ratios.relative_change(grid[column], previous)


@cached("products")
def product_analysis(runtime: Runtime, filters: Selection, sell_split: float, margin_split: float) -> dict:
    """ABC, quadrant, price bands, basket depth, category trend and loss-making / slow SKUs."""
    rules, todo = runtime.settings.rules.products, runtime.settings.rules.todo
    few_stores = filters.store_ids is not None and len(filters.store_ids) <= todo.sku_rules_max_stores
    sold = totals.product_totals(runtime.tables, filters)
    categories = totals.category_days(runtime.tables, filters)
    depths = totals.basket_depths(runtime.tables, filters)
    history = None
    if few_stores:
        recent = filters.window(filters.end - dt.timedelta(days=todo.sku_history_days - 1), filters.end)
        history = totals.product_days(runtime.tables, recent)
        names = _store_names(runtime)
    if sold.empty:
        return {"empty": True}
    metrics = products.product_metrics(sold, filters.days)
    classified = products.abc_classes(metrics, rules.abc_shares)
    classified["quadrant"] = products.quadrant(classified, sell_split, margin_split)
    classified["price_band"] = products.price_band(classified["unit_price"], rules.price_band_edges)
    quadrants = classified.groupby("quadrant").agg(skus=("product_id", "size"), revenue=("revenue", "sum"),
                                                   profit=("profit", "sum"))  # fmt: skip
    quadrants = quadrants.reindex(list(products.QUADRANTS.values()), fill_value=0).rename_axis("quadrant")
    losing = classified[classified["profit"] < 0].sort_values("profit")
    trend = products.category_trend(categories, rules.category_top)
    result = {
        "empty": False,
        "skus": len(classified),
        "abc": records(products.abc_summary(classified)),
        "quadrants": records(quadrants.reset_index()),
        "price_bands": records(products.price_band_table(metrics, rules.price_band_edges, rules.price_group_edges)),
        "depth": records(products.basket_depth(depths)),
        "category_trend": records(trend),
        "products": records(classified.head(rules.product_rows)),
        "losing": records(losing.head(rules.product_rows)),
        "slow": None,
    }
    if history is not None:
        idle = slow_movers(history, filters.end, min_idle_days=todo.slow_min_idle_days,
                           min_selling_days=todo.slow_min_selling_days, bucket_days=todo.slow_bucket_days)  # fmt: skip
        if len(idle):
            name_of = dict(zip(sold["product_id"], sold["name"], strict=True))
            name_of.update(totals.product_names(runtime.tables, set(idle["product_id"]) - set(name_of)))
            idle = idle.assign(name=idle["product_id"].map(name_of)).merge(names, on="store_id", how="left")
        result["slow"] = records(idle.head(rules.product_rows))
    return result


@cached("products")
def product_focus(runtime: Runtime, filters: Selection, product_id: int) -> dict:
    """One SKU in the selection (商品分析 ``?sku=``): its name, totals and every day of the period
    (days without a sale as zeros, so a stock-out or an idle spell shows)."""
    name = totals.product_names(runtime.tables, [product_id]).get(int(product_id))
    if name is None:
        return {"found": False}
    mine = totals.product_daily(runtime.tables, filters, product_id).set_index("day")
    calendar = [filters.start + dt.timedelta(days=i) for i in range(filters.days)]
    daily = mine.reindex(calendar, fill_value=0).rename_axis("day").reset_index()
    total = daily[["quantity", "revenue", "cost", "profit"]].sum()
    sold = float(total["quantity"])
    summary = {"name": name, "product_id": int(product_id), **{k: float(v) for k, v in total.items()},
               "selling_days": int((daily["quantity"] > 0).sum()),
               "unit_price": ratios.unit_amount(float(total["revenue"]), sold),
               "unit_cost": ratios.unit_amount(float(total["cost"]), sold),
               "margin": ratios.gross_margin(float(total["profit"]), float(total["revenue"]))}  # fmt: skip
    return {"found": True, "summary": summary, "daily": records(daily)}


@cached("timeseries")
def time_analysis(runtime: Runtime, filters: Selection) -> dict:
    """Time slots, per-hour totals and the weekday × hour matrices (daily averages)."""
    hourly = totals.hourly_totals(runtime.tables, filters)
    if hourly.empty:
        return {"empty": True}
    hours = hourly.groupby("hour")[["orders", "revenue", "actual_profit"]].sum().reindex(range(24), fill_value=0)
    matrices = {m: breakdowns.weekday_hour_matrix(hourly, m).values.tolist() for m in ("orders", "revenue")}
    return {
        "empty": False,
        "slots": records(breakdowns.slot_table(hourly)),
        "hours": records(breakdowns.with_ratios(hours.rename_axis("hour").reset_index())),
        "matrix": matrices,
        "weekdays": list(breakdowns.WEEKDAYS),
    }


@cached("kpis")
def channel_analysis(runtime: Runtime, filters: Selection) -> dict:
    """Per channel: 实收, orders, 客单价, 佣金率, 营销成本率, 配送成本率, 利润率, rating; and the
    count of abnormal orders (excluded) in the selection."""
    channels, abnormal = totals.channel_totals(runtime.tables, filters)
    table = breakdowns.channel_table(channels, runtime.settings.rules.channel) if len(channels) else channels
    return {"channels": records(table), "abnormal": abnormal}


@cached("products")
def channel_skus(runtime: Runtime, filters: Selection, channel: str) -> list[dict]:
    """Drill-down level 2: the SKUs of one channel in the selection, by 实收."""
    sold = totals.product_totals(runtime.tables, replace(filters, channels=(channel,)))
    if sold.empty:
        return []
    ranked = products.product_metrics(sold, filters.days)
    ranked = ranked.sort_values(["revenue", "product_id"], ascending=[False, True])
    return records(ranked.head(runtime.settings.rules.products.product_rows))


def _with_store_names(runtime: Runtime, orders: pd.DataFrame) -> pd.DataFrame:
    return orders.merge(_store_names(runtime)[["store_id", "store"]], on="store_id", how="left")


@cached("diagnosis")
def product_orders(runtime: Runtime, filters: Selection, channel: str, product_id: int) -> dict:
    """Drill-down level 3: orders of one channel containing one SKU (newest first)."""
    one_channel = replace(filters, channels=(channel,))
    rows = runtime.settings.rules.channel.drill_order_rows
    with reading(runtime.engine) as conn:
        total, orders = queries.orders_with_product(conn, one_channel, runtime.settings.fee_channels, product_id,
                                                    rows)  # fmt: skip
    return {"total": total, "orders": records(_with_store_names(runtime, orders))}


@cached("diagnosis")
def order_detail(runtime: Runtime, order_id: int) -> dict:
    """Drill-down level 4: one order with every fee and all its lines."""
    with reading(runtime.engine) as conn:
        header, lines = queries.order_detail(conn, order_id)
    if header is None:
        return {"found": False}
    return {"found": True, "order": {k: records(pd.DataFrame([header]))[0][k] for k in header}, "lines": records(lines)}


@cached("diagnosis")
def abnormal_orders(runtime: Runtime, filters: Selection) -> dict:
    """异常订单 of the selection (fee channel, platform fee 0), newest first."""
    rules = runtime.settings.rules
    rows, fee_floor = rules.channel.abnormal_order_rows, rules.todo.costly_delivery_fee
    total, orders = totals.abnormal_orders(runtime.tables, filters, rows, fee_floor)
    return {"total": total, "orders": records(_with_store_names(runtime, orders))}


@cached("kpis")
def distance_analysis(runtime: Runtime, filters: Selection) -> dict:
    """Distance bands 0–1 … 6+ km (orders, profit, 利润率, 配送成本率, 客单价) and, apart from them,
    the orders without a distance (到店 / 收银机; None when there are none)."""
    bands = totals.distance_totals(runtime.tables, filters)
    if bands.empty:
        return {"bands": [], "no_distance": None}
    no_distance = records(breakdowns.no_distance_orders(bands))
    return {"bands": records(breakdowns.distance_table(bands)), "no_distance": no_distance[0] if no_distance else None}
