"""Platform fee rule: 平台服务费 when > 0, otherwise 平台佣金 (issue 13)

Orders imported before took a 平台服务费 of 0 as the fee even when 平台佣金 was charged, so they
hold a wrong platform_fee and actual_profit and were flagged platform_fee_zero (异常订单,
dropped from every KPI). The exported 平台服务费 and 平台佣金 are kept on ``orders``, so the
affected orders are recomputed here and the daily aggregates of their (store, day)s rebuilt by
the importer's own builder; the data version is bumped so every cache tier drops the old numbers.

Downgrade leaves the corrected figures: they are right under either schema.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# analytics.formulas.platform_fee / fee_is_zero in SQL (HALF_CENT: money has two decimals)
NEW_FEE = "CASE WHEN service_fee >= 0.005 THEN service_fee ELSE COALESCE(commission, 0) END"
AFFECTED = (
    f"(abs(platform_fee - ({NEW_FEE})) >= 0.005 OR platform_fee_zero <> (abs({NEW_FEE}) < 0.005))"
)


def upgrade() -> None:
    # Imported here, not at module level: Alembic loads every revision file to build its graph.
    from db.importer import aggregates
    from db.importer.loader import STG_AFFECTED
    from db.version import bump_data_version

    conn = op.get_bind()
    STG_AFFECTED.drop(conn, checkfirst=True)
    STG_AFFECTED.create(conn)
    try:
        conn.exec_driver_sql(
            f"INSERT INTO {STG_AFFECTED.name} (store_id, day) "
            f"SELECT DISTINCT store_id, business_date FROM orders WHERE {AFFECTED}"
        )
        if not conn.scalar(sa.select(sa.func.count()).select_from(STG_AFFECTED)):
            return
        _check_builder_matches_schema(conn)
        conn.exec_driver_sql(
            f"UPDATE orders SET platform_fee = {NEW_FEE}, "
            f"actual_profit = items_profit - ({NEW_FEE}) - delivery_fee + corporate_rebate, "
            f"platform_fee_zero = (abs({NEW_FEE}) < 0.005) WHERE {AFFECTED}"
        )
        aggregates.refresh_from_database(conn, STG_AFFECTED)
        bump_data_version(conn)
    finally:
        STG_AFFECTED.drop(conn, checkfirst=True)


def _check_builder_matches_schema(conn) -> None:
    """The aggregate builder writes through today's models; refuse, rather than write wrong
    rows, if a later revision has changed the tables it reads or writes (that revision must
    then carry a frozen copy of this rebuild)."""
    from db.importer.aggregates import ALL_TABLES
    from db.models import Order, OrderItem

    inspector = sa.inspect(conn)
    for table in (Order.__table__, OrderItem.__table__, *ALL_TABLES):
        live = {c["name"] for c in inspector.get_columns(table.name)}
        if live != set(table.c.keys()):
            raise RuntimeError(
                f"0005: table {table.name} differs from db.models "
                f"(only in the database: {sorted(live - set(table.c.keys()))}, "
                f"only in the models: {sorted(set(table.c.keys()) - live)})"
            )


def downgrade() -> None:
    pass
