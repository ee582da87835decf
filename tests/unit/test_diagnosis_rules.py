"""今日必做 rules on hand-built frames (answers worked out by hand in the comments)."""

import datetime as dt

import pandas as pd
import pytest

from analytics.diagnosis_rules import (
    below_cost,
    confirm_stockouts,
    margin_decline,
    slow_movers,
    stockout_hot_skus,
    traffic_drop,
)
from config.rules import RuleSettings

AS_OF = dt.date(2026, 11, 27)
RULES = RuleSettings().todo  # the defaults; each test names the thresholds it varies
WEEK = RULES.compare_days
SLOW = {"min_idle_days": RULES.slow_min_idle_days, "min_selling_days": RULES.slow_min_selling_days,
        "bucket_days": RULES.slow_bucket_days}  # fmt: skip
STOCKOUT = {"top_n": 2, "min_zero_days": 2, "max_zero_days": RULES.stockout_max_zero_days,
            "baseline_days": RULES.stockout_baseline_days, "alpha": RULES.stockout_alpha}  # fmt: skip
COVER = {"baseline_days": RULES.stockout_baseline_days, "days_of_cover": RULES.stockout_days_of_cover}


def day(offset: int) -> dt.date:
    return AS_OF - dt.timedelta(days=offset)


def store_days() -> pd.DataFrame:
    rows = []
    for offset in range(14):
        recent = offset < 7
        # store 1: 10 orders/day before, 6 after (−40 %); margin 20 % → 20 %
        rows.append(
            {
                "store_id": 1,
                "day": day(offset),
                "orders": 6 if recent else 10,
                "revenue": 600.0 if recent else 1000.0,
                "actual_profit": 120.0 if recent else 200.0,
            }
        )
        # store 2: steady orders; margin 20 % → 5 % (−15 points)
        rows.append(
            {
                "store_id": 2,
                "day": day(offset),
                "orders": 10,
                "revenue": 1000.0,
                "actual_profit": 50.0 if recent else 200.0,
            }
        )
    return pd.DataFrame(rows)


def test_rules001_traffic_drop():
    found = traffic_drop(store_days(), AS_OF, threshold=0.3, days=WEEK)
    assert found["store_id"].tolist() == [1]
    assert found["drop_ratio"].iloc[0] == pytest.approx(0.4)  # 42 vs 70 orders
    assert traffic_drop(store_days(), AS_OF, threshold=0.5, days=WEEK).empty


def test_rules002_margin_decline():
    found = margin_decline(store_days(), AS_OF, points=0.10, days=WEEK)
    assert found["store_id"].tolist() == [2]
    assert found["decline"].iloc[0] == pytest.approx(0.15)


def product_days() -> pd.DataFrame:
    rows = []
    for offset in range(30):
        # product 10: best seller, 5/day, nothing in the last 3 days → stock-out
        if offset >= 3:
            rows.append(
                {"store_id": 1, "day": day(offset), "product_id": 10, "quantity": 5.0, "revenue": 50.0, "cost": 30.0}
            )
        # product 11: sells 1/day until 8 days ago → slow mover (idle 8 days), not a top seller gap
        if offset >= 8:
            rows.append(
                {"store_id": 1, "day": day(offset), "product_id": 11, "quantity": 1.0, "revenue": 10.0, "cost": 6.0}
            )
        # product 12: sells daily, but below cost in the last 2 days (9 < 12)
        rows.append(
            {
                "store_id": 1,
                "day": day(offset),
                "product_id": 12,
                "quantity": 3.0,
                "revenue": 9.0 if offset < 2 else 30.0,
                "cost": 12.0,
            }
        )
    return pd.DataFrame(rows)


def test_rules003_slow_movers_and_buckets():
    found = slow_movers(product_days(), AS_OF, **SLOW)
    by_product = found.set_index("product_id")
    assert set(by_product.index) == {10, 11}  # idle 3 and 8 days
    assert by_product.at[11, "idle_days"] == 8 and by_product.at[11, "bucket"] == "7-14天"
    assert by_product.at[10, "bucket"] == "3-6天"


def test_rules004_stockout_of_a_hot_sku():
    found = stockout_hot_skus(product_days(), AS_OF, **STOCKOUT)
    assert found["product_id"].tolist() == [10]
    assert found["zero_days"].iloc[0] == 3 and found["rank"].iloc[0] == 1


def test_rules004b_stockout_confirmed_by_remaining_stock():
    # product 10 sold 5/day over the 14-day baseline (70 units): one day of cover is 5 units
    candidates = stockout_hot_skus(product_days(), AS_OF, **STOCKOUT)
    assert candidates["baseline_quantity"].iloc[0] == 70

    def confirmed(remaining):
        stock = pd.DataFrame({"store_id": [1], "product_id": [10], "remaining_stock": [remaining]})
        return confirm_stockouts(candidates, stock, **COVER)

    assert confirmed(0.0)["remaining_stock"].tolist() == [0.0]  # sold out: kept, stock as evidence
    assert len(confirmed(4.0)) == 1  # less than a day of sales left
    assert confirmed(5.0).empty  # a full day of stock left: silent, not out of stock
    no_columns = pd.DataFrame(columns=["store_id", "product_id", "remaining_stock"])
    unknown = confirm_stockouts(candidates, no_columns, **COVER)
    assert len(unknown) == 1 and unknown["remaining_stock"].isna().all()  # no stock data: sales evidence only


def test_rules005_below_cost():
    # last 2 days of product 12: revenue 9 + 9 = 18 for 6 units, cost 24 → unit 3.00 < 4.00
    found = below_cost(product_days(), AS_OF, days=2)
    assert found["product_id"].tolist() == [12]
    assert found.iloc[0]["unit_price"] == pytest.approx(3.0) and found.iloc[0]["unit_cost"] == pytest.approx(4.0)
    # over 3 days the day before (30 for 3 units) lifts it above cost: 48 > 36, nothing flagged
    assert below_cost(product_days(), AS_OF, days=3).empty


def test_rules006_hot_and_top_profit_skus():
    from analytics.diagnosis_rules import hot_skus, top_profit_skus

    rows = []
    for offset in range(14):
        recent = offset < 7
        # product 20: 1/day before, 3/day now → 21 vs 7 units (+200 %), hot
        rows.append({"store_id": 1, "day": day(offset), "product_id": 20, "quantity": 3.0 if recent else 1.0,
                     "revenue": 0.0, "cost": 0.0, "profit": 6.0 if recent else 2.0})
        # product 21: 1/day now from 0 before → 7 units: below the 10-unit floor
        if recent:
            rows.append({"store_id": 1, "day": day(offset), "product_id": 21, "quantity": 1.0,
                         "revenue": 0.0, "cost": 0.0, "profit": 10.0})
        # product 22: steady 5/day → no growth; profit 1/day
        rows.append({"store_id": 1, "day": day(offset), "product_id": 22, "quantity": 5.0,
                     "revenue": 0.0, "cost": 0.0, "profit": 1.0})
    frame = pd.DataFrame(rows)
    hot = hot_skus(frame, AS_OF, growth=0.5, min_units=10, min_base=5, days=WEEK)
    assert hot["product_id"].tolist() == [20] and hot["growth"].iloc[0] == pytest.approx(2.0)
    top = top_profit_skus(frame, AS_OF, top_n=2, days=WEEK)
    # last 7 days: product 21 → 70, product 20 → 42, product 22 → 7
    assert top["product_id"].tolist() == [21, 20] and top["profit"].tolist() == [70.0, 42.0]


def test_rules007_order_rules():
    from analytics.diagnosis_rules import costly_delivery_orders, loss_orders

    orders = pd.DataFrame({
        "platform_order_id": ["a", "b", "c", "d"],
        "actual_profit": [-3.0, 5.0, 12.0, -0.5],
        "delivery_fee": [8.0, 7.0, 7.0, 4.0],
    })  # fmt: skip
    assert loss_orders(orders)["platform_order_id"].tolist() == ["a", "d"]  # worst first
    # a: 8 > 6 and −3 < 8; b: 7 > 6 and 5 < 7; c: profit 12 ≥ 7; d: fee 4 ≤ 6
    assert costly_delivery_orders(orders, 6.0)["platform_order_id"].tolist() == ["a", "b"]


def test_rules008_new_skus():
    from analytics.diagnosis_rules import new_skus

    rows = [{"store_id": 1, "day": day(o), "product_id": 30, "quantity": 1.0, "revenue": 0.0, "cost": 0.0}
            for o in range(20)]  # sold all along
    rows += [{"store_id": 1, "day": day(o), "product_id": 31, "quantity": 2.0, "revenue": 0.0, "cost": 0.0}
             for o in range(3)]  # first sold 2 days ago
    frame = pd.DataFrame(rows)
    found = new_skus(frame, AS_OF, WEEK)
    assert found["product_id"].tolist() == [31] and found["quantity"].iloc[0] == 6.0
    assert new_skus(frame[frame["day"] > day(10)], AS_OF, WEEK).empty  # only 10 days of data: too short to tell


def test_rules009_sku_rules_on_empty_and_string_keyed_frames():
    """A store with no sales gives empty findings with their columns; keys need not be integers
    (the ground-truth test keys by store code and SKU) and the dates come back as dates."""
    from analytics.diagnosis_rules import new_skus

    empty = product_days().iloc[0:0]
    assert slow_movers(empty, AS_OF, **SLOW).empty and "bucket" in slow_movers(empty, AS_OF, **SLOW).columns
    assert new_skus(empty, AS_OF, WEEK).empty
    coded = product_days().assign(store_id="S001", product_id=lambda f: "SKU" + f["product_id"].astype(str))
    found = slow_movers(coded, AS_OF, **SLOW).set_index("product_id")
    assert set(found.index) == {"SKU10", "SKU11"} and set(found["store_id"]) == {"S001"}
    assert found.at["SKU11", "last_sale"] == day(8)


def test_rules010_hot_skus_need_a_base_volume():
    """No growth rate on a handful of units: 1 → 19 units is not "+1800 %" 热销."""
    from analytics.diagnosis_rules import hot_skus

    rows = []
    for offset in range(14):
        recent = offset < 7
        # product 40: 1 unit in the week before (one day), 19 in the last 7 days
        if recent or offset == 7:
            rows.append({"store_id": 1, "day": day(offset), "product_id": 40,
                         "quantity": (3.0 if offset < 6 else 1.0) if recent else 1.0})  # 6 × 3 + 1 = 19
        # product 41: 2/day before (14 units), 4/day now (28): +100 % on a real base
        rows.append({"store_id": 1, "day": day(offset), "product_id": 41, "quantity": 4.0 if recent else 2.0})
    frame = pd.DataFrame(rows).assign(revenue=0.0, cost=0.0)
    settings = {"growth": RULES.hot_growth, "min_units": RULES.hot_min_units, "days": WEEK}
    assert RULES.hot_min_base_units > 1  # the configured base rules out a 1-unit week
    hot = hot_skus(frame, AS_OF, **settings, min_base=RULES.hot_min_base_units)
    assert hot["product_id"].tolist() == [41] and hot["growth"].iloc[0] == pytest.approx(1.0)
    anything = hot_skus(frame, AS_OF, **settings, min_base=1)  # the old behaviour: 19 vs 1 unit
    assert anything.set_index("product_id").at[40, "growth"] == pytest.approx(18.0)


def test_rules011_urgent_only_for_money_lost_above_the_threshold():
    """Order rules: each order named once, 紧急 only when its loss reaches the threshold."""
    from analytics.diagnosis_rules import is_urgent, order_findings

    orders = pd.DataFrame({
        "channel": ["美团"] * 5,
        "platform_order_id": ["a", "b", "c", "d", "e"],
        "actual_profit": [-15.0, 1.63, -12.0, -2.0, -4.0],
        "delivery_fee": [8.0, 7.0, 3.0, 4.0, 9.0],
    })  # fmt: skip
    found = order_findings(orders, fee_floor=6.0)
    # 高配送成本 (fee > 6, profit < fee), highest fee first: e (9), a (8), b (7); the loss orders
    # a and e are listed there, so 穿底订单 keeps c and d, worst first
    costly, loss = found["costly_delivery"], found["loss_orders"]
    assert costly["platform_order_id"].tolist() == ["e", "a", "b"]
    assert costly["at_risk"].tolist() == [4.0, 15.0, 0.0]  # b made a profit (+1.63): nothing lost
    assert loss["platform_order_id"].tolist() == ["c", "d"] and loss["at_risk"].tolist() == [12.0, 2.0]
    assert costly[is_urgent(costly, 10.0)]["platform_order_id"].tolist() == ["a"]
    assert loss[is_urgent(loss, 10.0)]["platform_order_id"].tolist() == ["c"]
    assert costly[is_urgent(costly, 20.0)].empty  # a larger threshold: all of them are 关注
    empty = order_findings(orders.iloc[0:0], fee_floor=6.0)
    assert empty["loss_orders"].empty and empty["costly_delivery"].empty


def test_rules012_money_at_risk_of_the_sku_rules():
    # below cost over 2 days: cost 24 − revenue 18 = 6 元 lost
    found = below_cost(product_days(), AS_OF, days=2)
    assert found["at_risk"].tolist() == [pytest.approx(6.0)]
    # product 10 sold 5 units (50 元) a day over the 14-day baseline, silent for 3 days:
    # 700 / 14 × 3 = 150 元 of sales lost
    stockout = stockout_hot_skus(product_days(), AS_OF, **STOCKOUT)
    assert stockout["baseline_revenue"].tolist() == [700.0] and stockout["at_risk"].tolist() == [150.0]
