"""The data-version counter: bumped by every import, read by the cache to build keys."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select, update

from db.models import DataVersion


def bump_data_version(conn: Connection) -> int:
    """Increment the counter inside the caller's transaction and return the new value."""
    conn.execute(
        update(DataVersion)
        .where(DataVersion.id == 1)
        .values(version=DataVersion.version + 1, updated_at=dt.datetime.now())
    )
    return read_data_version(conn)


def read_data_version(conn: Connection) -> int:
    return int(conn.execute(select(DataVersion.version).where(DataVersion.id == 1)).scalar_one())
