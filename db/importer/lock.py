"""One writer of imported data at a time per database: imports and undos take this lock first.

PostgreSQL: a transaction-scoped advisory lock (released by COMMIT / ROLLBACK, also when the
process dies). SQLite allows one write transaction anyway; the lock makes the transaction a
writer from its first statement, so two transactions that both read first cannot deadlock
when they upgrade to writing (one of them would fail with "database is locked").
"""

from __future__ import annotations

from sqlalchemy import Connection, text, update

from db.models import DataVersion

# Any constant shared by every process importing into the same database ("imp" + issue 15).
IMPORT_LOCK_KEY = 0x696D_7015


def take_import_lock(conn: Connection) -> None:
    """Block until this transaction holds the import lock; call it first in the transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK_KEY})
        return
    # A no-op write: pysqlite opens the transaction with this UPDATE, which takes SQLite's
    # RESERVED lock at once (waiting for the busy timeout while another writer holds it).
    conn.execute(update(DataVersion).where(DataVersion.id == 1).values(version=DataVersion.version))
