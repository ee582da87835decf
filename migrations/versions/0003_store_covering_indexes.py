"""Covering indexes on (store_id, day) of the product and hour aggregates

One store's rows of these tables are spread over as many heap pages as rows (imports write every
store of a day together), so a store's 60–180 days cost thousands of page visits; with the
measures in the index PostgreSQL answers from the index alone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_agg_store_day_product_store": (
        "agg_store_day_product",
        ["store_id", "day", "product_id"],
        ["channel", "platform_fee_zero", "quantity", "revenue", "cost", "profit"],
    ),
    "ix_agg_store_day_hour_store": (
        "agg_store_day_hour",
        ["store_id", "day", "hour"],
        ["channel", "platform_fee_zero", "orders", "revenue", "actual_profit"],
    ),
}


def upgrade() -> None:
    for name, (table, columns, include) in INDEXES.items():
        op.create_index(name, table, columns, unique=False, postgresql_include=include)


def downgrade() -> None:
    for name, (table, _columns, _include) in INDEXES.items():
        op.drop_index(name, table_name=table)
