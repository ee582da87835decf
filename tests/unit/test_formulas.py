"""Business formulas on hand-built frames (answers worked out by hand in the comments)."""

import pandas as pd
import pytest

from analytics.formulas import distance_band, order_totals, platform_fee
from analytics.ratios import ratio


def lines() -> pd.DataFrame:
    base = {
        "service_fee": 1.0,
        "commission": 2.0,
        "delivery_fee": 5.0,
        "user_delivery_fee": 3.0,
        "delivery_fee_discount": 1.0,
        "full_reduction": 2.0,
        "merchant_voucher": 0.5,
        "merchant_coupon_share": 0.0,
        "gift_amount": 0.0,
        "other_discount": 0.0,
        "new_customer_discount": 1.5,
        "corporate_rebate": 0.4,
    }
    return pd.DataFrame(
        [
            {
                **base,
                "channel": "美团闪购",
                "platform_order_id": "A",
                "received_price": 10.0,
                "quantity": 2,
                "list_price": 12.0,
                "cost": 14.0,
                "profit": 6.0,
                "item_discount": 1.0,
            },
            {
                **base,
                "channel": "美团闪购",
                "platform_order_id": "A",
                "received_price": 3.0,
                "quantity": 1,
                "list_price": None,
                "cost": 1.0,
                "profit": 2.0,
                "item_discount": 0.0,
            },
        ]
    )


def test_formulas001_order_level_fields_counted_once():
    orders = order_totals(lines(), ["channel", "platform_order_id"])
    assert len(orders) == 1
    o = orders.iloc[0]
    assert o["items_revenue"] == pytest.approx(23.0)  # 10×2 + 3×1
    assert o["items_list_amount"] == pytest.approx(27.0)  # 12×2 + (no list price → 3)×1
    assert o["items_profit"] == pytest.approx(8.0)
    assert o["platform_fee"] == pytest.approx(1.0)  # service fee wins over commission
    assert o["actual_profit"] == pytest.approx(8.0 - 1.0 - 5.0 + 0.4)
    assert o["delivery_net_cost"] == pytest.approx(5.0 - (3.0 - 1.0) - 0.4)
    # 1 delivery discount + 2 满减 + 1 item discount + 0.5 voucher + 1.5 new customer
    assert o["marketing_cost"] == pytest.approx(6.0)
    assert not o["platform_fee_zero"]


def test_formulas002_platform_fee_falls_back_to_commission():
    # issue 13 changed the second case: a service fee of 0 no longer hides the commission
    fee = platform_fee(pd.Series([None, 0.0, 2.0]), pd.Series([1.5, 9.0, None]))
    assert fee.tolist() == [1.5, 9.0, 2.0]


def test_formulas005_abnormal_only_when_service_fee_and_commission_are_both_zero_or_blank():
    frame = pd.concat([lines()] * 5, ignore_index=True)
    frame["platform_order_id"] = [o for o in "ABCDE" for _ in range(2)]
    # (平台服务费, 平台佣金) per order
    fees = {"A": (0.0, 2.0), "B": (0.0, 0.0), "C": (None, None), "D": (None, 0.0), "E": (0.0, None)}
    frame["service_fee"] = frame["platform_order_id"].map(lambda o: fees[o][0])
    frame["commission"] = frame["platform_order_id"].map(lambda o: fees[o][1])
    orders = order_totals(frame, ["channel", "platform_order_id"]).set_index("platform_order_id")
    assert orders["platform_fee"].to_dict() == {"A": 2.0, "B": 0.0, "C": 0.0, "D": 0.0, "E": 0.0}
    assert orders["platform_fee_zero"].to_dict() == {"A": False, "B": True, "C": True, "D": True, "E": True}
    # A: Σ利润额 8 − 佣金 2 − 物流配送费 5 + 企客后返 0.4
    assert orders.loc["A", "actual_profit"] == pytest.approx(1.4)


def test_formulas003_distance_bands():
    km = pd.Series([0.0, 0.99, 1.0, 2.5, 5.99, 6.0, 12.0, None])
    assert distance_band(km).tolist() == [0, 0, 1, 2, 5, 6, 6, -1]


def test_formulas004_ratio_guards_zero():
    assert ratio(1, 0) is None and ratio(1, 4) == 0.25
