"""今日必做 rules against the generator's ground truth (100 stores × 90 days, default seed).

The frames are built from the generated lines with the importer's own order roll-up
(analytics.formulas.order_totals) and the abnormal-order exclusion, i.e. what the aggregates
hold. Prints recall and precision per kind. Precision counts a finding as correct when it was
injected or is genuinely true in the data; "genuine" is spelled out per kind below.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics.diagnosis_rules import (
    below_cost,
    confirm_stockouts,
    costly_delivery_orders,
    loss_orders,
    margin_decline,
    slow_movers,
    stockout_hot_skus,
    traffic_drop,
)
from analytics.formulas import order_totals
from config import Settings
from config.rules import RuleSettings
from db.demo_data import DemoSpec, generate_orders
from db.export_format import BY_HEADER, CONSUMABLE_CATEGORY

ORDER_KEY = ["channel", "platform_order_id"]
rules = RuleSettings().todo  # the defaults the dashboard runs with
SLOW = {"min_idle_days": rules.slow_min_idle_days, "min_selling_days": rules.slow_min_selling_days,
        "bucket_days": rules.slow_bucket_days}  # fmt: skip
STOCKOUT = {"top_n": rules.stockout_top_n, "min_zero_days": rules.stockout_min_zero_days,
            "max_zero_days": rules.stockout_max_zero_days, "baseline_days": rules.stockout_baseline_days,
            "alpha": rules.stockout_alpha}  # fmt: skip
COVER = {"baseline_days": rules.stockout_baseline_days, "days_of_cover": rules.stockout_days_of_cover}


@pytest.fixture(scope="module")
def demo():
    lines, truth = generate_orders(DemoSpec())
    lines = lines.rename(columns={h: BY_HEADER[h].name for h in lines.columns})
    lines["ordered_at"] = pd.to_datetime(lines["ordered_at"])
    lines["sku"] = lines["barcode"].astype("string").fillna(lines["product_code"].astype("string")).astype(object)
    orders = order_totals(lines, ORDER_KEY)
    fee_channels = Settings.from_env({}).fee_channels
    orders["abnormal"] = orders["platform_fee_zero"] & orders["channel"].isin(fee_channels)
    orders["day"] = orders["ordered_at"].dt.date
    kept = orders[~orders["abnormal"]]
    store_days = (kept.groupby(["store_code", "day"])
                  .agg(orders=("platform_order_id", "size"), revenue=("items_revenue", "sum"),
                       actual_profit=("actual_profit", "sum")).reset_index()
                  .rename(columns={"store_code": "store_id"}))  # fmt: skip
    items = lines.merge(kept[[*ORDER_KEY, "day"]], on=ORDER_KEY)
    items = items[items["category_l1"] != CONSUMABLE_CATEGORY]
    items["revenue"] = items["received_price"] * items["quantity"]
    product_days = (items.groupby(["store_code", "day", "sku"])[["quantity", "revenue", "cost"]].sum().reset_index()
                    .rename(columns={"store_code": "store_id", "sku": "product_id"}))  # fmt: skip
    as_of = pd.Timestamp(truth["spec"]["end_date"]).date()
    lines["day"] = lines["ordered_at"].dt.date
    return truth, store_days, product_days, as_of, kept, lines


def score(kind: str, found: set, injected: set, genuine: set) -> tuple[float, float]:
    recall = len(found & injected) / len(injected) if injected else 1.0
    precision = len(found & (injected | genuine)) / len(found) if found else 1.0
    strict = len(found & injected) / len(found) if found else 1.0
    print(f"{kind}: injected {len(injected)}, flagged {len(found)}, recall {recall:.1%}, "
          f"precision {precision:.1%} (injected only {strict:.1%})")  # fmt: skip
    return recall, precision


def test_truth001_store_level_rules(demo):
    truth, store_days, _, as_of, _orders, _lines = demo
    found = set(traffic_drop(store_days, as_of, rules.traffic_drop_threshold, days=rules.compare_days)["store_id"])
    recall, precision = score("traffic_drop", found, {t["store_code"] for t in truth["traffic_drop_stores"]}, set())
    assert recall >= 0.9 and precision >= 0.9
    found = set(margin_decline(store_days, as_of, rules.margin_decline_points, days=rules.compare_days)["store_id"])
    injected = {t["store_code"] for t in truth["margin_decline_stores"]}
    recall, precision = score("margin_decline", found, injected, set())
    assert recall >= 0.9 and precision >= 0.9


def test_truth002_sku_level_rules(demo):
    truth, _, product_days, as_of, orders, lines = demo
    # below cost: genuine = revenue < cost over the last 3 days in the data (that is the rule)
    found_df = below_cost(product_days, as_of, rules.below_cost_days)
    found = set(zip(found_df["store_id"], found_df["product_id"], strict=True))
    injected = {(t["store_code"], t["sku"]) for t in truth["below_cost_skus"]}
    recall, precision = score("below_cost", found, injected, set())
    assert recall >= 0.9 and precision >= 0.9

    # slow movers: injected ones must all be found in their bucket. Genuine, counted from the
    # raw lines of the kept orders: a goods SKU that sold on ≥ 3 days and not in the last 3.
    found_df = slow_movers(product_days, as_of, **SLOW)
    found = set(zip(found_df["store_id"], found_df["product_id"], strict=True))
    injected = {(t["store_code"], t["sku"]) for t in truth["slow_movers"]}
    goods = lines.merge(orders[ORDER_KEY], on=ORDER_KEY)
    goods = goods[(goods["category_l1"] != CONSUMABLE_CATEGORY) & (goods["quantity"] > 0)]
    per_sku = goods.groupby(["store_code", "sku"])["day"].agg(["max", "nunique"])
    idle_days = per_sku["max"].map(lambda d: (as_of - d).days)
    genuine = set(per_sku.index[(idle_days >= 3) & (per_sku["nunique"] >= 3)])
    recall, precision = score("slow_movers", found, injected, genuine)
    assert recall >= 0.9 and precision >= 0.9
    idle = found_df.set_index(["store_id", "product_id"])["idle_days"]
    wrong_bucket = [t for t in truth["slow_movers"] if (t["store_code"], t["sku"]) in idle.index
                    and idle[(t["store_code"], t["sku"])] != t["idle_days"]]  # fmt: skip
    assert wrong_bucket == []


def test_truth003_loss_orders_of_the_last_day(demo):
    truth, _, _, as_of, orders, _lines = demo
    today = orders[orders["day"] == as_of]
    found_df = loss_orders(today)
    found = set(zip(found_df["channel"], found_df["platform_order_id"], strict=True))
    day = as_of.isoformat()
    injected = {(t["channel"], t["platform_order_id"]) for t in truth["loss_far_orders"] if t["date"] == day}
    # genuine: every loss-making order the generator reports for the day (natural ones included),
    # except the abnormal zero-fee orders the dashboard leaves out
    genuine = {(t["channel"], t["platform_order_id"]) for t in truth["all_loss_orders"] if t["date"] == day}
    recall, precision = score("loss_orders", found, injected, genuine)
    assert recall >= 0.9 and precision >= 0.9


def test_truth003b_costly_delivery_orders_of_the_last_day(demo):
    truth, _, _, as_of, orders, lines = demo
    found_df = costly_delivery_orders(orders[orders["day"] == as_of], rules.costly_delivery_fee)
    found = set(zip(found_df["channel"], found_df["platform_order_id"], strict=True))
    day = as_of.isoformat()
    # injected: the far loss-making orders carry a 3–6 元 delivery surcharge; those above 6 元
    fee_of = lines.groupby(ORDER_KEY)["delivery_fee"].first()
    injected = {(t["channel"], t["platform_order_id"]) for t in truth["loss_far_orders"]
                if t["date"] == day and fee_of[(t["channel"], t["platform_order_id"])] > 6}  # fmt: skip
    # genuine, from the raw lines: 物流配送费 > 6 and Σ利润额 − 平台服务费(佣金) − 物流配送费 + 企客后返
    # below that fee
    first = lines.groupby(ORDER_KEY)[["service_fee", "commission", "delivery_fee", "corporate_rebate"]].first()
    fee = first["service_fee"].where(first["service_fee"] > 0, first["commission"]).fillna(0)
    rebate = first["corporate_rebate"].fillna(0)
    profit = lines.groupby(ORDER_KEY)["profit"].sum() - fee - first["delivery_fee"] + rebate
    genuine = set(first.index[(first["delivery_fee"] > 6) & (profit < first["delivery_fee"])])
    recall, precision = score("costly_delivery_orders", found, injected, genuine)
    assert injected and recall >= 0.9 and precision >= 0.9


def test_truth004_stockouts_confirmed_by_stock(demo):
    truth, _, product_days, as_of, _orders, lines = demo
    goods = lines[(lines["category_l1"] != CONSUMABLE_CATEGORY) & (lines["quantity"] > 0)]
    latest = goods.sort_values("ordered_at").groupby(["store_code", "sku"]).tail(1)
    last_stock = latest.rename(columns={"store_code": "store_id", "sku": "product_id"})[
        ["store_id", "product_id", "remaining_stock"]]  # fmt: skip
    found_df = confirm_stockouts(stockout_hot_skus(product_days, as_of, **STOCKOUT), last_stock, **COVER)
    found = set(zip(found_df["store_id"], found_df["product_id"], strict=True))
    injected = {(t["store_code"], t["sku"]) for t in truth["stockout_skus"]}
    # genuine: the export itself shows the SKU ran out. Its last sale (all orders, abnormal ones
    # included) was ≥ 2 days before as_of and the 剩余库存 reported with that sale was below its
    # average daily quantity over the 14 days ending with that sale.
    last = latest.set_index(["store_code", "sku"])
    daily = goods.groupby(["store_code", "sku", "day"])["quantity"].sum()
    genuine = set()
    for store, sku in found:
        row = last.loc[(store, sku)]
        sold = daily.loc[(store, sku)]
        window = sold[(sold.index <= row["day"]) & (sold.index > row["day"] - dt.timedelta(days=14))]
        if (as_of - row["day"]).days >= 2 and row["remaining_stock"] < window.sum() / 14:
            genuine.add((store, sku))
    recall, precision = score("stockout_hot_skus", found, injected, genuine)
    assert recall >= 0.9 and precision >= 0.9


def _raw_order_profit(lines: pd.DataFrame) -> pd.Series:
    """实际利润 per order from the raw lines: Σ利润额 − platform fee (平台服务费 when > 0, else
    平台佣金) − 物流配送费 + 企客后返."""
    first = lines.groupby(ORDER_KEY)[["service_fee", "commission", "delivery_fee", "corporate_rebate"]].first()
    platform_fee = first["service_fee"].where(first["service_fee"] > 0, first["commission"]).fillna(0)
    return (lines.groupby(ORDER_KEY)["profit"].sum() - platform_fee - first["delivery_fee"].fillna(0)
            + first["corporate_rebate"].fillna(0))  # fmt: skip


def test_truth005_urgent_items_carry_money_lost_or_at_risk(demo):
    """🔴 紧急 as the service builds it (order_findings, below_cost, confirmed stock-outs, then
    is_urgent): each item's money is recomputed from the raw lines of the kept orders, never
    taken from the rule's output, and must reach the threshold for ≥ 90 % of the items; the
    injected problems are all still listed (at some level)."""
    from analytics.diagnosis_rules import is_urgent, order_findings

    truth, _, product_days, as_of, orders, lines = demo
    threshold = rules.urgent_min_amount
    kept_lines = lines.merge(orders[ORDER_KEY], on=ORDER_KEY)
    goods = kept_lines[(kept_lines["category_l1"] != CONSUMABLE_CATEGORY) & (kept_lines["quantity"] > 0)]
    goods = goods.assign(received=goods["received_price"] * goods["quantity"])

    # the findings, all levels
    by_order = order_findings(orders[orders["day"] == as_of], rules.costly_delivery_fee)
    cheap = below_cost(product_days, as_of, rules.below_cost_days)
    latest = lines[(lines["category_l1"] != CONSUMABLE_CATEGORY) & (lines["quantity"] > 0)]
    latest = latest.sort_values("ordered_at").groupby(["store_code", "sku"]).tail(1)
    last_stock = latest.rename(columns={"store_code": "store_id", "sku": "product_id"})[
        ["store_id", "product_id", "remaining_stock"]]  # fmt: skip
    stockouts = confirm_stockouts(stockout_hot_skus(product_days, as_of, **STOCKOUT), last_stock,
                                  **COVER)  # fmt: skip
    findings = {**by_order, "below_cost": cheap, "stockout": stockouts}

    # money from the raw lines
    order_loss = -_raw_order_profit(kept_lines)
    window = goods[goods["day"] > as_of - dt.timedelta(days=rules.below_cost_days)]
    per_sku = window.groupby(["store_code", "sku"])[["cost", "received"]].sum()
    sku_loss = per_sku["cost"] - per_sku["received"]
    daily = goods.groupby(["store_code", "sku", "day"])[["quantity", "received"]].sum()
    stock_at_last = latest.set_index(["store_code", "sku"])["remaining_stock"]

    def lost_sales(store, sku) -> float:
        """Sales lost since the last sale at the 14 days' pace before it; 0 unless the export
        shows the SKU ran out (剩余库存 at the last sale below a day of that pace)."""
        sold = daily.loc[(store, sku)]
        last = max(sold.index)
        before = sold[sold.index > last - dt.timedelta(days=14)]
        if stock_at_last[(store, sku)] >= before["quantity"].sum() / 14:
            return 0.0
        return before["received"].sum() / 14 * (as_of - last).days

    def money(kind: str, row) -> float:
        if kind in ("loss_orders", "costly_delivery"):
            return float(order_loss[(row.channel, row.platform_order_id)])
        if kind == "below_cost":
            return float(sku_loss.get((row.store_id, row.product_id), 0.0))
        return lost_sales(row.store_id, row.product_id)

    urgent = {kind: found[is_urgent(found, threshold)] for kind, found in findings.items()}
    carried = [money(kind, row) >= threshold for kind, found in urgent.items() for row in found.itertuples()]
    share = sum(carried) / len(carried)
    before = [money(kind, row) >= threshold for kind, found in findings.items() for row in found.itertuples()]
    print(f"urgent items: {len(carried)} ({', '.join(f'{k} {len(f)}' for k, f in urgent.items())}); "
          f"{share:.1%} carry ≥ ¥{threshold:.0f} lost or at risk, recomputed from the raw lines "
          f"(every finding urgent, as before: {len(before)} items, {sum(before) / len(before):.1%})")  # fmt: skip
    assert len(carried) >= 10 and share >= 0.9

    day = as_of.isoformat()
    listed_orders = {key for k in ("loss_orders", "costly_delivery")
                     for key in zip(findings[k]["channel"], findings[k]["platform_order_id"], strict=True)}  # fmt: skip
    injected = {(t["channel"], t["platform_order_id"]) for t in truth["loss_far_orders"] if t["date"] == day}
    recalls = {"loss orders": len(listed_orders & injected) / len(injected)}
    for kind, key in (("below_cost", "below_cost_skus"), ("stockout", "stockout_skus")):
        found = set(zip(findings[kind]["store_id"], findings[kind]["product_id"], strict=True))
        wanted = {(t["store_code"], t["sku"]) for t in truth[key]}
        recalls[kind] = len(found & wanted) / len(wanted)
    print("injected problems listed in 今日必做: " + ", ".join(f"{k} {v:.0%}" for k, v in recalls.items()))
    assert injected and min(recalls.values()) >= 0.9


def test_truth006_hot_skus_have_a_base_volume(demo):
    """🟢 热销 never rests on a handful of units: the week before sold ≥ HOT_MIN_BASE_UNITS,
    counted from the raw lines."""
    from analytics.diagnosis_rules import hot_skus

    _, _, product_days, as_of, orders, lines = demo
    hot = hot_skus(product_days, as_of, growth=rules.hot_growth, min_units=rules.hot_min_units,
                   min_base=rules.hot_min_base_units, days=rules.compare_days)  # fmt: skip
    goods = lines.merge(orders[ORDER_KEY], on=ORDER_KEY)
    goods = goods[goods["category_l1"] != CONSUMABLE_CATEGORY]
    week_before = goods[(goods["day"] <= as_of - dt.timedelta(days=7)) & (goods["day"] > as_of - dt.timedelta(days=14))]
    base = week_before.groupby(["store_code", "sku"])["quantity"].sum()
    bases = [base.get((r.store_id, r.product_id), 0) for r in hot.itertuples()]
    print(f"hot_skus: {len(hot)} flagged, smallest base week {min(bases):.0f} units")
    assert len(hot) and min(bases) >= rules.hot_min_base_units
