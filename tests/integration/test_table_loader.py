"""Tables of a big source are loaded by a child process (readmodel.elsewhere): the serving
process only maps the files it wrote, and falls back to loading them itself when the child fails."""

from __future__ import annotations

import dataclasses
import logging
import sys

import pandas as pd
import pytest

from db.importer import import_file
from readmodel import tables as read_tables
from services.runtime import Runtime
from tests.factories import order, sheet, write_csv

NAMES = ("channel", "hour", "distance", "product", "depth")


@pytest.fixture
def imported(engine, settings, tmp_path):
    rows = []
    for n, (store, code) in enumerate([("测试-甲店", "S001"), ("测试-乙店", "S002")] * 3):
        rows.append(order(f"L-{n}", f"2026-11-0{1 + n % 3} 1{n}:00:00",
                          [{"received_price": 10.0 + n, "quantity": 1 + n % 2},
                           {"product_name": "香蕉", "barcode": "6901234567893", "product_code": "P002",
                            "received_price": 4.0, "quantity": 0 if n == 2 else 2}],
                          store_name=store, store_code=code, channel=["美团闪购", "饿了么"][n % 2]))  # fmt: skip
    assert import_file(engine, write_csv(sheet(*rows), tmp_path / "orders.csv"), settings).status == "imported"
    return engine


def _every_table(model) -> dict[str, pd.DataFrame]:
    found = {name: model.table(name) for name in NAMES} | {"orders": model.flagged_orders(3.0)}
    found.update({f"{name}_chain": model.chain_table(name) for name in read_tables.CHAIN_TABLES})
    return {name: pd.DataFrame({c: frame[c].to_numpy() for c in frame.columns}) for name, frame in found.items()}


def test_loader001_a_child_writes_the_tables_this_process_maps(imported, settings, tmp_path, monkeypatch):
    expected = _every_table(Runtime(settings=settings, engine=imported).tables)  # loaded here
    elsewhere = dataclasses.replace(settings, data_dir=str(tmp_path / "other"), table_process_rows=0)

    def not_here(conn):
        raise AssertionError("loaded by the serving process")

    monkeypatch.setattr(read_tables, "TABLES", {**read_tables.TABLES, **dict.fromkeys(NAMES, not_here)})
    monkeypatch.setattr(read_tables.chain, "build", not_here)
    monkeypatch.setattr(read_tables, "flagged_orders_table", not_here)
    found = _every_table(Runtime(settings=elsewhere, engine=imported).tables)
    assert found.keys() == expected.keys()
    for name, frame in expected.items():
        assert len(frame), name
        pd.testing.assert_frame_equal(found[name], frame, obj=name)


def test_loader002_a_failed_child_leaves_the_load_to_this_process(imported, settings, tmp_path, monkeypatch, caplog):
    expected = _every_table(Runtime(settings=settings, engine=imported).tables)
    elsewhere = dataclasses.replace(settings, data_dir=str(tmp_path / "other"), table_process_rows=0)
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the child exits 1 at once
    with caplog.at_level(logging.WARNING, logger="readmodel.elsewhere"):
        found = _every_table(Runtime(settings=elsewhere, engine=imported).tables)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(found[name], frame, obj=name)
    assert any("loading here" in r.getMessage() for r in caplog.records)


def test_loader003_small_sources_stay_in_the_serving_process(imported, settings, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(read_tables, "write_elsewhere", lambda job, timeout: calls.append(job) or False)
    model = Runtime(settings=dataclasses.replace(settings, table_process_rows=1_000_000), engine=imported).tables
    assert len(model.table("product")) and calls == []
    big = Runtime(settings=dataclasses.replace(settings, data_dir=str(tmp_path / "b"), table_process_rows=1),
                  engine=imported).tables  # fmt: skip
    assert len(big.chain_table("product")) and [job["tables"] for job in calls] == [["product"]]
