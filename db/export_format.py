"""The platform order-detail export format: Chinese headers, their meaning and defaults.

One row per SKU line of an order; order-level fields repeat on every row of the order.
The importer reads files through this table and the demo generator writes files from it, so
the two can never disagree. docs/METRICS.md documents the same table for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["order", "item"]
Kind = Literal["text", "datetime", "money", "quantity", "distance"]


@dataclass(frozen=True)
class ExportColumn:
    header: str  # Chinese header as exported
    name: str  # English identifier used in code and the database
    level: Level  # "order": same on every row of one order; "item": per SKU line
    kind: Kind
    required: bool = False
    default: float | str | None = None  # used when the column is absent or the cell is empty
    # Numbers: only a profit, the platform's expected income and stock counts (oversold) can be
    # below 0; a negative price, quantity, fee or discount is a broken export (docs/METRICS.md §1).
    signed: bool = False


COLUMNS: tuple[ExportColumn, ...] = (
    ExportColumn("订单ID", "platform_order_id", "order", "text", required=True),
    ExportColumn("订单编号", "order_no", "order", "text"),
    ExportColumn("下单时间", "ordered_at", "order", "datetime", required=True),
    ExportColumn("门店名称", "store_name", "order", "text", required=True),
    ExportColumn("门店ID", "store_code", "order", "text"),
    ExportColumn("门店加盟类型", "franchise_type", "order", "text"),
    ExportColumn("城市", "city", "order", "text"),
    ExportColumn("商品名称", "product_name", "item", "text", required=True),
    ExportColumn("条码", "barcode", "item", "text"),
    ExportColumn("店内码", "product_code", "item", "text"),
    ExportColumn("一级分类名", "category_l1", "item", "text"),
    ExportColumn("三级分类名", "category_l3", "item", "text"),
    ExportColumn("商品原价", "list_price", "item", "money"),
    ExportColumn("商品实售价", "sale_price", "item", "money"),
    ExportColumn("实收价格", "received_price", "item", "money", required=True),
    ExportColumn("商品采购成本", "cost", "item", "money", default=0.0),
    ExportColumn("月售", "quantity", "item", "quantity", required=True),
    ExportColumn("库存", "stock", "item", "quantity", signed=True),
    ExportColumn("剩余库存", "remaining_stock", "item", "quantity", signed=True),
    ExportColumn("利润额", "profit", "item", "money", signed=True),
    ExportColumn("预计订单收入", "expected_income", "order", "money", default=0.0, signed=True),
    ExportColumn("物流配送费", "delivery_fee", "order", "money", default=0.0),
    ExportColumn("平台佣金", "commission", "order", "money"),
    ExportColumn("平台服务费", "service_fee", "order", "money"),
    ExportColumn("用户支付配送费", "user_delivery_fee", "order", "money", default=0.0),
    ExportColumn("配送费减免金额", "delivery_fee_discount", "order", "money", default=0.0),
    ExportColumn("满减金额", "full_reduction", "order", "money", default=0.0),
    ExportColumn("商品减免金额", "item_discount", "item", "money", default=0.0),
    ExportColumn("商家代金券", "merchant_voucher", "order", "money", default=0.0),
    ExportColumn("商家承担部分券", "merchant_coupon_share", "order", "money", default=0.0),
    ExportColumn("打包袋金额", "packaging_fee", "order", "money", default=0.0),
    ExportColumn("满赠金额", "gift_amount", "order", "money", default=0.0),
    ExportColumn("商家其他优惠", "other_discount", "order", "money", default=0.0),
    ExportColumn("新客减免金额", "new_customer_discount", "order", "money", default=0.0),
    ExportColumn("企客后返", "corporate_rebate", "order", "money", default=0.0),
    ExportColumn("配送平台", "delivery_platform", "order", "text"),
    ExportColumn("距离", "distance_km", "order", "distance"),
    ExportColumn("收货地址", "address", "order", "text"),
    ExportColumn("渠道", "channel", "order", "text", required=True),
)

HEADERS: tuple[str, ...] = tuple(c.header for c in COLUMNS)
BY_HEADER: dict[str, ExportColumn] = {c.header: c for c in COLUMNS}
BY_NAME: dict[str, ExportColumn] = {c.name: c for c in COLUMNS}
REQUIRED_HEADERS: tuple[str, ...] = tuple(c.header for c in COLUMNS if c.required)
ORDER_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.level == "order")
NUMERIC_KINDS = ("money", "quantity", "distance")

# Category (一级分类名) whose products are consumables (bags etc.): kept in order money,
# left out of product analyses and SKU counts (docs/METRICS.md).
CONSUMABLE_CATEGORY = "耗材"
