"""Shared helpers of the benchmark scripts: a scratch PostgreSQL database and machine info."""

from __future__ import annotations

import os
import platform
import uuid
from contextlib import contextmanager

from sqlalchemy import text

from db.engine import make_engine

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_postgres(admin_url: str = DEFAULT_PG_ADMIN, keep: bool = False, name: str | None = None):
    """Create a database for the run and drop it afterwards unless ``keep``; yield its URL."""
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = name or f"o2o_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = admin_url.rpartition("/")[0]
    try:
        yield f"{base}/{name}"
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores {cpu}, Python {platform.python_version()}, {platform.system()}"
