"""Hand-built export sheets for tests: small, explicit, answers checkable by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from db.export_format import BY_NAME, HEADERS

ORDER_DEFAULTS = {
    "order_no": None,
    "store_name": "测试-武汉光谷店",
    "store_code": "S001",
    "franchise_type": "直营",
    "city": "武汉",
    "expected_income": 0.0,
    "delivery_fee": 0.0,
    "commission": 0.0,
    "service_fee": 0.0,
    "user_delivery_fee": 0.0,
    "delivery_fee_discount": 0.0,
    "full_reduction": 0.0,
    "merchant_voucher": 0.0,
    "merchant_coupon_share": 0.0,
    "packaging_fee": 0.0,
    "gift_amount": 0.0,
    "other_discount": 0.0,
    "new_customer_discount": 0.0,
    "corporate_rebate": 0.0,
    "delivery_platform": "美团配送",
    "distance_km": 1.5,
    "address": "武汉市洪山区光谷大道1号",
    "channel": "美团闪购",
}
ITEM_DEFAULTS = {
    "product_name": "红富士苹果",
    "barcode": "6901234567892",
    "product_code": "P001",
    "category_l1": "水果",
    "category_l3": "苹果",
    "list_price": 10.0,
    "sale_price": 9.0,
    "received_price": 8.0,
    "cost": 5.0,
    "quantity": 1,
    "stock": 100,
    "remaining_stock": 99,
    "profit": None,
    "item_discount": 0.0,
}


def order(platform_order_id: str, ordered_at: str, items: list[dict], **fields) -> list[dict]:
    """Rows (English names) of one order: order-level ``fields`` repeated on each item row."""
    head = {**ORDER_DEFAULTS, **fields, "platform_order_id": platform_order_id, "ordered_at": ordered_at}
    rows = []
    for item in items:
        row = {**head, **ITEM_DEFAULTS, **item}
        if row["profit"] is None:
            row["profit"] = round(row["received_price"] * row["quantity"] - row["cost"], 2)
        rows.append(row)
    return rows


def sheet(*orders: list[dict]) -> pd.DataFrame:
    """Frame with the Chinese headers, in export order."""
    rows = [row for rows in orders for row in rows]
    frame = pd.DataFrame(rows)
    frame = frame.rename(columns={name: BY_NAME[name].header for name in frame.columns})
    return frame.reindex(columns=list(HEADERS))


def write_csv(frame: pd.DataFrame, path: Path, encoding: str = "utf-8-sig") -> Path:
    frame.to_csv(path, index=False, encoding=encoding)
    return path


def write_xlsx(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_excel(path, index=False, sheet_name="订单明细", engine="openpyxl")
    return path


def aggregate_snapshot(conn) -> dict[str, pd.DataFrame]:
    """Every daily aggregate table as a frame sorted by its key (for comparing two states)."""
    from sqlalchemy import select

    from db.models import AGGREGATE_TABLES

    snapshot = {}
    for table in AGGREGATE_TABLES:
        keys = [c.name for c in table.primary_key.columns]
        frame = pd.read_sql(select(table), conn).sort_values(keys).reset_index(drop=True)
        frame["day"] = frame["day"].astype(str)
        snapshot[table.name] = frame
    return snapshot
