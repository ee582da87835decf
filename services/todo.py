"""今日必做, 健康分 and the daily trend of the diagnosis page."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from analytics.diagnosis_rules import (
    below_cost,
    costly_delivery_orders,
    hot_skus,
    loss_orders,
    margin_decline,
    new_skus,
    slow_movers,
    stockout_hot_skus,
    top_profit_skus,
    traffic_drop,
)
from analytics.health import COMPONENTS, health_scores
from cache import cached
from config import diagnosis as rules
from db import queries
from db.engine import reading
from db.queries import Scope
from services.filters import ViewFilters
from services.runtime import Runtime


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


@cached("timeseries")
def daily_trend(runtime: Runtime, filters: ViewFilters) -> list[dict]:
    """Per day: orders, 实收, 实际利润 (abnormal orders excluded)."""
    scope = Scope(filters.start, filters.end, filters.store_ids, filters.channels, runtime.settings.fee_channels)
    with reading(runtime.engine) as conn:
        frame = queries.daily_totals(conn, scope)
    return [
        {"day": r.day.isoformat(), "orders": r.orders, "revenue": r.revenue, "actual_profit": r.actual_profit}
        for r in frame.itertuples(index=False)
    ]


@cached("diagnosis")
def todo_list(runtime: Runtime, filters: ViewFilters) -> dict:
    """🔴 紧急 / 🟡 关注 items for the last day of the selected range, each with its evidence."""
    as_of = filters.end
    fee = runtime.settings.fee_channels
    sku_rules = filters.store_ids is not None and len(filters.store_ids) <= rules.SKU_RULES_MAX_STORES
    with reading(runtime.engine) as conn:
        names = {int(r.id): r.name for r in queries.stores(conn).itertuples(index=False)}
        two_weeks = Scope(as_of - dt.timedelta(days=13), as_of, filters.store_ids, filters.channels, fee)
        store_days = queries.daily_totals(conn, two_weeks, by_store=True)
        today = queries.day_orders(conn, Scope(as_of, as_of, filters.store_ids, filters.channels, fee))
        if sku_rules:
            history = Scope(as_of - dt.timedelta(days=rules.SKU_HISTORY_DAYS - 1), as_of, filters.store_ids,
                            filters.channels, fee)  # fmt: skip
            product_days = queries.product_days(conn, history)
    urgent: list[dict] = []
    watch: list[dict] = []
    highlights: list[dict] = []
    urgent += _order_items(today, names)
    for r in traffic_drop(store_days, as_of, rules.TRAFFIC_DROP_THRESHOLD).itertuples(index=False):
        watch.append({"rule": "单量下滑", "store": names.get(int(r.store_id), str(r.store_id)),
                      "evidence": f"近7天 {r.orders_recent:.0f} 单，前7天 {r.orders_previous:.0f} 单，"
                                  f"下降 {_pct(r.drop_ratio)}"})  # fmt: skip
    for r in margin_decline(store_days, as_of, rules.MARGIN_DECLINE_POINTS).itertuples(index=False):
        watch.append({"rule": "利润率下滑", "store": names.get(int(r.store_id), str(r.store_id)),
                      "evidence": f"近7天 {_pct(r.recent_margin)}，前7天 {_pct(r.previous_margin)}，"
                                  f"下降 {r.decline * 100:.1f} 个百分点"})  # fmt: skip
    if sku_rules and len(product_days):
        urgent += _sku_items(runtime, product_days, as_of, names)
        watch += _slow_mover_items(runtime, product_days, as_of, names)
        watch += _new_sku_items(runtime, product_days, as_of, names)
        highlights += _highlight_items(runtime, product_days, as_of, names)
    return {"as_of": as_of.isoformat(), "urgent": urgent, "watch": watch, "highlights": highlights,
            "sku_rules": sku_rules}  # fmt: skip


def _order_items(today, names: dict[int, str]) -> list[dict]:
    """One item per store and order rule, with the count and the worst order as evidence."""
    items = []
    for rule, found, worst in (
        (
            "穿底订单",
            loss_orders(today),
            lambda r: f"最多亏 ¥{-r.actual_profit:.2f}（订单 {r.platform_order_id}，{r.channel}）",
        ),
        (
            "高配送成本",
            costly_delivery_orders(today, rules.COSTLY_DELIVERY_FEE),
            lambda r: f"配送费最高 ¥{r.delivery_fee:.2f}，利润 ¥{r.actual_profit:.2f}（订单 {r.platform_order_id}）",
        ),
    ):
        groups = sorted(found.groupby("store_id", sort=False), key=lambda kv: kv[1]["actual_profit"].sum())
        for store_id, group in groups[: rules.MAX_ITEMS_PER_RULE]:  # the stores losing most first
            first = next(group.itertuples(index=False))
            total = group["actual_profit"].sum()
            items.append({"rule": rule, "store": names.get(int(store_id), ""),
                          "evidence": f"{len(group)} 单，合计利润 ¥{total:.2f}；{worst(first)}"})
        if len(groups) > rules.MAX_ITEMS_PER_RULE:
            rest = groups[rules.MAX_ITEMS_PER_RULE :]
            items.append({"rule": rule, "store": f"另有 {len(rest)} 家门店",
                          "evidence": f"共 {sum(len(g) for _, g in rest)} 单"})
    return items  # fmt: skip


def _product_names(runtime: Runtime, product_ids) -> dict[int, str]:
    with reading(runtime.engine) as conn:
        return queries.product_names(conn, sorted({int(i) for i in product_ids}))


def _sku_items(runtime: Runtime, product_days, as_of: dt.date, names: dict[int, str]) -> list[dict]:
    cheap = below_cost(product_days, as_of, rules.BELOW_COST_DAYS)
    gaps = stockout_hot_skus(product_days, as_of)
    products = _product_names(runtime, [*cheap["product_id"], *gaps["product_id"]])
    items = []
    for r in cheap.head(rules.MAX_ITEMS_PER_RULE).itertuples(index=False):
        items.append(
            {
                "rule": "价格异常",
                "store": names.get(int(r.store_id), ""),
                "evidence": f"{products.get(int(r.product_id), r.product_id)}：实收单价 ¥{r.unit_price:.2f} "
                f"低于成本 ¥{r.unit_cost:.2f}（近{rules.BELOW_COST_DAYS}天 {r.quantity:.0f} 件）",
            }
        )
    for r in gaps.head(rules.MAX_ITEMS_PER_RULE).itertuples(index=False):
        items.append(
            {
                "rule": "热销缺货",
                "store": names.get(int(r.store_id), ""),
                "evidence": f"{products.get(int(r.product_id), r.product_id)}：已 {r.zero_days} 天无销售"
                f"（此前14天销量第 {r.rank} 名，{r.baseline_quantity:.0f} 件）",
            }
        )
    return items  # fmt: skip


def _slow_mover_items(runtime: Runtime, product_days, as_of: dt.date, names: dict[int, str]) -> list[dict]:
    idle = slow_movers(product_days, as_of)
    if idle.empty:
        return []
    sold = product_days.groupby(["store_id", "product_id"])["quantity"].sum().rename("sold")
    idle = idle.join(sold, on=["store_id", "product_id"]).sort_values("sold", ascending=False)
    groups = list(idle.groupby(["store_id", "bucket"], sort=False))
    products = _product_names(runtime, [p for _, group in groups for p in group["product_id"].head(3)])
    items = []
    for (store_id, bucket), group in groups:
        top = "、".join(products.get(int(p), str(p)) for p in group["product_id"].head(3))
        items.append({"rule": f"滞销 {bucket}", "store": names.get(int(store_id), ""),
                      "evidence": f"{len(group)} 个商品，销量较高的有：{top}"})  # fmt: skip
    return items


def _new_sku_items(runtime: Runtime, product_days, as_of: dt.date, names: dict[int, str]) -> list[dict]:
    fresh = new_skus(product_days, as_of)
    if fresh.empty:
        return []
    products = _product_names(runtime, [p for _, g in fresh.groupby("store_id") for p in g["product_id"].head(3)])
    items = []
    for store_id, group in fresh.groupby("store_id", sort=False):
        top = "、".join(
            f"{products.get(int(p), p)}（{q:.0f} 件）"
            for p, q in zip(group["product_id"].head(3), group["quantity"].head(3), strict=True)
        )
        items.append(
            {
                "rule": "新品",
                "store": names.get(int(store_id), ""),
                "evidence": f"近7天首次动销 {len(group)} 个商品：{top}",
            }
        )
    return items  # fmt: skip


def _highlight_items(runtime: Runtime, product_days, as_of: dt.date, names: dict[int, str]) -> list[dict]:
    hot = hot_skus(product_days, as_of).head(rules.MAX_ITEMS_PER_RULE)
    best = top_profit_skus(product_days, as_of, top_n=3)
    products = _product_names(runtime, [*hot["product_id"], *best["product_id"]])
    items = []
    for r in hot.itertuples(index=False):
        growth = "新上量" if pd.isna(r.growth) else f"增长 {r.growth * 100:.0f}%"
        items.append(
            {
                "rule": "热销",
                "store": names.get(int(r.store_id), ""),
                "evidence": f"{products.get(int(r.product_id), r.product_id)}：近7天 {r.recent:.0f} 件，"
                f"前7天 {r.previous:.0f} 件，{growth}",
            }
        )
    for r in best.itertuples(index=False):
        items.append(
            {
                "rule": "利润贡献",
                "store": names.get(int(r.store_id), ""),
                "evidence": f"{products.get(int(r.product_id), r.product_id)}：近7天利润 ¥{r.profit:,.0f}"
                f"（{r.quantity:.0f} 件）",
            }
        )
    return items  # fmt: skip


@cached("diagnosis")
def store_health(runtime: Runtime, filters: ViewFilters) -> list[dict]:
    """健康分 of the selected stores, each scored against all stores over the same period."""
    scope = Scope(filters.start, filters.end, None, filters.channels, runtime.settings.fee_channels)
    with reading(runtime.engine) as conn:
        names = {int(r.id): r.name for r in queries.stores(conn).itertuples(index=False)}
        per_day = queries.daily_totals(conn, scope, by_store=True)
    if per_day.empty:
        return []
    columns = ["orders", "revenue", "actual_profit", "marketing_cost", "delivery_net_cost"]
    scores = health_scores(per_day.groupby("store_id")[columns].sum().reset_index())
    if filters.store_ids is not None:
        scores = scores[scores["store_id"].isin(filters.store_ids)]
    return [
        {"store_id": int(r["store_id"]), "store": names.get(int(r["store_id"]), ""), "score": float(r["score"]),
         **{c: float(r[c]) for c in COMPONENTS}, **{f"{c}_score": float(r[f"{c}_score"]) for c in COMPONENTS}}
        for _, r in scores.iterrows()
    ]  # fmt: skip
