"""The data-version counter (bumped by every import) and the database identity, read by the
cache to build keys."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import Connection, select, update

from db.models import DataVersion


class DataStamp(NamedTuple):
    """What a cached value was computed from: this database (``database_id``, random per
    database) at this data ``version`` (bumped by every import)."""

    version: int
    database_id: str


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


def read_data_stamp(conn: Connection) -> DataStamp:
    """The version and the database identity, in one query (so they always belong together)."""
    row = conn.execute(select(DataVersion.version, DataVersion.database_id).where(DataVersion.id == 1)).one()
    return DataStamp(int(row.version), str(row.database_id))
