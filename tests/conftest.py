"""Shared fixtures: settings injected per test, a fresh database per test on SQLite and on
PostgreSQL (its own database, dropped afterwards), and the rule for missing servers.

Missing PostgreSQL / Redis / Chromium skips the tests that need them on a developer machine;
with O2O_TEST_REQUIRE_SERVICES=1 (CI) it fails them instead.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from analytics import use_python_strings
from config import Settings
from db.engine import make_engine
from db.migrate import upgrade

PG_ADMIN_URL = os.environ.get("O2O_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_SERVICES = os.environ.get("O2O_TEST_REQUIRE_SERVICES") == "1"
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config) -> None:
    """The pandas text storage every entry point of the app sets (analytics.use_python_strings)."""
    use_python_strings()


def service_missing(reason: str) -> None:
    """Skip (developer machine) or fail (CI) a test whose server is unavailable."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_admin_engine():
    engine = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=None)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except OperationalError as exc:
        engine.dispose()
        service_missing(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.orig}")
    yield engine
    engine.dispose()


def _pg_url(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Every test that touches the database runs on SQLite and on PostgreSQL."""
    return request.param


@pytest.fixture
def empty_database_url(backend, request, tmp_path):
    """URL of a new, empty database on ``backend``."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    admin = request.getfixturevalue("pg_admin_engine")
    name = f"o2o_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def engine(empty_database_url):
    """Engine on a fresh database migrated to head."""
    eng = make_engine(empty_database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(empty_database_url, tmp_path):
    return Settings.from_env({}, database_url=empty_database_url, data_dir=tmp_path / "var")


class PrivateRedis:
    """A redis-server of our own on a free port, which a test may stop and start again."""

    def __init__(self, tmp_path) -> None:
        from tests.live_server import free_port

        self.port = free_port()
        self.dir = tmp_path
        self.process = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import shutil
        import subprocess
        import time

        import redis

        binary = shutil.which("redis-server")
        if binary is None:
            service_missing("redis-server binary not installed")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_timeout=0.2)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_postgres():
    """A PostgreSQL cluster of the test's own (tests/private_postgres.py): frozen, thawed or
    stopped at will; always thawed and stopped afterwards."""
    from tests.private_postgres import PrivatePostgres

    server = PrivatePostgres()
    reason = server.unavailable_reason()
    if reason is not None:
        service_missing(reason)
    try:
        server.start()
        yield server
    finally:
        server.stop()
