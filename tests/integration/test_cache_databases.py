"""Two databases, one data directory, one Redis: the dashboard always shows the figures of the
database it is connected to, whatever the other one left in L2 (var/cache), in the piece files
(var/tables) or in Redis, even when both are at the same data version and after one of them
is deleted and created again (SQLite and PostgreSQL, real files, real redis-server)."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from app import create_app, stop_app
from config import Settings
from config.readmodel import VERSION_CHECK_S
from db.engine import make_engine
from db.importer import import_file
from db.migrate import upgrade
from services.runtime import EXTENSION_KEY
from tests.factories import order, sheet, write_csv
from tests.integration.test_app import kpi_payload, kpi_values

DAY = "2026-11-01"

# Three data sets, each one import (data version 1) of orders on DAY, all on fee channels with a
# platform fee, so every order counts. 实收 = Σ 实收价格 × 数量 over the lines.
FIRST = [("A-1", 8.0, 2)]  # 1 order, 实收 16
SECOND = [("B-1", 10.0, 1), ("B-2", 5.0, 4)]  # 2 orders, 实收 10 + 20 = 30
THIRD = [("C-1", 15.0, 1), ("C-2", 15.0, 1), ("C-3", 5.0, 3)]  # 3 orders, 实收 15 + 15 + 15 = 45
EXPECTED = {"first": (1, 16.0), "second": (2, 30.0), "third": (3, 45.0)}
DATA = {"first": FIRST, "second": SECOND, "third": THIRD}


class Databases:
    """Two empty databases on one backend that a test may delete and create again."""

    def __init__(self, backend: str, tmp_path: Path, admin) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.admin = admin
        self.names = [f"o2o_test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
        for name in self.names if admin is not None else ():
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))

    def url(self, index: int) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp_path / f'{self.names[index]}.sqlite3'}"
        return self.admin.url.set(database=self.names[index]).render_as_string(hide_password=False)

    def recreate(self, index: int) -> None:
        """The database is gone and an empty one takes its place under the same URL."""
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                (self.tmp_path / f"{self.names[index]}.sqlite3{suffix}").unlink(missing_ok=True)
            return
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{self.names[index]}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{self.names[index]}"'))

    def drop(self) -> None:
        for name in self.names if self.admin is not None else ():
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def databases(backend, request, tmp_path):
    admin = request.getfixturevalue("pg_admin_engine") if backend == "postgresql" else None
    found = Databases(backend, tmp_path, admin)
    yield found
    found.drop()


def settings_for(url: str, tmp_path: Path, redis_url: str) -> Settings:
    """Every database is served with the same data directory and Redis."""
    return Settings.from_env({}, database_url=url, data_dir=tmp_path / "var", redis_url=redis_url)


def load(settings: Settings, name: str, tmp_path: Path) -> None:
    """Migrate the database and import one data set into it (its data version becomes 1)."""
    orders = [order(number, f"{DAY} 12:00:00", [{"received_price": price, "quantity": quantity}],
                    channel="饿了么", service_fee=1.0) for number, price, quantity in DATA[name]]  # fmt: skip
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        assert import_file(engine, write_csv(sheet(*orders), tmp_path / f"{name}.csv"), settings).ok
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version FROM data_version")).scalar_one() == 1
    finally:
        engine.dispose()


def shown(app) -> tuple[int, float]:
    """(订单, 实收) on the KPI cards of DAY, as the browser receives them."""
    client = app.server.test_client()
    response = client.post("/_dash-update-component", json=kpi_payload(["all"], DAY, DAY, ["all"]))
    assert response.status_code == 200
    values = kpi_values(response.json)
    return int(values["orders"]), float(re.sub(r"[^\d.]", "", values["revenue"]))


def serve(settings: Settings) -> tuple[int, float]:
    """A new app (a restart, or another instance) on ``settings``: what it shows."""
    app = create_app(settings, start_monitors=False)
    try:
        return shown(app)
    finally:
        stop_app(app)


def test_cachedb001_each_database_shows_its_own_figures(databases, tmp_path, private_redis):
    first = settings_for(databases.url(0), tmp_path, private_redis.url)
    second = settings_for(databases.url(1), tmp_path, private_redis.url)
    load(first, "first", tmp_path)
    load(second, "second", tmp_path)

    assert serve(first) == EXPECTED["first"]
    assert list((tmp_path / "var" / "tables").glob("*.arrow")), "the KPI cards read mapped tables"
    assert serve(second) == EXPECTED["second"]  # same data version, same data directory
    assert serve(first) == EXPECTED["first"]
    assert serve(second) == EXPECTED["second"]

    databases.recreate(1)  # deleted and imported again: the same URL (and Redis namespace)
    load(second, "third", tmp_path)
    assert serve(second) == EXPECTED["third"]
    assert serve(first) == EXPECTED["first"]
    assert serve(second) == EXPECTED["third"]


def test_cachedb002_database_recreated_under_a_running_app(databases, tmp_path, private_redis):
    """The app keeps running while its database is replaced: within a version check it shows
    the new database's figures, although the data version is 1 again."""
    settings = settings_for(databases.url(0), tmp_path, private_redis.url)
    load(settings, "first", tmp_path)
    app = create_app(settings, start_monitors=False)
    try:
        assert shown(app) == EXPECTED["first"]
        databases.recreate(0)
        load(settings, "second", tmp_path)
        # PostgreSQL's pool reconnects to the new database by itself (pre-ping); SQLite's pooled
        # connections would still read the deleted file, which no cache can see through
        app.server.extensions[EXTENSION_KEY].engine.dispose()
        time.sleep(VERSION_CHECK_S + 0.1)
        assert shown(app) == EXPECTED["second"]
    finally:
        stop_app(app)


def test_cachedb003_identity_written_by_the_migration_survives_restarts(databases, tmp_path):
    """A database migrated before 0004 gets an identity, keeps it across restarts (new engines)
    and keeps its data version; another database, or this one created again, gets another."""
    from db.migrate import downgrade
    from db.version import read_data_stamp

    settings = settings_for(databases.url(0), tmp_path, "redis://127.0.0.1:1/0")
    load(settings, "first", tmp_path)  # at head: 0004 already ran
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            at_creation = read_data_stamp(conn)
        downgrade(engine, "0003")  # the schema of a database made before the identity existed
        upgrade(engine)
        with engine.connect() as conn:
            migrated = read_data_stamp(conn)
    finally:
        engine.dispose()
    assert migrated.version == at_creation.version == 1
    assert re.fullmatch(r"[0-9a-f]{32}", migrated.database_id) and migrated.database_id != at_creation.database_id
    for _restart in range(2):
        engine = make_engine(settings.database_url)
        with engine.connect() as conn:
            assert read_data_stamp(conn) == migrated
        engine.dispose()

    other = settings_for(databases.url(1), tmp_path, "redis://127.0.0.1:1/0")
    load(other, "second", tmp_path)
    databases.recreate(0)
    load(settings, "first", tmp_path)
    ids = set()
    for url in (databases.url(0), databases.url(1)):
        engine = make_engine(url)
        with engine.connect() as conn:
            ids.add(read_data_stamp(conn).database_id)
        engine.dispose()
    assert len(ids | {migrated.database_id}) == 3
