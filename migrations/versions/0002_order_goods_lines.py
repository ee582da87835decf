"""orders.goods_lines: non-耗材 lines per order (basket depth without a join over every line)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("goods_lines", sa.Integer(), server_default="0", nullable=False))
    # Orders imported before this revision: count their stored non-consumable lines.
    op.execute(
        "UPDATE orders SET goods_lines = (SELECT count(*) FROM order_items i JOIN products p ON p.id = i.product_id"
        " WHERE i.order_id = orders.id AND NOT p.is_consumable)"
    )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("goods_lines")
