"""今日必做, 健康分 and the daily trend of the diagnosis page."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd

from analytics.diagnosis_rules import (
    below_cost,
    confirm_stockouts,
    hot_skus,
    is_urgent,
    margin_decline,
    new_skus,
    order_findings,
    slow_movers,
    stockout_hot_skus,
    top_profit_skus,
    traffic_drop,
)
from analytics.health import COMPONENTS, health_scores
from cache import cached
from config.rules import TodoRules
from db import queries
from db.engine import reading
from readmodel import totals
from readmodel.selection import Selection
from services.runtime import Runtime
from services.tables import records


@cached("timeseries")
def daily_trend(runtime: Runtime, filters: Selection) -> list[dict]:
    """Per day: orders, 实收, 实际利润 (abnormal orders excluded)."""
    frame = totals.daily_totals(runtime.tables, filters)
    return [
        {"day": r.day.isoformat(), "orders": r.orders, "revenue": r.revenue, "actual_profit": r.actual_profit}
        for r in frame.itertuples(index=False)
    ]


def todo_list(runtime: Runtime, filters: Selection) -> dict:
    """🔴 紧急 / 🟡 关注 / 🟢 亮点 for the last day of the selected range: per level, one group per
    rule (count, total amount, the items with the largest amounts first), each item naming what
    it is about (store, order or SKU) and its evidence. They depend on that day only (each rule
    reads its own history before it), so they are cached per last day, stores and channels:
    every window ending that day shares them. Thresholds: ``runtime.settings.rules.todo`` (part
    of every cache key: ``RuleSettings.fingerprint``)."""
    return _todo_groups(runtime, replace(filters, start=filters.end))


# rule → the columns kept as an item's evidence (the page words them); "amount" is the money
# the item lost, puts at risk or (亮点) earned, "—" when the rule has none
FACTS = {
    "loss_orders": ("actual_profit", "delivery_fee", "items_revenue"),
    "costly_delivery": ("actual_profit", "delivery_fee", "items_revenue"),
    "traffic_drop": ("orders_recent", "orders_previous", "drop_ratio"),
    "margin_decline": ("previous_margin", "recent_margin", "decline"),
    "below_cost": ("unit_price", "unit_cost", "quantity"),
    "stockout": ("zero_days", "rank", "baseline_quantity", "remaining_stock"),
    "slow": ("idle_days", "bucket", "selling_days", "last_sale"),
    "new": ("first_sale", "quantity"),
    "hot": ("recent", "previous", "growth"),
    "top_profit": ("profit", "quantity"),
}
LEVELS = ("urgent", "watch", "highlights")
KEY_NAMES = {"id": "order_id"}  # the order's row id, which its detail view takes


@cached("diagnosis")
def _todo_groups(runtime: Runtime, filters: Selection) -> dict:
    as_of = filters.end
    rules = runtime.settings.rules.todo
    sku_rules = filters.store_ids is not None and len(filters.store_ids) <= rules.sku_rules_max_stores
    compared = filters.window(as_of - dt.timedelta(days=2 * rules.compare_days - 1), as_of)
    store_days = totals.daily_totals(runtime.tables, compared, by_store=True)
    today = totals.rule_orders(runtime.tables, filters, rules.costly_delivery_fee)
    groups: list[dict] = []
    # one order for the rows whatever the table's order: equal losses keep this order
    today = today.sort_values(["store_id", "platform_order_id", "channel"], kind="stable")
    money_rules = order_findings(today, rules.costly_delivery_fee)
    drops = traffic_drop(store_days, as_of, rules.traffic_drop_threshold, days=rules.compare_days)
    groups.append(_group("traffic_drop", "watch", drops.assign(amount=drops["revenue_lost"]), rules))
    declines = margin_decline(store_days, as_of, rules.margin_decline_points, days=rules.compare_days)
    groups.append(_group("margin_decline", "watch", declines.assign(amount=declines["profit_lost"]), rules))
    if sku_rules:
        history = filters.window(as_of - dt.timedelta(days=rules.sku_history_days - 1), as_of)
        product_days = totals.product_days(runtime.tables, history)
        if len(product_days):
            found = _sku_findings(product_days, as_of, rules)
            with reading(runtime.engine) as conn:
                money_rules["stockout"] = _confirmed_stockouts(conn, found.pop("stockout"), as_of, rules)
            money_rules["below_cost"] = found.pop("below_cost")
            groups += [_group(rule, level, frame, rules) for rule, (level, frame) in found.items()]
    for rule, found in money_rules.items():
        urgent = is_urgent(found, rules.urgent_min_amount)
        found = found.assign(amount=found["at_risk"].where(found["at_risk"] > 0))
        groups += [_group(rule, "urgent", found[urgent], rules), _group(rule, "watch", found[~urgent], rules)]
    groups = [g for g in groups if g is not None]
    _name_objects(runtime, groups)
    ranked = sorted(groups, key=lambda g: g["amount"] is None)  # stable: then by total, largest first
    ranked = sorted(ranked, key=lambda g: -(g["amount"] or 0.0))
    return {"as_of": as_of.isoformat(), "sku_rules": sku_rules,
            **{level: [g for g in ranked if g["level"] == level] for level in LEVELS}}  # fmt: skip


def _group(rule: str, level: str, found: pd.DataFrame, rules: TodoRules) -> dict | None:
    """One rule's findings at one level: the count and total amount of all of them, and the
    first ``rules.max_items_per_rule`` by amount (the rule's own order among equal or no amounts)."""
    if found.empty:
        return None
    found = found.sort_values("amount", ascending=False, kind="stable", na_position="last")
    listed = found.head(rules.max_items_per_rule)
    keys = [c for c in ("store_id", "product_id", "id", "channel", "platform_order_id") if c in listed]
    items = [
        {"rule": rule, "level": level, **{KEY_NAMES.get(k, k): row[k] for k in keys}, "amount": row["amount"],
         "facts": {f: row[f] for f in FACTS[rule]}}
        for row in records(listed[[*keys, "amount", *FACTS[rule]]])
    ]  # fmt: skip
    total = found["amount"].sum(min_count=1)
    return {"rule": rule, "level": level, "count": len(found), "amount": None if pd.isna(total) else float(total),
            "items": items}  # fmt: skip


def _name_objects(runtime: Runtime, groups: list[dict]) -> None:
    """Give every item its store name and ``object``: the order id, the SKU's name or the store."""
    stores = totals.store_names(runtime.tables)
    skus = [i["product_id"] for g in groups for i in g["items"] if "product_id" in i]
    products = totals.product_names(runtime.tables, skus)
    for item in (i for g in groups for i in g["items"]):
        item["store"] = stores.get(int(item["store_id"]), str(item["store_id"]))
        if "order_id" in item:
            item["kind"], item["object"] = "order", str(item["platform_order_id"])
        elif "product_id" in item:
            item["kind"] = "sku"
            item["object"] = products.get(int(item["product_id"]), str(item["product_id"]))
        else:
            item["kind"], item["object"] = "store", item["store"]


def _sku_findings(product_days, as_of: dt.date, rules: TodoRules) -> dict:
    """Every SKU rule's findings: the money rules' frames, and (level, frame with ``amount``)
    for the others."""
    idle = slow_movers(product_days, as_of, min_idle_days=rules.slow_min_idle_days,
                       min_selling_days=rules.slow_min_selling_days, bucket_days=rules.slow_bucket_days)  # fmt: skip
    sold = product_days.groupby(["store_id", "product_id"])["quantity"].sum().rename("sold")
    slow = idle.join(sold, on=["store_id", "product_id"]).sort_values("sold", ascending=False, kind="stable")
    hot = hot_skus(product_days, as_of, growth=rules.hot_growth, min_units=rules.hot_min_units,
                   min_base=rules.hot_min_base_units, days=rules.compare_days)  # fmt: skip
    profit = top_profit_skus(product_days, as_of, rules.top_profit_skus, days=rules.compare_days)
    stockout = stockout_hot_skus(product_days, as_of, top_n=rules.stockout_top_n,
                                 min_zero_days=rules.stockout_min_zero_days, max_zero_days=rules.stockout_max_zero_days,
                                 baseline_days=rules.stockout_baseline_days, alpha=rules.stockout_alpha)  # fmt: skip
    return {
        "below_cost": below_cost(product_days, as_of, rules.below_cost_days),
        "stockout": stockout,  # confirmed by stock in the caller
        "slow": ("watch", slow.assign(amount=float("nan"))),
        "new": ("watch", new_skus(product_days, as_of, rules.new_sku_days).assign(amount=float("nan"))),
        "hot": ("highlights", hot.assign(amount=float("nan"))),
        "top_profit": ("highlights", profit.assign(amount=profit["profit"])),
    }


def _confirmed_stockouts(conn, candidates: pd.DataFrame, as_of: dt.date, rules: TodoRules) -> pd.DataFrame:
    """热销缺货 candidates whose last reported 剩余库存 does not contradict a stock-out."""
    if candidates.empty:
        return candidates.assign(remaining_stock=pd.Series(dtype=float))
    pairs = list(zip(candidates["store_id"], candidates["product_id"], strict=True))
    since = as_of - dt.timedelta(days=int(candidates["zero_days"].max()))  # the earliest last sale
    stock = queries.last_stock(conn, pairs, since, as_of)
    return confirm_stockouts(candidates, stock, baseline_days=rules.stockout_baseline_days,
                             days_of_cover=rules.stockout_days_of_cover)  # fmt: skip


def store_health(runtime: Runtime, filters: Selection) -> list[dict]:
    """健康分 of the selected stores, each scored against all stores over the same period (the
    scores of all stores are cached once per period and channels and shared by every selection)."""
    scores = _all_store_health(runtime, replace(filters, store_ids=None))
    if filters.store_ids is None:
        return scores
    wanted = set(filters.store_ids)
    return [row for row in scores if row["store_id"] in wanted]


@cached("diagnosis")
def _all_store_health(runtime: Runtime, filters: Selection) -> list[dict]:
    names = totals.store_names(runtime.tables)
    sums = totals.store_totals(runtime.tables, filters)
    if sums.empty:
        return []
    scores = health_scores(sums, runtime.settings.rules.health)
    return [
        {"store_id": int(r["store_id"]), "store": names.get(int(r["store_id"]), ""), "score": float(r["score"]),
         **{c: float(r[c]) for c in COMPONENTS}, **{f"{c}_score": float(r[f"{c}_score"]) for c in COMPONENTS}}
        for _, r in scores.iterrows()
    ]  # fmt: skip
