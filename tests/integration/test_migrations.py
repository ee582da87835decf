"""Alembic owns the schema: upgrade, downgrade and model/schema agreement on both backends."""

import pytest
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


def test_migrate004_platform_fee_rule_recomputes_orders_imported_under_the_old_rule(
    empty_database_url, tmp_path, monkeypatch
):
    """0005: an order with 平台服务费 0 and 平台佣金 1.2 imported under the old rule (fee 0,
    abnormal) gets fee 1.2, its profit and the aggregates of its store-day, as a new import would."""
    import pandas as pd
    from alembic.script import ScriptDirectory
    from sqlalchemy import select

    from analytics import formulas
    from config import Settings
    from db.importer import import_file
    from db.migrate import alembic_config
    from db.models import AGGREGATE_TABLES, AggStoreDayChannel, DataVersion, Order
    from tests.factories import aggregate_snapshot, order, sheet, write_csv
    from tests.integration.test_import import small_sheet

    frame = pd.concat([small_sheet(), sheet(order(
        "MT4", "2026-11-01 13:00:00", [{"received_price": 10.0, "quantity": 1, "cost": 6.0}],
        service_fee=0.0, commission=1.2, delivery_fee=2.0))], ignore_index=True)  # fmt: skip
    path = write_csv(frame, tmp_path / "orders.csv")
    before_0005 = ScriptDirectory.from_config(alembic_config()).get_revision("0005").down_revision

    def figures(conn) -> dict:
        rows = conn.execute(select(Order.platform_order_id, Order.platform_fee, Order.actual_profit,
                                   Order.platform_fee_zero)).all()  # fmt: skip
        return {r[0]: (round(r[1], 2), round(r[2], 2), bool(r[3])) for r in rows}

    engine = make_engine(empty_database_url)
    try:
        upgrade(engine)
        settings = Settings.from_env({}, database_url=empty_database_url, data_dir=tmp_path / "var")
        with monkeypatch.context() as patch:  # the rule before issue 13
            patch.setattr(formulas, "platform_fee", lambda s, c: s.where(s.notna(), c).fillna(0.0))
            assert import_file(engine, path, settings).status == "imported"
        with engine.connect() as conn:
            assert figures(conn)["MT4"] == (0.0, 2.0, True)
        downgrade(engine, before_0005)
        with engine.connect() as conn:
            version = conn.execute(select(DataVersion.version)).scalar_one()
        upgrade(engine)
        with engine.connect() as conn:
            migrated = figures(conn)
            migrated_aggregates = aggregate_snapshot(conn)
            day1 = pd.read_sql(select(AggStoreDayChannel.__table__).where(
                AggStoreDayChannel.channel == "美团闪购"), conn)  # fmt: skip
            assert conn.execute(select(DataVersion.version)).scalar_one() > version
        # MT4: Σ利润额 (10 − 6) − 佣金 1.2 − 物流配送费 2 = 0.8; MT2 (both fees 0) stays abnormal
        assert migrated["MT4"] == (1.2, 0.8, False)
        assert migrated["MT1"] == (1.0, 1.5, False) and migrated["MT2"] == (0.0, -3.0, True)
        normal = day1[~day1["platform_fee_zero"].astype(bool) & (day1["day"].astype(str) == "2026-11-01")]
        assert normal["orders"].tolist() == [2]
        assert normal["revenue"].iloc[0] == pytest.approx(26.0)
        assert normal["actual_profit"].iloc[0] == pytest.approx(2.3)
        # the same as importing the file afresh under the new rule
        assert import_file(engine, path, settings, force=True).status == "imported"
        with engine.connect() as conn:
            assert figures(conn) == migrated
            reimported = aggregate_snapshot(conn)
        for table in AGGREGATE_TABLES:
            pd.testing.assert_frame_equal(migrated_aggregates[table.name], reimported[table.name],
                                          check_dtype=False, atol=0.006)  # fmt: skip
    finally:
        engine.dispose()


def test_migrate005_fee_rule_migration_refuses_a_schema_its_builder_does_not_know(engine):
    """0005 rebuilds aggregates through today's models: a table that differs (as after a later
    revision) makes it stop with the difference named instead of writing wrong rows."""
    import importlib.util

    from sqlalchemy import text

    from config import PROJECT_ROOT

    path = PROJECT_ROOT / "migrations" / "versions" / "0005_platform_fee_rule.py"
    spec = importlib.util.spec_from_file_location("revision_0005", path)
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)
    with engine.begin() as conn:
        revision._check_builder_matches_schema(conn)  # the migrated schema: accepted
        conn.execute(text("ALTER TABLE agg_store_day_hour ADD COLUMN later_measure INTEGER"))
        with pytest.raises(RuntimeError, match=r"agg_store_day_hour .*only in the database: \['later_measure'\]"):
            revision._check_builder_matches_schema(conn)
