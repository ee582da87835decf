"""今日必做 rules against the generator's ground truth (100 stores × 90 days, default seed).

The frames are built from the generated lines with the importer's own order roll-up
(analytics.formulas.order_totals) and the abnormal-order exclusion, i.e. what the aggregates
hold. Prints recall and precision per kind. Precision counts a finding as correct when it was
injected or is genuinely true in the data; "genuine" is spelled out per kind below.

Not covered yet: hot-SKU stock-outs (analytics.diagnosis_rules.stockout_hot_skus finds every
injected one, but also 20–70 chance gaps of best sellers in the generated data: its precision
is not good enough to assert here; issue 5 stays open for it).
"""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.diagnosis_rules import below_cost, loss_orders, margin_decline, slow_movers, traffic_drop
from analytics.formulas import order_totals
from config import Settings
from db.demo_data import DemoSpec, generate_orders
from db.export_format import BY_HEADER, CONSUMABLE_CATEGORY

ORDER_KEY = ["channel", "platform_order_id"]


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
    return truth, store_days, product_days, as_of, kept


def score(kind: str, found: set, injected: set, genuine: set) -> tuple[float, float]:
    recall = len(found & injected) / len(injected) if injected else 1.0
    precision = len(found & (injected | genuine)) / len(found) if found else 1.0
    strict = len(found & injected) / len(found) if found else 1.0
    print(f"{kind}: injected {len(injected)}, flagged {len(found)}, recall {recall:.1%}, "
          f"precision {precision:.1%} (injected only {strict:.1%})")  # fmt: skip
    return recall, precision


def test_truth001_store_level_rules(demo):
    truth, store_days, _, as_of, _orders = demo
    found = set(traffic_drop(store_days, as_of)["store_id"])
    recall, precision = score("traffic_drop", found, {t["store_code"] for t in truth["traffic_drop_stores"]}, set())
    assert recall >= 0.9 and precision >= 0.9
    found = set(margin_decline(store_days, as_of)["store_id"])
    injected = {t["store_code"] for t in truth["margin_decline_stores"]}
    recall, precision = score("margin_decline", found, injected, set())
    assert recall >= 0.9 and precision >= 0.9


def test_truth002_sku_level_rules(demo):
    truth, _, product_days, as_of, _orders = demo
    # below cost: genuine = revenue < cost over the last 3 days in the data (that is the rule)
    found_df = below_cost(product_days, as_of)
    found = set(zip(found_df["store_id"], found_df["product_id"], strict=True))
    injected = {(t["store_code"], t["sku"]) for t in truth["below_cost_skus"]}
    recall, precision = score("below_cost", found, injected, set())
    assert recall >= 0.9 and precision >= 0.9

    # slow movers: injected ones must all be found in their bucket; other idle SKUs are genuine
    found_df = slow_movers(product_days, as_of)
    found = set(zip(found_df["store_id"], found_df["product_id"], strict=True))
    injected = {(t["store_code"], t["sku"]) for t in truth["slow_movers"]}
    recall, _ = score("slow_movers", found, injected, found)
    assert recall >= 0.9
    idle = found_df.set_index(["store_id", "product_id"])["idle_days"]
    wrong_bucket = [t for t in truth["slow_movers"] if (t["store_code"], t["sku"]) in idle.index
                    and idle[(t["store_code"], t["sku"])] != t["idle_days"]]  # fmt: skip
    assert wrong_bucket == []


def test_truth003_loss_orders_of_the_last_day(demo):
    truth, _, _, as_of, orders = demo
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
