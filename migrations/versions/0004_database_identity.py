"""data_version.database_id: a random identity of this database

The disk cache tiers (var/cache, var/pieces) outlive a database: a SQLite file deleted and
imported again, or O2O_DATABASE_URL pointed at another database with the same O2O_DATA_DIR,
reaches the same data-version numbers and would be served the old database's values. The
identity is written once per database (here, or by the first migration of a new one) and goes
into every cache key, so values of another database are never read.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:30:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("data_version", sa.Column("database_id", sa.String(length=32), nullable=True))
    data_version = sa.table("data_version", sa.column("database_id", sa.String))
    # Drawn when the migration runs, so a database created again gets a new id.
    op.execute(data_version.update().values(database_id=uuid.uuid4().hex))
    with op.batch_alter_table("data_version") as batch:
        batch.alter_column("database_id", existing_type=sa.String(length=32), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("data_version") as batch:
        batch.drop_column("database_id")
