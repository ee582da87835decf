"""今日必做, 健康分 and the daily trend of the diagnosis page."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd

from analytics.diagnosis_rules import (
    below_cost,
    confirm_stockouts,
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
from services import pieces
from services.filters import ViewFilters
from services.runtime import Runtime


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


@cached("timeseries")
def daily_trend(runtime: Runtime, filters: ViewFilters) -> list[dict]:
    """Per day: orders, 实收, 实际利润 (abnormal orders excluded)."""
    frame = pieces.daily_totals(runtime, filters.start, filters.end, filters.store_ids, filters.channels)
    return [
        {"day": r.day.isoformat(), "orders": r.orders, "revenue": r.revenue, "actual_profit": r.actual_profit}
        for r in frame.itertuples(index=False)
    ]


def todo_list(runtime: Runtime, filters: ViewFilters) -> dict:
    """🔴 紧急 / 🟡 关注 / 🟢 亮点 items for the last day of the selected range, each with its
    evidence. They depend on that day only (each rule reads its own history before it), so
    they are cached per last day, stores and channels: every window ending that day shares them."""
    return _todo_as_of(runtime, replace(filters, start=filters.end))


@cached("diagnosis")
def _todo_as_of(runtime: Runtime, filters: ViewFilters) -> dict:
    as_of = filters.end
    sku_rules = filters.store_ids is not None and len(filters.store_ids) <= rules.SKU_RULES_MAX_STORES
    names = pieces.store_names(runtime)
    store_days = pieces.daily_totals(runtime, as_of - dt.timedelta(days=13), as_of, filters.store_ids,
                                     filters.channels, by_store=True)  # fmt: skip
    today = pieces.rule_orders(runtime, as_of, filters.store_ids, filters.channels, rules.COSTLY_DELIVERY_FEE)
    if sku_rules:
        product_days = pieces.product_days(runtime, as_of - dt.timedelta(days=rules.SKU_HISTORY_DAYS - 1), as_of,
                                           filters.store_ids, filters.channels)  # fmt: skip
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
        found = _sku_findings(product_days, as_of)
        with reading(runtime.engine) as conn:
            found["stockout"] = _confirmed_stockouts(conn, found["stockout"], as_of)
        products = pieces.product_names(runtime, _named_products(found))  # every SKU the items name
        sku_urgent, sku_watch, highlights = _sku_items(found, names, products)
        urgent += sku_urgent
        watch += sku_watch
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
        if found.empty:
            continue
        # per store (in order of appearance): orders, total profit and its first (worst) order
        stores = found.groupby("store_id", sort=False)["actual_profit"].agg(["size", "sum"])
        first = found.drop_duplicates("store_id").set_index("store_id")
        ranked = stores.join(first).sort_values("sum", kind="stable")  # the stores losing most first
        for r in ranked.head(rules.MAX_ITEMS_PER_RULE).itertuples():
            items.append({"rule": rule, "store": names.get(int(r.Index), ""),
                          "evidence": f"{r.size} 单，合计利润 ¥{r.sum:.2f}；{worst(r)}"})  # fmt: skip
        if len(ranked) > rules.MAX_ITEMS_PER_RULE:
            rest = ranked.iloc[rules.MAX_ITEMS_PER_RULE :]
            items.append({"rule": rule, "store": f"另有 {len(rest)} 家门店",
                          "evidence": f"共 {int(rest['size'].sum())} 单"})  # fmt: skip
    return items


TOP_NAMED = 3  # SKUs named per store in the grouped items (滞销, 新品)


def _sku_findings(product_days, as_of: dt.date) -> dict[str, pd.DataFrame]:
    """Every SKU rule's findings, trimmed to what the page lists."""
    limit = rules.MAX_ITEMS_PER_RULE
    idle = slow_movers(product_days, as_of)
    sold = product_days.groupby(["store_id", "product_id"])["quantity"].sum().rename("sold")
    return {
        "below_cost": below_cost(product_days, as_of, rules.BELOW_COST_DAYS).head(limit),
        "stockout": stockout_hot_skus(product_days, as_of),  # confirmed by stock, then trimmed
        "slow": idle.join(sold, on=["store_id", "product_id"]).sort_values("sold", ascending=False),
        "new": new_skus(product_days, as_of),
        "hot": hot_skus(product_days, as_of).head(limit),
        "profit": top_profit_skus(product_days, as_of, top_n=TOP_NAMED),
    }


def _confirmed_stockouts(conn, candidates: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """热销缺货 candidates whose last reported 剩余库存 does not contradict a stock-out."""
    if candidates.empty:
        return candidates.assign(remaining_stock=pd.Series(dtype=float))
    pairs = list(zip(candidates["store_id"], candidates["product_id"], strict=True))
    since = as_of - dt.timedelta(days=int(candidates["zero_days"].max()))  # the earliest last sale
    stock = queries.last_stock(conn, pairs, since, as_of)
    confirmed = confirm_stockouts(candidates, stock, days_of_cover=rules.STOCKOUT_DAYS_OF_COVER)
    return confirmed.head(rules.MAX_ITEMS_PER_RULE)


def _top_per_group(frame: pd.DataFrame, keys: list[str]):
    """(key, group, the group's first TOP_NAMED rows) in the frame's order."""
    for key, group in frame.groupby(keys, sort=False):
        yield key, group, group.head(TOP_NAMED)


def _named_products(found: dict[str, pd.DataFrame]) -> list[int]:
    ids = [*found["below_cost"]["product_id"], *found["stockout"]["product_id"], *found["hot"]["product_id"],
           *found["profit"]["product_id"]]  # fmt: skip
    for name, keys in (("slow", ["store_id", "bucket"]), ("new", ["store_id"])):
        if not found[name].empty:
            ids += [p for _, _, top in _top_per_group(found[name], keys) for p in top["product_id"]]
    return ids


def _sku_items(found: dict[str, pd.DataFrame], names: dict[int, str], products: dict[int, str]):
    """(urgent, watch, highlights) items of the SKU rules, each naming its products."""

    def item(rule: str, store_id, evidence: str) -> dict:
        return {"rule": rule, "store": names.get(int(store_id), ""), "evidence": evidence}

    def product(product_id) -> str:
        return products.get(int(product_id), str(product_id))

    urgent = [
        item("价格异常", r.store_id, f"{product(r.product_id)}：实收单价 ¥{r.unit_price:.2f} 低于成本 "
             f"¥{r.unit_cost:.2f}（近{rules.BELOW_COST_DAYS}天 {r.quantity:.0f} 件）")
        for r in found["below_cost"].itertuples(index=False)
    ] + [
        item("热销缺货", r.store_id, f"{product(r.product_id)}：已 {r.zero_days} 天无销售"
             f"（此前14天销量第 {r.rank} 名，{r.baseline_quantity:.0f} 件；"
             + ("无库存数据）" if pd.isna(r.remaining_stock) else f"最后剩余库存 {r.remaining_stock:.0f}）"))
        for r in found["stockout"].itertuples(index=False)
    ]  # fmt: skip
    watch = []
    if not found["slow"].empty:
        for (store_id, bucket), group, top in _top_per_group(found["slow"], ["store_id", "bucket"]):
            listed = "、".join(product(p) for p in top["product_id"])
            watch.append(item(f"滞销 {bucket}", store_id, f"{len(group)} 个商品，销量较高的有：{listed}"))
    if not found["new"].empty:
        for (store_id,), group, top in _top_per_group(found["new"], ["store_id"]):
            listed = "、".join(f"{product(r.product_id)}（{r.quantity:.0f} 件）" for r in top.itertuples(index=False))
            watch.append(item("新品", store_id, f"近7天首次动销 {len(group)} 个商品：{listed}"))
    highlights = [
        item("热销", r.store_id, f"{product(r.product_id)}：近7天 {r.recent:.0f} 件，前7天 {r.previous:.0f} 件，"
             + ("新上量" if pd.isna(r.growth) else f"增长 {r.growth * 100:.0f}%"))
        for r in found["hot"].itertuples(index=False)
    ] + [
        item("利润贡献", r.store_id, f"{product(r.product_id)}：近7天利润 ¥{r.profit:,.0f}（{r.quantity:.0f} 件）")
        for r in found["profit"].itertuples(index=False)
    ]  # fmt: skip
    return urgent, watch, highlights


def store_health(runtime: Runtime, filters: ViewFilters) -> list[dict]:
    """健康分 of the selected stores, each scored against all stores over the same period (the
    scores of all stores are cached once per period and channels and shared by every selection)."""
    scores = _all_store_health(runtime, replace(filters, store_ids=None))
    if filters.store_ids is None:
        return scores
    wanted = set(filters.store_ids)
    return [row for row in scores if row["store_id"] in wanted]


@cached("diagnosis")
def _all_store_health(runtime: Runtime, filters: ViewFilters) -> list[dict]:
    names = pieces.store_names(runtime)
    totals = pieces.store_totals(runtime, filters.start, filters.end, filters.channels)
    if totals.empty:
        return []
    scores = health_scores(totals)
    return [
        {"store_id": int(r["store_id"]), "store": names.get(int(r["store_id"]), ""), "score": float(r["score"]),
         **{c: float(r[c]) for c in COMPONENTS}, **{f"{c}_score": float(r[f"{c}_score"]) for c in COMPONENTS}}
        for _, r in scores.iterrows()
    ]  # fmt: skip
