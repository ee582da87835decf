"""Import management: batch history, undo, upload jobs, saved mappings

- import_batches gains what the 数据管理 history shows (stores, error count, duration, source,
  who) and ``undone_at``; status may now be ``undone``.
- stores / products remember the batch that first wrote them (``created_by_batch``), so undoing
  that batch can remove them once no order refers to them. Filled here from the stored orders.
- order_history / order_item_history keep the versions an import replaced (same columns as
  orders / order_items, reflected from the live tables, plus ``superseded_by``).
- import_jobs is the upload queue; import_mappings the mappings saved by name.
- Batches of the demo files written by the first start (订单明细_YYYY-MM.csv into data/demo)
  are marked ``source = 'demo'`` so that 移除演示数据 finds them in databases seeded before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEMO_FILE = r"^订单明细_[0-9]{4}-[0-9]{2}\.csv$"


def _history_table(conn, name: str, source: str, key: list[str]) -> None:
    live = sa.Table(source, sa.MetaData(), autoload_with=conn)
    columns = [sa.Column(c.name, c.type, nullable=c.nullable) for c in live.columns]
    op.create_table(
        name,
        *columns,
        sa.Column("superseded_by", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("superseded_by", *key, name=f"pk_{name}"),
    )


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("import_batches") as batch:
        batch.add_column(sa.Column("stores", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("error_count", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("source", sa.String(16), server_default="cli", nullable=False))
        batch.add_column(sa.Column("created_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("duration_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("undone_at", sa.DateTime(), nullable=True))
    for table in ("stores", "products"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("created_by_batch", sa.BigInteger(), nullable=True))

    _history_table(conn, "order_history", "orders", ["id"])
    op.create_index("ix_order_history_import_batch_id", "order_history", ["import_batch_id"])
    op.create_index("ix_order_history_id", "order_history", ["id"])
    _history_table(conn, "order_item_history", "order_items", ["order_id", "line_no"])

    op.create_table(
        "import_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("file_name", sa.String(500), nullable=False),
        sa.Column("stored_path", sa.String(1000), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("step", sa.String(32), nullable=True),
        sa.Column("lines_done", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("lines_total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("mapping", sa.Text(), nullable=True),
        sa.Column("mapping_name", sa.String(100), nullable=True),
        sa.Column("preview", sa.Text(), nullable=True),
        sa.Column("error_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column("worker", sa.String(100), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_import_jobs"),
    )
    op.create_index("ix_import_jobs_status", "import_jobs", ["status", "id"])
    op.create_table(
        "import_mappings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("mapping", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_import_mappings"),
        sa.UniqueConstraint("name", name="uq_import_mappings_name"),
    )

    # Provenance of what was imported before this revision.
    conn.exec_driver_sql(
        "UPDATE stores SET created_by_batch = "
        "(SELECT min(import_batch_id) FROM orders WHERE orders.store_id = stores.id)"
    )
    conn.exec_driver_sql(
        "UPDATE products SET created_by_batch = f.batch FROM "
        "(SELECT i.product_id, min(o.import_batch_id) AS batch FROM order_items i "
        " JOIN orders o ON o.id = i.order_id GROUP BY i.product_id) AS f "
        "WHERE f.product_id = products.id"
    )
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"UPDATE import_batches SET source = 'demo' WHERE file_name ~ '{DEMO_FILE}'")
    else:  # SQLite has no regular expressions without an extension: GLOB is enough here
        conn.exec_driver_sql(
            "UPDATE import_batches SET source = 'demo' WHERE file_name GLOB "
            "'订单明细_[0-9][0-9][0-9][0-9]-[0-9][0-9].csv'"
        )
    conn.exec_driver_sql(
        "UPDATE import_batches SET stores = (SELECT count(DISTINCT store_id) FROM orders "
        "WHERE orders.import_batch_id = import_batches.id) WHERE status = 'succeeded'"
    )


def downgrade() -> None:
    op.drop_table("import_mappings")
    op.drop_index("ix_import_jobs_status", table_name="import_jobs")
    op.drop_table("import_jobs")
    op.drop_table("order_item_history")
    op.drop_index("ix_order_history_id", table_name="order_history")
    op.drop_index("ix_order_history_import_batch_id", table_name="order_history")
    op.drop_table("order_history")
    for table in ("stores", "products"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("created_by_batch")
    with op.batch_alter_table("import_batches") as batch:
        for column in ("undone_at", "duration_s", "created_by", "source", "error_count", "stores"):
            batch.drop_column(column)
