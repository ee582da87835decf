"""Views summed from the read model's tables: each table is read from the database once per data
version, every other store / channel / window combination is assembled in memory, the hit rate
counts only requests that ran SQL as computed, and every total agrees with its SQL twin in
tests/oracle (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
import time

import pandas as pd
import pytest

from analytics.breakdowns import channel_table
from config.readmodel import VERSION_CHECK_S
from config.rules import RuleSettings
from db import queries
from db.demo_data import DemoSpec, generate_orders, write_exports
from db.engine import reading
from db.importer import import_file
from readmodel import totals
from readmodel.selection import Selection
from services import analysis, todo
from services.runtime import Runtime, build_runtime
from services.tables import records
from tests.factories import order, sheet, write_csv
from tests.live_server import free_port
from tests.oracle import sql_totals as oracle

SPEC = DemoSpec(stores=3, days=14, seed=5)


@pytest.fixture
def cached_runtime(engine, settings, tmp_path):
    """A runtime with the real four-tier cache (Redis on a closed port: L1 and L2 answer)."""
    lines, _truth = generate_orders(SPEC)
    for path in write_exports(lines, tmp_path / "demo"):
        assert import_file(engine, path, settings).status == "imported"
    settings = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    runtime = build_runtime(settings)
    yield runtime
    runtime.engine.dispose()


def _oracle(runtime: Runtime, query, selection: Selection, *args):
    """The SQL twin ``query(conn, scope, *args)`` of a read-model total, on the database."""
    with reading(runtime.engine) as conn:
        return query(conn, oracle.Scope.of(selection, runtime.settings.fee_channels), *args)


def _counts(runtime: Runtime, view: str) -> tuple:
    snap = runtime.cache.snapshot()
    row = snap["views"].get(view, {})
    return snap["requests"], snap["computed"], snap["assembled"], (row.get("requests"), row.get("computed"),
                                                                   row.get("assembled"))  # fmt: skip


def test_pieces001_new_combinations_are_assembled_without_sql(cached_runtime, settings):
    runtime, end = cached_runtime, SPEC.end_date
    week = Selection.build(end - dt.timedelta(days=6), end)
    one_store = Selection.build(end - dt.timedelta(days=13), end, stores=[1], channels=["美团闪购", "饿了么"])
    view = "services.analysis.channel_analysis"

    first = analysis.channel_analysis(runtime, week)  # reads the channel table: SQL
    assert _counts(runtime, view) == (1, 1, 0, (1, 1, 0))
    other = analysis.channel_analysis(runtime, one_store)  # a new combination, the table in memory
    assert _counts(runtime, view) == (2, 1, 1, (2, 1, 1))
    assert analysis.channel_analysis(runtime, one_store) is other  # the view itself is now cached
    snap = runtime.cache.snapshot()
    assert snap["requests"] == 3
    assert (snap["hit_rate"], snap["view_hit_rate"]) == (pytest.approx(2 / 3), pytest.approx(1 / 3))
    assert set(snap["views"]) == {view}  # tables are part of a request, not views

    analysis.product_analysis(runtime, week, 0.5, 0.3)  # the product table is read (SQL), and basket depths
    assert runtime.cache.snapshot()["computed"] == 2
    todo.daily_trend(runtime, one_store)  # the same table serves the trend
    assert _counts(runtime, "services.todo.daily_trend") == (5, 2, 2, (1, 0, 1))

    # SQLite sums REALs in row order (the tables' sums are exact, like PostgreSQL's NUMERIC)
    for memory, filters in ((first, week), (other, one_store)):
        sql = channel_table(_oracle(runtime, oracle.channel_totals, filters), RuleSettings().channel)
        assert _oracle(runtime, oracle.abnormal_count, filters) == memory["abnormal"] and len(memory["channels"]) > 0
        _same(pd.DataFrame(memory["channels"]), pd.DataFrame(records(sql)), "channel_analysis")


def test_pieces002_an_import_replaces_the_tables(cached_runtime, engine, settings, tmp_path):
    runtime, end = cached_runtime, SPEC.end_date
    day = Selection.build(end, end, channels=["京东到家"])
    before = analysis.channel_analysis(runtime, day)["channels"]
    orders_before = sum(r["orders"] for r in before)
    extra = sheet(order("PIECE-1", f"{end.isoformat()} 10:00:00", [{"received_price": 9.0}], channel="京东到家",
                        service_fee=0.5))  # fmt: skip
    assert import_file(engine, write_csv(extra, tmp_path / "more.csv"), settings).status == "imported"
    time.sleep(VERSION_CHECK_S + 0.1)
    after = analysis.channel_analysis(runtime, day)["channels"]
    assert sum(r["orders"] for r in after) == orders_before + 1
    assert runtime.cache.snapshot()["computed"] == 2  # the new version's table was read again


SELECTIONS = [  # (days back from the end, window length, stores, channels)
    (0, 7, None, None),
    (0, 1, [2], None),
    (3, 14, [1, 3], ["美团闪购", "自营小程序"]),
    (0, 30, None, ["饿了么"]),
    (60, 7, None, None),  # before the data: empty
]


@pytest.mark.parametrize("selection", SELECTIONS)
def test_pieces003_read_model_totals_agree_with_the_sql_oracle(cached_runtime, selection):
    back, days, stores, channels = selection
    end = SPEC.end_date - dt.timedelta(days=back)
    start = end - dt.timedelta(days=days - 1)
    chosen = Selection.build(start, end, stores, channels)
    every_store = dataclasses.replace(chosen, store_ids=None)
    both_periods = chosen.window(start - dt.timedelta(days=days), end)
    model = Runtime(cached_runtime.settings, cached_runtime.engine, None).tables  # no view cache
    for total, query, on, args in (
        (totals.daily_totals, oracle.daily_totals, chosen, ()),
        (totals.daily_totals, oracle.daily_totals, chosen, (True,)),
        (totals.store_totals, oracle.store_totals, every_store, ()),
        (totals.store_totals, oracle.store_totals, dataclasses.replace(both_periods, store_ids=None), (start,)),
        (totals.store_totals, oracle.store_totals, both_periods, (start,)),
        (totals.hourly_totals, oracle.hourly_totals, chosen, ()),
        (totals.distance_totals, oracle.distance_totals, chosen, ()),
        (totals.product_days, oracle.product_days, chosen, ()),
        (totals.product_totals, oracle.product_totals, chosen, ()),
        (totals.category_days, oracle.category_days, chosen, ()),
        (totals.basket_depths, oracle.basket_depths, chosen, ()),
    ):  # fmt: skip
        _same(total(model, on, *args), _oracle(cached_runtime, query, on, *args), total.__name__)
    memory, abnormal = totals.channel_totals(model, chosen)
    _same(memory, _oracle(cached_runtime, oracle.channel_totals, chosen), "channel_totals")
    assert abnormal == _oracle(cached_runtime, oracle.abnormal_count, chosen)
    with reading(cached_runtime.engine) as conn:
        spans = oracle.store_data_spans(conn)
        directory = queries.stores(conn)
    names = dict(zip(directory["id"], directory["name"], strict=True))
    _same(totals.store_data_spans(model), spans, "store_data_spans")
    assert totals.store_names(model) == names
    periods = {"current": (start, end), "previous": (start - dt.timedelta(days=days), start - dt.timedelta(days=1))}
    skus = totals.active_sku_counts(model, chosen, periods)
    assert skus == _oracle(cached_runtime, oracle.active_sku_counts, chosen, periods)
    if back == 0 and days == 7:  # the demo's data: the comparison is not between two empty answers
        assert skus["current"] > 0


def _same(memory: pd.DataFrame, sql: pd.DataFrame, what: str) -> None:
    keys = [c for c in sql.columns if not pd.api.types.is_float_dtype(sql[c])]  # measures are floats
    memory = memory.sort_values(keys).reset_index(drop=True) if keys else memory
    sql = sql.sort_values(keys).reset_index(drop=True) if keys else sql
    assert list(memory.columns) == list(sql.columns), what
    assert len(memory) == len(sql), what
    pd.testing.assert_frame_equal(memory, sql, check_dtype=False, rtol=1e-9, obj=what)


def test_pieces004_order_tables_list_what_the_sql_lists(cached_runtime, engine, settings, tmp_path):
    """Basket depths, the orders the 今日必做 rules flag and the 异常订单 list come from the read
    model's tables, also in another process (mapped from the host's files), as the SQL lists them."""
    from analytics.diagnosis_rules import costly_delivery_orders, loss_orders
    rules = RuleSettings().todo  # the defaults

    end = SPEC.end_date
    store = {"store_code": "T900", "store_name": "测试-片段店", "city": "测试城"}
    extra = sheet(
        order("ABN-1", f"{end.isoformat()} 09:00:00", [{"received_price": 9.0}], **store),  # fee channel, fee 0
        order("ABN-2", f"{end.isoformat()} 09:00:00", [{"received_price": 7.0}], **store),  # same time: id decides
        order("LOSS-1", f"{end.isoformat()} 11:00:00", [{"received_price": 8.0, "cost": 15.0},
                                                              {"product_name": "香蕉", "barcode": "6901234567893",
                                                               "product_code": "P002", "cost": 15.0}],
              service_fee=1.0, **store),
        order("FAR-1", f"{end.isoformat()} 12:00:00", [{"received_price": 20.0}], delivery_fee=9.0,
              service_fee=1.0, distance_km=7.5, **store),
    )  # fmt: skip
    assert import_file(engine, write_csv(extra, tmp_path / "orders.csv"), settings).status == "imported"
    time.sleep(VERSION_CHECK_S + 0.1)
    other = build_runtime(cached_runtime.settings)  # a new process: the tables mapped from the host's files
    names = totals.store_names(other.tables)
    t900 = next(i for i, n in names.items() if n == "测试-片段店")
    for back, days, stores, channels in [*SELECTIONS, (0, 1, [t900], None), (0, 3, [t900, 1], ["美团闪购"])]:
        day = end - dt.timedelta(days=back)
        chosen = Selection.build(day - dt.timedelta(days=days - 1), day, stores, channels)
        last_day = chosen.window(day, day)
        answers = []
        for runtime in (cached_runtime, other):
            flagged = totals.rule_orders(runtime.tables, chosen, rules.costly_delivery_fee)
            total, listed = totals.abnormal_orders(runtime.tables, chosen, 50, rules.costly_delivery_fee)
            answers.append((
                totals.basket_depths(runtime.tables, chosen),
                loss_orders(flagged), costly_delivery_orders(flagged, rules.costly_delivery_fee),
                total, listed,
            ))  # fmt: skip
        day_orders = _oracle(cached_runtime, oracle.day_orders, last_day)
        sql = (_oracle(cached_runtime, oracle.basket_depths, chosen), loss_orders(day_orders),
               costly_delivery_orders(day_orders, rules.costly_delivery_fee),
               *_oracle(cached_runtime, oracle.abnormal_orders, chosen, 50))  # fmt: skip
        for memory in answers:
            for i, what in ((0, "basket_depths"), (1, "loss_orders"), (2, "costly_delivery_orders")):
                _same(memory[i], sql[i], what)
            assert memory[3] == sql[3]
            pd.testing.assert_frame_equal(memory[4].astype({"ordered_at": object}), sql[4].astype(
                {"ordered_at": object}), check_dtype=False, obj="abnormal_orders")  # fmt: skip
    # the hand-made orders were found: the comparisons above were not between empty answers
    day_one = analysis.abnormal_orders(cached_runtime, Selection.build(end, end, stores=[t900]))
    assert [o["platform_order_id"] for o in day_one["orders"]] == ["ABN-2", "ABN-1"]
    assert analysis.abnormal_orders(other, Selection.build(end, end, stores=[t900])) == day_one
    flagged = totals.rule_orders(other.tables, Selection.build(end, end, [t900]), rules.costly_delivery_fee)
    assert set(flagged["platform_order_id"]) == {"LOSS-1", "FAR-1"}
    depths = totals.basket_depths(other.tables, Selection.build(end, end, [t900]))
    assert dict(zip(depths["depth"], depths["orders"], strict=True)) == {1: 1, 2: 1}  # the abnormal ones left out
    week = Selection.build(end - dt.timedelta(days=6), end)
    ids = [int(i) for i in totals.product_days(cached_runtime.tables, week)["product_id"][:5]]
    with reading(engine) as conn:
        assert totals.product_names(other.tables, ids) == oracle.product_names(conn, ids) and ids
    other.engine.dispose()


def test_pieces005_todo_order_items_are_orders_ranked_by_their_losses(cached_runtime, engine, settings, tmp_path):
    """穿底订单 items: one per order, largest loss first; 紧急 only the orders losing at least
    URGENT_MIN_AMOUNT, the smaller losses 关注; each group counts and totals all its orders
    beyond the listed ones — the same with and without the view cache."""
    rules = RuleSettings().todo  # the defaults

    end = SPEC.end_date
    orders = []
    n_stores = rules.max_items_per_rule + 2
    for i in range(n_stores):  # store i: i + 1 orders losing 8 (8 − 15 − 1) and one losing 23 + i
        store = {"store_code": f"L{i:02d}", "store_name": f"测试-亏损{i:02d}", "city": "测试城", "service_fee": 1.0}
        for k in range(i + 1):
            orders.append(order(f"L{i}-{k}", f"{end.isoformat()} 1{k % 10}:00:00",
                                [{"received_price": 8.0, "cost": 15.0}], **store))  # fmt: skip
        orders.append(order(f"W{i}", f"{end.isoformat()} 09:30:00", [{"received_price": 8.0, "cost": 30.0 + i}],
                            **store))  # fmt: skip
    assert import_file(engine, write_csv(sheet(*orders), tmp_path / "loss.csv"), settings).status == "imported"
    time.sleep(VERSION_CHECK_S + 0.1)
    ids = {name: i for i, name in totals.store_names(Runtime(settings, engine, None).tables).items()}
    stores = [ids[f"测试-亏损{i:02d}"] for i in range(n_stores)]
    filters = Selection.build(end, end, stores=stores)
    memory = todo.todo_list(cached_runtime, filters)
    sql = todo.todo_list(Runtime(settings, engine, None), filters)
    assert memory == sql
    assert rules.urgent_min_amount > 8 and rules.urgent_min_amount <= 23  # the two kinds of order fall apart
    (urgent,) = [g for g in memory["urgent"] if g["rule"] == "loss_orders"]
    assert urgent["count"] == n_stores and urgent["amount"] == pytest.approx(sum(23 + i for i in range(n_stores)))
    assert [item["object"] for item in urgent["items"]] == [f"W{i}" for i in range(n_stores - 1, 1, -1)]
    first = urgent["items"][0]
    assert first["kind"] == "order" and first["amount"] == pytest.approx(23 + n_stores - 1)
    assert first["store"] == f"测试-亏损{n_stores - 1:02d}" and first["channel"] == "美团闪购"
    assert first["facts"]["actual_profit"] == pytest.approx(-(23 + n_stores - 1))
    assert isinstance(first["order_id"], int)  # the detail view's key
    (watch,) = [g for g in memory["watch"] if g["rule"] == "loss_orders"]
    small = sum(i + 1 for i in range(n_stores))
    assert watch["count"] == small and watch["amount"] == pytest.approx(8 * small)
    assert len(watch["items"]) == rules.max_items_per_rule and all(i["amount"] == 8 for i in watch["items"])


def test_pieces006_product_focus_lists_every_day_of_one_sku(cached_runtime, engine, settings, tmp_path):
    """商品分析 ``?sku=`` (a 今日必做 link): the SKU's totals and every day of the period, the days
    without a sale as zeros (a stock-out shows), the same with and without the view cache."""

    end = SPEC.end_date
    store = {"store_code": "F900", "store_name": "测试-聚焦店", "city": "测试城", "service_fee": 1.0}
    sku = {"product_name": "测试聚焦商品", "barcode": "6909999999999", "product_code": "F001", "cost": 5.0}
    two_days_ago = (end - dt.timedelta(days=2)).isoformat()
    extra = sheet(
        order("F-1", f"{two_days_ago} 10:00:00", [{**sku, "received_price": 8.0, "quantity": 3}], **store),
        order("F-2", f"{two_days_ago} 11:00:00", [{**sku, "received_price": 7.0, "quantity": 1}], **store),
        order("F-3", f"{end.isoformat()} 10:00:00", [{**sku, "received_price": 4.0, "quantity": 2}], **store),
    )  # fmt: skip
    assert import_file(engine, write_csv(extra, tmp_path / "focus.csv"), settings).status == "imported"
    time.sleep(VERSION_CHECK_S + 0.1)
    plain = Runtime(settings, engine, None)
    store_id = next(i for i, n in totals.store_names(plain.tables).items() if n == "测试-聚焦店")
    sold = totals.product_days(plain.tables, Selection.build(end, end, [store_id]))
    product_id = next(int(p) for p in sold["product_id"])
    filters = Selection.build(end - dt.timedelta(days=3), end, stores=[store_id])
    focus = analysis.product_focus(cached_runtime, filters, product_id)
    assert focus == analysis.product_focus(plain, filters, product_id)
    # 商品采购成本 is the line's cost (5 per line). 4 days: nothing; 3 × 8 + 1 × 7 = 31 for 4 units,
    # cost 10; nothing; 2 × 4 = 8 for 2 units, cost 5
    daily = [(r["day"], r["quantity"], r["revenue"], r["cost"]) for r in focus["daily"]]
    days = [(end - dt.timedelta(days=back)).isoformat() for back in (3, 2, 1, 0)]
    assert daily == [(days[0], 0, 0, 0), (days[1], 4, 31, 10), (days[2], 0, 0, 0), (days[3], 2, 8, 5)]
    everywhere = analysis.product_focus(plain, dataclasses.replace(filters, store_ids=None), product_id)
    assert everywhere["daily"] == focus["daily"]  # only this store sells it: the chain table agrees
    summary = focus["summary"]
    assert summary["name"] == "测试聚焦商品" and summary["selling_days"] == 2
    assert summary["revenue"] == pytest.approx(39) and summary["unit_price"] == pytest.approx(39 / 6)
    assert summary["unit_cost"] == pytest.approx(15 / 6) and summary["profit"] == pytest.approx(24)
    assert analysis.product_focus(plain, filters, 987654321) == {"found": False}


# -- the pieces files under fire (real launcher, 2 workers) ----------------------------------------


def _worker_pids(server) -> list[int]:
    import psutil

    return [p.pid for p in psutil.Process(server.process.pid).children()
            if "resource_tracker" not in " ".join(p.cmdline())]  # fmt: skip


def _in_use(pids: list[int]) -> set[str]:
    """Names of the pieces files any of ``pids`` maps or has open (from /proc)."""
    import os

    names = set()
    for pid in pids:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
            names |= {line.split("/")[-1].strip().removesuffix(" (deleted)") for line in maps if "/tables/" in line}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if "/tables/" in target:
                names.add(target.split("/")[-1].removesuffix(" (deleted)"))
    return names


def _renamed_onto(path, data: bytes) -> None:
    incoming = path.with_name(".operator-incoming")
    incoming.write_bytes(data)
    incoming.replace(path)


def _damage_at_rest(files: list, actions: dict) -> None:
    """Files no process maps (the instance is stopped): changed in place the ways a person or a
    second program could (a copy of another piece over it, garbage into it, cut short)."""
    for i, path in enumerate(sorted(files)):
        data = path.read_bytes()
        kind = ("copy of another piece", "garbage written into it", "cut short in place")[i % 3]
        with open(path, "r+b") as file:  # the app's files are read-only; root writes anyway
            if kind == "copy of another piece":
                other = sorted(files)[(i + 1) % len(files)].read_bytes()
                file.write(other)
                file.truncate(len(other))
            elif kind == "garbage written into it":
                file.seek(len(data) // 2)
                file.write(b"\xff" * 64)
            else:
                file.truncate(len(data) // 3)
        actions[kind] = actions.get(kind, 0) + 1


def _damage_under_load(directory, pids: list[int], done: dict, actions: dict) -> None:
    """One round while the workers serve: they are paused, so "not mapped" stays true while a
    file no worker maps or holds open is changed in place; a file in use only ever gets a new
    file renamed onto its name (garbage, a short copy, another piece). ``done``: name → inodes
    already damaged (at most two per name)."""
    import os
    import signal

    kinds = ("garbage renamed onto it", "a short copy renamed onto it", "another piece renamed onto it")
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        busy = _in_use(pids)
        current = sorted(directory.glob("v*.arrow"))
        for path in current:
            try:
                inode = path.stat().st_ino
            except FileNotFoundError:
                continue
            seen = done.setdefault(path.name, set())
            if inode in seen or len(seen) >= 2:
                continue
            data = path.read_bytes()
            if path.name not in busy:
                with open(path, "r+b") as file:
                    file.seek(len(data) // 2)
                    file.write(os.urandom(64))
                kind = "garbage into a file no worker maps"
            else:
                kind = kinds[sum(actions.get(k, 0) for k in kinds) % 3]
                others = [p for p in current if p != path]
                if kind == "garbage renamed onto it":
                    content = os.urandom(len(data))
                elif kind == "a short copy renamed onto it" or not others:
                    content = data[: len(data) // 2]
                else:
                    content = others[0].read_bytes()
                _renamed_onto(path, content)
            seen.add(inode)
            seen.add(path.stat().st_ino)
            actions[kind] = actions.get(kind, 0) + 1
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def _load(server, seconds: int, report) -> subprocess.Popen:
    import sys

    from config import PROJECT_ROOT

    return subprocess.Popen([sys.executable, str(PROJECT_ROOT / "scripts" / "load_test.py"), "4", "--duration",
                             str(seconds), "--spawn-rate", "4", "--host", server.url, "--json", str(report)],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


@pytest.mark.parametrize("backend", ["postgresql"])  # the pieces files do not depend on the database
def test_pieces007_damaged_pieces_files_never_kill_a_worker(empty_database_url, private_redis, tmp_path):
    """The production launcher with 2 workers under replayed callbacks while its pieces files are
    damaged: at rest (in place, the instance stopped) and under load (in place only while no
    worker maps the file; otherwise a new file renamed onto the name), and a data import makes
    every worker load new files meanwhile. No worker dies, no request fails, every bad file is
    dropped with one log line and computed again."""
    import json

    import redis

    from config import Settings
    from db.engine import make_engine
    from tests.live_server import live_server

    data_dir = tmp_path / "var"
    pieces_dir = data_dir / "tables"
    with live_server(data_dir, empty_database_url, private_redis.url, O2O_WORKERS="2") as server:
        warm = _load(server, 8, tmp_path / "warm.json")
        assert warm.wait(timeout=120) == 0, warm.stdout.read()
    files = list(pieces_dir.glob("v*.arrow"))
    assert len(files) >= 5, files
    actions: dict[str, int] = {}
    _damage_at_rest(files, actions)
    redis.Redis.from_url(private_redis.url).flushall()  # views come from the pieces again, not from L2/L3
    shutil.rmtree(data_dir / "cache", ignore_errors=True)

    settings = Settings.from_env({}, database_url=empty_database_url, data_dir=tmp_path / "import")
    engine = make_engine(empty_database_url)
    end = DemoSpec().end_date
    with live_server(data_dir, empty_database_url, private_redis.url, O2O_WORKERS="2") as server:
        pids = _worker_pids(server)
        assert len(pids) == 2
        report = tmp_path / "load.json"
        load = _load(server, 25, report)
        done: dict = {}
        started, imported = time.monotonic(), 0
        while load.poll() is None:
            if imported < 2 and time.monotonic() - started > 6 + 8 * imported:  # every worker maps new files
                extra = sheet(order(f"FIRE-{imported}", f"{end.isoformat()} 10:0{imported}:00",
                                    [{"received_price": 9.0}]))  # fmt: skip
                assert import_file(engine, write_csv(extra, tmp_path / f"fire{imported}.csv"), settings).status == (
                    "imported")  # fmt: skip
                imported += 1
            _damage_under_load(pieces_dir, pids, done, actions)
            time.sleep(0.2)
        output = load.stdout.read()
        assert _worker_pids(server) == pids, server.log_tail()
        log = server.log_tail(200_000)
    engine.dispose()
    result = json.loads(report.read_text(encoding="utf-8"))
    assert result["total"]["requests"] > 100 and result["total"]["failures"] == 0, output
    assert result["exceptions"] == [], output
    assert "退出码" not in log and "Traceback" not in log, log[-3000:]
    assert actions.get("garbage into a file no worker maps", 0) + actions["garbage written into it"] > 0, actions
    assert sum(actions.values()) >= len(files) + 4, actions
    dropped = log.count("dropped and computed again")
    assert dropped >= len(files), (actions, log[-3000:])
    print("pieces under fire:", actions, "dropped:", dropped, "requests:", result["total"]["requests"])


def test_pieces008_abnormal_rule_and_its_sql_form_agree(cached_runtime):
    """readmodel.abnormal (the rule) and db.queries.abnormal_clause (its SQL form) pick the same
    orders of the demo data, per store and channel."""
    from sqlalchemy import func, select

    from db.models import Order
    from readmodel.abnormal import abnormal_mask

    fee_channels = cached_runtime.settings.fee_channels
    table = cached_runtime.tables.flagged_orders(RuleSettings().todo.costly_delivery_fee)  # holds every abnormal order
    picked = table[abnormal_mask(table, None, fee_channels)]
    mine = picked.groupby(["store_id", picked["channel"].astype(str)]).size().to_dict()
    o = Order.__table__.c
    query = select(o.store_id, o.channel, func.count()).where(queries.abnormal_clause(o, fee_channels)).group_by(
        o.store_id, o.channel)  # fmt: skip
    with reading(cached_runtime.engine) as conn:
        sql = {(int(s), c): int(n) for s, c, n in conn.execute(query)}
    assert mine == sql and sum(sql.values()) > 0
