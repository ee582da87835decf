"""Undo of an import batch against real SQLite and PostgreSQL: what is left is checked against
pandas over the raw lines of the files still in force, and the aggregates against a rebuild
from scratch; remove_demo, the history list, the CLI and a running server."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import urllib.request

import pandas as pd
import pytest
from sqlalchemy import func, insert, select, text

from db.errors import UndoRefusedError
from db.importer import aggregates, import_file
from db.importer.history import list_batches
from db.importer.loader import STG_AFFECTED
from db.importer.lock import take_import_lock
from db.importer.undo import remove_demo, undo_batch
from db.models import (
    AGGREGATE_TABLES,
    ORDER_HISTORY,
    ORDER_ITEM_HISTORY,
    DataVersion,
    ImportBatch,
    Order,
    OrderItem,
    Product,
    Store,
)
from tests.factories import aggregate_snapshot, order, sheet, write_csv
from tests.integration.test_cli import run

HALF_CENT = 0.005


def product(name: str, barcode: str, code: str, price: float, cost: float) -> dict:
    return {"product_name": name, "barcode": barcode, "product_code": code, "received_price": price, "cost": cost}


APPLE = {}  # the factory's default product (6901234567892)
BANANA = product("香蕉", "6901234567908", "P002", 4.0, 2.5)
ORANGE = product("赣南脐橙", "6901234567915", "P003", 6.0, 4.0)
GRAPE = product("巨峰葡萄", "6901234567922", "P004", 12.0, 9.0)
SOUTH = {"store_code": "S002", "store_name": "测试-武汉南湖店"}
NEW_STORE = {"store_code": "S003", "store_name": "测试-新开店", "city": "长沙"}
FEES = {"service_fee": 1.2, "commission": 1.5, "delivery_fee": 4.0}


def item(product: dict, quantity: int, **fields) -> dict:
    return {**product, "quantity": quantity, **fields}


def rows_a() -> list[dict]:
    """Four orders, two stores, two days, two channels, two products."""
    return [
        *order("A1", "2026-11-01 10:00:00", [item(APPLE, 2)], **FEES),
        *order("A2", "2026-11-01 12:30:00", [item(APPLE, 1), item(BANANA, 3)], channel="饿了么",
               service_fee=None, commission=0.9, delivery_fee=3.0, corporate_rebate=0.4),
        *order("A3", "2026-11-02 09:15:00", [item(BANANA, 1)], **SOUTH, **FEES),
        *order("A4", "2026-11-02 18:45:00", [item(APPLE, 4, received_price=7.5)], channel="饿了么", **SOUTH,
               service_fee=2.0, delivery_fee=5.0),
    ]  # fmt: skip


def rows_b() -> list[dict]:
    """Overlaps A: A2 changed (other lines, a new product, moved a day on), A3 changed; B1 new in
    S001; B2 in a store only B has, with a product only B has. A1 and A4 are not in B."""
    return [
        *order("A2", "2026-11-02 12:30:00", [item(APPLE, 2, received_price=7.0), item(ORANGE, 1)],
               channel="饿了么", service_fee=0.8, delivery_fee=3.5),
        *order("A3", "2026-11-02 09:15:00", [item(BANANA, 5)], **SOUTH, **FEES, corporate_rebate=0.5),
        *order("B1", "2026-11-03 11:00:00", [item(APPLE, 1)], **FEES),
        *order("B2", "2026-11-03 16:20:00", [item(GRAPE, 2)], **NEW_STORE, **FEES),
    ]  # fmt: skip


def rows_c() -> list[dict]:
    """Replaces A2 and A3 once more, and adds C1."""
    return [
        *order("A2", "2026-11-01 20:00:00", [item(BANANA, 6, received_price=3.5)], channel="饿了么",
               service_fee=0.6, delivery_fee=2.0),
        *order("A3", "2026-11-02 09:15:00", [item(APPLE, 3), item(ORANGE, 2)], **SOUTH, **FEES),
        *order("C1", "2026-11-02 10:00:00", [item(GRAPE, 1)], **SOUTH, **FEES),
    ]  # fmt: skip


def write(rows: list[dict], path) -> object:
    return write_csv(sheet(rows), path)


def in_force(*files: list[dict]) -> list[dict]:
    """The lines of several files imported in this order: a later file's order replaces an
    earlier one's whole (lines included)."""
    kept: dict[tuple, list[dict]] = {}
    for rows in files:
        keys = {(r["channel"], r["platform_order_id"]) for r in rows}
        for key in keys:
            kept[key] = [r for r in rows if (r["channel"], r["platform_order_id"]) == key]
    return [row for rows in kept.values() for row in rows]


def expected(rows: list[dict]) -> dict[str, pd.DataFrame]:
    """KPI-level figures from raw lines, by the formulas in docs/METRICS.md."""
    lines = pd.DataFrame(rows)
    lines["day"] = pd.to_datetime(lines["ordered_at"]).dt.date.astype(str)
    lines["revenue"] = lines["received_price"] * lines["quantity"]
    key = ["store_code", "channel", "platform_order_id"]
    per_order = lines.groupby(key).agg(
        day=("day", "first"), revenue=("revenue", "sum"), items_profit=("profit", "sum"),
        service_fee=("service_fee", "first"), commission=("commission", "first"),
        delivery_fee=("delivery_fee", "first"), corporate_rebate=("corporate_rebate", "first"),
    ).reset_index()  # fmt: skip
    service = per_order["service_fee"].fillna(0.0)
    fee = service.where(service >= HALF_CENT, per_order["commission"].fillna(0.0))
    per_order["actual_profit"] = per_order["items_profit"] - fee - per_order["delivery_fee"] + per_order[
        "corporate_rebate"]  # fmt: skip
    measures = {"orders": ("platform_order_id", "size"), "revenue": ("revenue", "sum"),
                "actual_profit": ("actual_profit", "sum")}  # fmt: skip
    return {
        "store_day": per_order.groupby(["store_code", "day"]).agg(**measures).sort_index(),
        "channel": per_order.groupby(["channel"]).agg(**measures).sort_index(),
        "product": lines.groupby(["store_code", "day", "barcode"])
        .agg(quantity=("quantity", "sum"), revenue=("revenue", "sum"))
        .sort_index(),
    }


def stored(engine) -> dict[str, pd.DataFrame]:
    """The same figures as the dashboard reads them: from the daily aggregates."""
    queries = {
        "store_day": "SELECT s.code AS store_code, a.day, sum(a.orders) AS orders, sum(a.revenue) AS revenue, "
        "sum(a.actual_profit) AS actual_profit FROM agg_store_day_channel a JOIN stores s ON s.id = a.store_id "
        "GROUP BY s.code, a.day",
        "channel": "SELECT channel, sum(orders) AS orders, sum(revenue) AS revenue, "
        "sum(actual_profit) AS actual_profit FROM agg_store_day_channel GROUP BY channel",
        "product": "SELECT s.code AS store_code, a.day, p.barcode, sum(a.quantity) AS quantity, "
        "sum(a.revenue) AS revenue FROM agg_store_day_product a JOIN stores s ON s.id = a.store_id "
        "JOIN products p ON p.id = a.product_id GROUP BY s.code, a.day, p.barcode",
    }
    index = {"store_day": ["store_code", "day"], "channel": ["channel"], "product": ["store_code", "day", "barcode"]}
    result = {}
    with engine.connect() as conn:
        for name, sql in queries.items():
            frame = pd.read_sql(text(sql), conn)
            if "day" in frame:
                frame["day"] = frame["day"].astype(str)
            result[name] = frame.set_index(index[name]).sort_index()
    return result


def assert_figures(engine, rows: list[dict]) -> None:
    want, got = expected(rows), stored(engine)
    for name, frame in want.items():
        pd.testing.assert_frame_equal(got[name], frame, check_dtype=False, atol=0.006, obj=name)


def assert_aggregates_rebuild_the_same(engine) -> None:
    """The aggregates equal a rebuild from scratch of every stored store-day (in a transaction
    that is rolled back)."""
    with engine.connect() as conn, conn.begin() as tx:
        kept = aggregate_snapshot(conn)
        for table in AGGREGATE_TABLES:
            conn.execute(table.delete())
        STG_AFFECTED.create(conn)
        pairs = conn.execute(select(Order.store_id, Order.business_date).distinct()).all()
        if pairs:
            conn.execute(insert(STG_AFFECTED), [{"store_id": s, "day": d} for s, d in pairs])
        aggregates.refresh_from_database(conn, STG_AFFECTED)
        rebuilt = aggregate_snapshot(conn)
        tx.rollback()
    for name, frame in kept.items():
        pd.testing.assert_frame_equal(frame, rebuilt[name], check_dtype=False, atol=0.006, obj=name)


def tables(engine) -> dict[str, pd.DataFrame]:
    """Orders and lines exactly as stored (ids included), stores and products by key."""
    with engine.connect() as conn:
        return {
            "orders": pd.read_sql(select(Order.__table__).order_by(Order.id), conn),
            "items": pd.read_sql(select(OrderItem.__table__).order_by(OrderItem.order_id, OrderItem.line_no), conn),
            "stores": pd.read_sql(select(Store.code, Store.name).order_by(Store.code), conn),
            "products": pd.read_sql(select(Product.sku_key, Product.name).order_by(Product.sku_key), conn),
        }


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        every = [Store.__table__, Product.__table__, Order.__table__, OrderItem.__table__, ORDER_HISTORY,
                 ORDER_ITEM_HISTORY, *AGGREGATE_TABLES]  # fmt: skip
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in every}


def version(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(DataVersion.version)).scalar_one()


def imported(engine, settings, rows, path, **kwargs) -> int:
    result = import_file(engine, write(rows, path), settings, **kwargs)
    assert result.status == "imported", result.message
    return result.batch_id


def test_undo001_undo_overlapping_batch_gives_back_a_then_nothing(engine, settings, tmp_path):
    a = imported(engine, settings, rows_a(), tmp_path / "a.csv")
    after_a = tables(engine)
    b = imported(engine, settings, rows_b(), tmp_path / "b.csv")
    with engine.connect() as conn:  # the file that first had a store / product, whatever came later
        assert dict(conn.execute(select(Store.code, Store.created_by_batch)).all()) == {"S001": a, "S002": a, "S003": b}
        first_seen = {r["barcode"]: a for r in rows_a()} | {r["barcode"]: b for r in rows_b()
                                                             if r["barcode"] not in {x["barcode"] for x in rows_a()}}
        assert dict(conn.execute(select(Product.barcode, Product.created_by_batch)).all()) == first_seen
    assert_figures(engine, in_force(rows_a(), rows_b()))  # B really changed A's numbers ...
    with pytest.raises(AssertionError):
        assert_figures(engine, rows_a())  # ... so the check below can tell them apart
    before = version(engine)

    result = undo_batch(engine, b)

    assert_figures(engine, rows_a())
    assert_aggregates_rebuild_the_same(engine)
    now = tables(engine)
    for name, frame in after_a.items():  # the very rows A wrote, ids included
        pd.testing.assert_frame_equal(now[name], frame, check_dtype=False, obj=name)
    left = counts(engine)
    assert left["order_history"] == left["order_item_history"] == 0
    assert version(engine) == before + 1 == result.data_version
    keys = lambda rows: {r["platform_order_id"] for r in rows}  # noqa: E731
    assert result.orders_restored == len(keys(rows_a()) & keys(rows_b()))
    assert result.orders_removed == len(keys(rows_b()) - keys(rows_a()))
    assert result.stores_removed == 1 and result.products_removed == 2  # S003; 橙子, 葡萄
    assert result.affected_store_days == len({(r["store_code"], r["ordered_at"][:10]) for r in rows_a() + rows_b()
                                              if r["platform_order_id"] in keys(rows_b())})  # fmt: skip
    with engine.connect() as conn:
        row = conn.execute(select(ImportBatch.status, ImportBatch.undone_at).where(ImportBatch.id == b)).one()
    assert row.status == "undone" and row.undone_at is not None

    undo_batch(engine, a)
    assert set(counts(engine).values()) == {0}, counts(engine)


def test_undo002_undo_earlier_batch_keeps_what_later_batch_wrote(engine, settings, tmp_path):
    """An order later replaced by another batch stays as that batch left it; undoing that batch
    afterwards leaves nothing, not A's version (nor A's stores / products)."""
    a = imported(engine, settings, rows_a(), tmp_path / "a.csv")
    b = imported(engine, settings, rows_b(), tmp_path / "b.csv")
    result = undo_batch(engine, a)
    assert_figures(engine, rows_b())
    assert_aggregates_rebuild_the_same(engine)
    assert (result.orders_removed, result.orders_restored, result.orders_kept) == (2, 0, 2)  # A1 A4; A2 A3
    assert result.stores_removed == 0  # S001 and S002 still hold B's orders

    undo_batch(engine, b)
    assert set(counts(engine).values()) == {0}, counts(engine)


def test_undo003_chain_undo_middle_then_last_gives_back_first(engine, settings, tmp_path):
    a = imported(engine, settings, rows_a(), tmp_path / "a.csv")
    b = imported(engine, settings, rows_b(), tmp_path / "b.csv")
    c = imported(engine, settings, rows_c(), tmp_path / "c.csv")
    after_a_then_c = in_force(rows_a(), rows_c())

    undo_batch(engine, b)  # A2, A3 stay as C left them; B1, B2 go
    assert_figures(engine, after_a_then_c)
    assert_aggregates_rebuild_the_same(engine)

    undo_batch(engine, c)  # restores A's versions, not B's (undone)
    assert_figures(engine, rows_a())
    assert_aggregates_rebuild_the_same(engine)
    assert counts(engine)["order_history"] == 0

    undo_batch(engine, a)
    assert set(counts(engine).values()) == {0}, counts(engine)


def test_undo004_undo_twice_failed_or_unknown_batch_is_refused(engine, settings, tmp_path):
    a = imported(engine, settings, rows_a(), tmp_path / "a.csv")
    b = imported(engine, settings, rows_b(), tmp_path / "b.csv")
    undo_batch(engine, b)
    before, version_before, figures = counts(engine), version(engine), tables(engine)

    with pytest.raises(UndoRefusedError, match=rf"批次 #{b} \(b\.csv\) 已于 .* 撤销，不能再次撤销"):
        undo_batch(engine, b)
    bad = sheet(rows_a()).astype(object)
    bad.loc[0, "月售"] = "两个"
    failed = import_file(engine, write_csv(bad, tmp_path / "bad.csv"), settings)
    assert failed.status == "rejected"
    with engine.connect() as conn:
        failed_id = conn.execute(select(func.max(ImportBatch.id))).scalar_one()
    with pytest.raises(UndoRefusedError, match=rf"批次 #{failed_id} \(bad\.csv\) 导入失败"):
        undo_batch(engine, failed_id)
    with pytest.raises(UndoRefusedError, match="找不到该导入批次"):
        undo_batch(engine, failed_id + 100)

    assert counts(engine) == before and version(engine) == version_before
    for name, frame in tables(engine).items():
        pd.testing.assert_frame_equal(frame, figures[name], obj=name)
    assert_figures(engine, rows_a())
    assert a  # A itself still undoable
    undo_batch(engine, a)


def test_undo005_remove_demo_leaves_only_the_users_store(engine, settings, tmp_path):
    from db.demo_data import DemoSpec
    from db.seed import seed_demo

    seed_demo(engine, settings, DemoSpec(stores=2, days=10, seed=3))
    user = [
        *order("U1", "2026-10-20 10:00:00", [item(APPLE, 2), item(BANANA, 1)], store_code="U001",
               store_name="我的门店", **FEES),
        *order("U2", "2026-10-21 19:00:00", [item(GRAPE, 3)], store_code="U001", store_name="我的门店",
               channel="饿了么", **FEES),
    ]  # fmt: skip
    mine = imported(engine, settings, user, tmp_path / "mine.csv")
    demo = [b.id for b in list_batches(engine, source="demo")]
    assert demo and mine not in demo

    result = remove_demo(engine)

    assert [b.batch_id for b in result.batches] == sorted(demo, reverse=True)
    with engine.connect() as conn:
        assert conn.execute(select(Store.code)).scalars().all() == ["U001"]
        assert sorted(conn.execute(select(Product.barcode)).scalars()) == sorted({r["barcode"] for r in user})
    assert_figures(engine, user)
    assert_aggregates_rebuild_the_same(engine)
    assert {b.status for b in list_batches(engine, source="demo")} == {"undone"}
    assert remove_demo(engine).batches == []  # nothing left to remove, nothing changed


def test_undo006_history_list_records_and_filters(engine, settings, tmp_path):
    a_path, b_path = write(rows_a(), tmp_path / "a.csv"), write(rows_b(), tmp_path / "二月.csv")
    a = import_file(engine, a_path, settings, source="upload", created_by="alice").batch_id
    b = import_file(engine, b_path, settings).batch_id
    bad = sheet(rows_a()).astype(object)
    bad.loc[0, "月售"] = "两个"
    bad.loc[1, "实收价格"] = "abc"
    assert import_file(engine, write_csv(bad, tmp_path / "bad.csv"), settings).status == "rejected"
    undo_batch(engine, b)

    records = list_batches(engine)
    assert [r.file_name for r in records] == ["bad.csv", "二月.csv", "a.csv"]  # newest first
    first = records[-1]
    raw = pd.DataFrame(rows_a())
    assert first.id == a and first.size_bytes == a_path.stat().st_size
    assert first.sha256 == hashlib.sha256(a_path.read_bytes()).hexdigest()
    assert (first.rows, first.orders, first.stores) == (len(raw), raw["platform_order_id"].nunique(),
                                                        raw["store_code"].nunique())  # fmt: skip
    assert (str(first.min_date), str(first.max_date)) == (raw["ordered_at"].min()[:10], raw["ordered_at"].max()[:10])
    assert (first.status, first.source, first.created_by, first.error_count) == ("succeeded", "upload", "alice", 0)
    assert first.duration_s is not None and first.duration_s > 0
    assert records[1].status == "undone" and records[1].undone_at is not None
    assert (records[0].status, records[0].error_count) == ("failed", 2)

    assert [r.id for r in list_batches(engine, status="succeeded")] == [a]
    assert [r.file_name for r in list_batches(engine, source="cli", order_by="file_name")] == ["bad.csv", "二月.csv"]
    assert [r.file_name for r in list_batches(engine, search="二月")] == ["二月.csv"]
    assert [r.id for r in list_batches(engine, search=f"#{a}")] == [a]
    assert [r.id for r in list_batches(engine, search=first.sha256[:10])] == [a]
    assert [r.rows for r in list_batches(engine, order_by="-rows", status=["succeeded", "undone"])] == sorted(
        [len(rows_a()), len(rows_b())], reverse=True)  # fmt: skip
    assert len(list_batches(engine, limit=1)) == 1
    with pytest.raises(ValueError):
        list_batches(engine, order_by="error_report")


def test_undo007_undo_waits_for_a_running_import(engine, settings, tmp_path):
    """Undo takes the import lock: while another transaction holds it, the undo waits, then runs."""
    b = imported(engine, settings, rows_b(), tmp_path / "b.csv")
    done = threading.Event()
    errors: list[BaseException] = []

    def undo() -> None:
        try:
            undo_batch(engine, b)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        done.set()

    with engine.connect() as holder:
        with holder.begin():
            take_import_lock(holder)
            worker = threading.Thread(target=undo)
            worker.start()
            assert not done.wait(1.0), "undo ran while the import lock was held"
        assert done.wait(30), "undo did not run once the lock was released"
    worker.join()
    assert errors == [] and counts(engine)["orders"] == 0


def test_undo008_cli_list_undo_remove_demo(engine, settings, tmp_path):
    env = {"O2O_DATABASE_URL": settings.database_url, "O2O_DATA_DIR": str(tmp_path)}
    a = imported(engine, settings, rows_a(), tmp_path / "a.csv")
    b = imported(engine, settings, rows_b(), tmp_path / "b.csv")
    demo = imported(engine, settings, rows_c(), tmp_path / "订单明细_2026-10.csv", source="demo")

    listed = run(["scripts/import_orders.py", "--list"], env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["批次", "状态", "来源"]
    assert [line.split()[0] for line in lines[1:]] == [f"#{demo}", f"#{b}", f"#{a}"]
    assert "演示" in lines[1] and "b.csv" in lines[2] and "2026-11-01 ~ 2026-11-02" in lines[3]

    undone = run(["scripts/import_orders.py", "--undo", str(b)], env)
    assert undone.returncode == 0, undone.stderr
    assert f"已撤销批次 #{b} (b.csv)：删除订单 2 单，恢复被该批次替换的订单 0 单" in undone.stdout
    again = run(["scripts/import_orders.py", "--undo", str(b)], env)
    assert again.returncode == 1 and "不能再次撤销" in again.stderr

    removed = run(["scripts/import_orders.py", "--remove-demo", "--list"], env)
    assert removed.returncode == 0, removed.stderr
    assert f"已移除演示数据 (1 个批次: #{demo} 订单明细_2026-10.csv)" in removed.stdout
    assert_figures(engine, rows_a())  # B undone, then C's versions of A2 / A3 gave A's back

    nothing = run(["scripts/import_orders.py"], env)
    assert nothing.returncode == 2 and "--list" in nothing.stderr


def test_undo009_running_server_shows_the_undo_within_two_seconds(empty_database_url, private_redis, tmp_path):
    """The production launcher (2 workers, every cache tier on) seeds its demo; a file adds an
    order to a demo store's last day; after its undo every worker serves the old KPI within 2 s."""
    from components import format as fmt
    from config import Settings
    from db.demo_data import FEE_CHANNELS
    from db.engine import make_engine
    from tests.integration.test_app import kpi_payload, kpi_values
    from tests.live_server import live_server

    def served(url: str, store_id: int, day: str) -> tuple[str, str]:
        """(订单, 实收) on the KPI cards of ``day`` for the store, as the browser receives them."""
        body = json.dumps(kpi_payload([store_id], day, day, ["all"])).encode()
        request = urllib.request.Request(f"{url}/_dash-update-component", data=body,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            values = kpi_values(json.load(response))
        return values["orders"], values["revenue"]

    def settle(url, store_id, day, wanted, seconds) -> float:
        """Seconds until what is served passes ``wanted`` for 10 requests running (answered by
        both workers, each with its own version check); fails after ``seconds``."""
        started, streak, since = time.monotonic(), 0, None
        while streak < 10:
            now = served(url, store_id, day)
            if wanted(now):
                streak, since = streak + 1, since or time.monotonic()
            else:
                streak, since = 0, None
                assert time.monotonic() - started < seconds, now
                time.sleep(0.05)
        elapsed = since - started
        assert elapsed < seconds
        return elapsed

    with live_server(tmp_path / "var", empty_database_url, private_redis.url, O2O_WORKERS="2") as server:
        engine = make_engine(empty_database_url)
        try:
            with engine.connect() as conn:
                store_id, code, name = conn.execute(select(Store.id, Store.code, Store.name).limit(1)).one()
                day = str(conn.execute(select(func.max(Order.business_date))).scalar_one())
                orders = conn.execute(  # 异常订单 (fee channel, platform fee 0) are not counted
                    select(func.count()).where(Order.store_id == store_id, Order.business_date == day,
                                               ~(Order.platform_fee_zero & Order.channel.in_(FEE_CHANNELS)))
                ).scalar_one()  # fmt: skip
            base = served(server.url, store_id, day)
            assert base[0] == fmt.count(orders)  # what the server shows is this store-day
            extra = order("LIVE-1", f"{day} 12:00:00", [item(APPLE, 3, received_price=41.0)], store_code=code,
                          store_name=name, channel="饿了么", service_fee=1.0)  # fmt: skip
            settings = Settings.from_env({}, database_url=empty_database_url, data_dir=tmp_path / "import")
            batch = imported(engine, settings, extra, tmp_path / "live.csv")
            added = fmt.money(float(re.sub(r"[^\d.]", "", base[1])) + 123.0)  # 3 × 41.0 more
            settle(server.url, store_id, day, lambda shown: shown == (fmt.count(orders + 1), added), 2.0)

            undo_batch(engine, batch)
            elapsed = settle(server.url, store_id, day, lambda shown: shown == base, 2.0)
        finally:
            engine.dispose()
    print(f"undo visible on every worker after {elapsed:.2f} s")
