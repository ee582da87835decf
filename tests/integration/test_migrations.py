"""Alembic owns the schema: upgrade, downgrade and model/schema agreement on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from db.engine import make_engine
from db.migrate import current_revision, downgrade, head_revision, upgrade
from db.models import Base


def test_migrate001_upgrade_downgrade_roundtrip(empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        downgrade(engine, "base")
        assert current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_migrate002_models_match_migrated_schema(engine):
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_migrate003_goods_lines_backfilled_for_orders_imported_before(empty_database_url, tmp_path):
    """Data imported under 0001 gets orders.goods_lines from its stored lines (耗材 not counted)."""
    from sqlalchemy import text

    from config import Settings
    from db.demo_data import DemoSpec, generate_orders, write_exports
    from db.importer import import_file

    engine = make_engine(empty_database_url)
    try:
        upgrade(engine)
        settings = Settings.from_env({}, database_url=empty_database_url, data_dir=tmp_path / "var")
        lines, _ = generate_orders(DemoSpec(stores=1, days=14, seed=2))
        for path in write_exports(lines, tmp_path / "demo"):
            import_file(engine, path, settings)
        with engine.connect() as conn:
            imported = dict(conn.execute(text("SELECT id, goods_lines FROM orders")).all())
        assert any(imported.values()) and max(imported.values()) > 1
        downgrade(engine, "0001")
        upgrade(engine)
        with engine.connect() as conn:
            backfilled = dict(conn.execute(text("SELECT id, goods_lines FROM orders")).all())
        assert backfilled == imported
    finally:
        engine.dispose()
