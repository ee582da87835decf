"""Business formulas on pandas objects (docs/METRICS.md is the glossary).

Order-level fields are taken once per order and item-level fields summed over the order's
lines, so nothing is counted twice. Pure pandas: no Dash, no SQL.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MARKETING_COLUMNS = (
    "delivery_fee_discount",
    "full_reduction",
    "items_discount",
    "merchant_voucher",
    "merchant_coupon_share",
    "gift_amount",
    "other_discount",
    "new_customer_discount",
)

DISTANCE_BAND_EDGES_KM = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)

# Money is stored with two decimals: below half a cent a fee is stored as 0.00, so it counts as
# absent for the platform-fee rule and as zero for 异常订单 alike.
HALF_CENT = 0.005


def line_revenue(received_price: pd.Series, quantity: pd.Series) -> pd.Series:
    """实收 of a line = 实收价格 × 月售."""
    return received_price * quantity


def platform_fee(service_fee: pd.Series, commission: pd.Series) -> pd.Series:
    """平台服务费 where it is > 0, otherwise 平台佣金; 0 when both are 0 or blank.

    Some exports fill 平台服务费 with 0 and charge the fee as 佣金: taking the 0 would make a
    normal order look fee-less (异常) and drop it from every KPI."""
    return service_fee.where(service_fee >= HALF_CENT, commission).fillna(0.0)


def fee_is_zero(platform_fee: pd.Series) -> pd.Series:
    """零服务费: neither 平台服务费 nor 平台佣金 charged (异常订单 on a fee channel)."""
    return platform_fee.abs() < HALF_CENT


def marketing_cost(orders: pd.DataFrame) -> pd.Series:
    """营销成本 = 配送费减免 + 满减 + 商品减免 + 代金券 + 商家承担券 + 满赠 + 其他优惠 + 新客减免."""
    return orders[list(MARKETING_COLUMNS)].fillna(0.0).sum(axis=1)


def delivery_net_cost(orders: pd.DataFrame) -> pd.Series:
    """配送净成本 = 物流配送费 − (用户支付配送费 − 配送费减免金额) − 企客后返."""
    return (
        orders["delivery_fee"]
        - (orders["user_delivery_fee"] - orders["delivery_fee_discount"])
        - orders["corporate_rebate"]
    )


def actual_profit(orders: pd.DataFrame) -> pd.Series:
    """订单实际利润 = Σ利润额 − 平台服务费(或佣金) − 物流配送费 + 企客后返."""
    return orders["items_profit"] - orders["platform_fee"] - orders["delivery_fee"] + orders["corporate_rebate"]


def distance_band(distance_km: pd.Series) -> pd.Series:
    """0 for [0,1) km … 5 for [5,6), 6 for ≥6 km, -1 when unknown."""
    km = pd.to_numeric(distance_km, errors="coerce").to_numpy(dtype=float)
    bands = np.searchsorted(np.asarray(DISTANCE_BAND_EDGES_KM), km, side="right")
    bands = np.where(np.isnan(km), -1, bands)
    return pd.Series(bands.astype("int16"), index=distance_km.index)


def order_totals(lines: pd.DataFrame, order_key: list[str]) -> pd.DataFrame:
    """Roll lines up to one row per order and derive the order-level figures.

    ``lines`` carries English column names (db.export_format); order-level columns repeat on
    each line and are taken from the first line of the order. An optional boolean ``is_goods``
    (False for 耗材 lines) gives ``goods_lines``, the basket depth; without it every line counts.
    """
    revenue = line_revenue(lines["received_price"], lines["quantity"])
    list_amount = lines["list_price"].fillna(lines["received_price"]) * lines["quantity"]
    goods = lines["is_goods"] if "is_goods" in lines else pd.Series(True, index=lines.index)
    work = lines.assign(_revenue=revenue, _list_amount=list_amount, _goods=goods.astype(int))
    grouped = work.groupby(order_key, sort=False)
    items = grouped.agg(
        line_count=("quantity", "size"),
        goods_lines=("_goods", "sum"),
        items_quantity=("quantity", "sum"),
        items_revenue=("_revenue", "sum"),
        items_list_amount=("_list_amount", "sum"),
        items_cost=("cost", "sum"),
        items_profit=("profit", "sum"),
        items_discount=("item_discount", "sum"),
    )
    first = grouped.head(1).set_index(order_key)
    orders = first.join(items)
    orders["platform_fee"] = platform_fee(orders["service_fee"], orders["commission"])
    orders["marketing_cost"] = marketing_cost(orders)
    orders["delivery_net_cost"] = delivery_net_cost(orders)
    orders["actual_profit"] = actual_profit(orders)
    orders["platform_fee_zero"] = fee_is_zero(orders["platform_fee"])
    return orders.reset_index()
