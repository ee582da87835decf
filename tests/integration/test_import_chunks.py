"""The importer in partitions (O2O_IMPORT_CHUNK_LINES small): the same rows as a one-chunk import,
every error of every chunk with its file row, per-line shares summed across chunks, GB18030 and
XLSX in chunks, real progress — on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, func, select

from db.importer import chunks, import_file
from db.models import (
    AGGREGATE_TABLES,
    ORDER_HISTORY,
    ORDER_ITEM_HISTORY,
    ImportBatch,
    Order,
    OrderItem,
    Product,
    Store,
)
from tests.factories import write_csv, write_xlsx
from tests.integration.test_layout import KEY, assert_same_orders, demo_lines, split_per_line

SMALL = 97  # lines per partition in the chunked runs: the demo file makes ~15 partitions


def scattered(lines: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    """The lines in a random order: the lines of one order end up far apart in the file."""
    order = np.random.default_rng(seed).permutation(len(lines))
    return lines.iloc[order].reset_index(drop=True)


def widest_order_gap(lines: pd.DataFrame) -> int:
    """Largest distance in the file between two lines of one order."""
    positions = pd.Series(np.arange(len(lines)), index=pd.MultiIndex.from_frame(lines[KEY]))
    grouped = positions.groupby(level=[0, 1])
    return int((grouped.max() - grouped.min()).max())


def snapshot(engine) -> dict[str, pd.DataFrame]:
    """Every stored table with natural keys in place of generated ids, sorted."""
    with engine.connect() as conn:
        stores = pd.read_sql(select(Store.id, Store.code, Store.name, Store.city, Store.franchise_type), conn)
        products = pd.read_sql(
            select(Product.id, Product.sku_key, Product.barcode, Product.store_code, Product.name,
                   Product.category_l1, Product.category_l3, Product.is_consumable), conn,
        )  # fmt: skip
        orders = pd.read_sql(select(Order), conn)
        items = pd.read_sql(select(OrderItem), conn)
        aggs = {t.name: pd.read_sql(select(t), conn) for t in AGGREGATE_TABLES}
    store_code = dict(zip(stores["id"], stores["code"], strict=True))
    sku = dict(zip(products["id"], products["sku_key"], strict=True))
    order_key = dict(zip(orders["id"], orders["channel"] + "|" + orders["platform_order_id"], strict=True))
    orders["store_id"] = orders["store_id"].map(store_code)
    items["order_id"] = items["order_id"].map(order_key)
    items["product_id"] = items["product_id"].map(sku)
    result = {
        "stores": stores.drop(columns="id"),
        "products": products.drop(columns="id"),
        "orders": orders.drop(columns=["id", "import_batch_id"]),
        "order_items": items,
    }
    for name, frame in aggs.items():
        frame["store_id"] = frame["store_id"].map(store_code)
        if "product_id" in frame:
            frame["product_id"] = frame["product_id"].map(sku)
        frame["day"] = frame["day"].astype(str)
        result[name] = frame
    for name, frame in result.items():
        frame = frame.astype({c: str for c in frame.columns if frame[c].dtype == object})
        result[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return result


def wipe(engine) -> None:
    with engine.begin() as conn:
        for table in [*AGGREGATE_TABLES, OrderItem.__table__, Order.__table__, Product.__table__,
                      Store.__table__, ImportBatch.__table__, ORDER_HISTORY, ORDER_ITEM_HISTORY]:  # fmt: skip
            conn.execute(delete(table))


def assert_same_tables(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert len(a[name]) > 0, name
        pd.testing.assert_frame_equal(a[name], b[name], check_dtype=False, obj=name)


def chunked(settings, lines: int = SMALL):
    return dataclasses.replace(settings, import_chunk_lines=lines)


def imported(engine, path, settings, progress=None) -> None:
    result = import_file(engine, path, settings, on_progress=progress)
    assert result.status == "imported", result.message[:3000]


@pytest.mark.parametrize("kind", ["utf-8", "gb18030", "xlsx"])
def test_chunks001_partitions_store_exactly_what_one_chunk_stores(engine, settings, tmp_path, kind):
    lines = scattered(demo_lines())
    assert widest_order_gap(lines) > 5 * SMALL  # orders are split across chunks of the file
    # cells padded with whitespace str.strip() removes (an ideographic space too) are stored stripped
    padded = lines.assign(门店名称=" " + lines["门店名称"] + "\u3000", 月售=lines["月售"].astype(str) + "\t")
    if kind == "xlsx":
        path = write_xlsx(padded, tmp_path / "scattered.xlsx")
    else:
        path = write_csv(padded, tmp_path / "scattered.csv", encoding=kind)
    imported(engine, path, settings)  # default chunk size: the whole file is one partition
    whole = snapshot(engine)
    wipe(engine)
    calls: list[tuple[str, int, int]] = []
    imported(engine, path, chunked(settings), lambda *call: calls.append(call))
    assert_same_tables(whole, snapshot(engine))
    assert_same_orders(engine, lines)  # and both match pandas over the file's lines
    # real progress: one tick per partition while validating and writing, up to every line
    for step in ("校验", "写入"):
        done = [d for s, d, _ in calls if s == step]
        assert len(done) >= len(lines) // SMALL // 2 and done == sorted(done), (step, done)
        assert done[-1] == len(lines)
        assert {t for s, _, t in calls if s == step} == {len(lines)}


def test_chunks002_partitions_into_a_store_day_with_stored_orders(engine, settings, tmp_path):
    """A second file holding part of the stored store-days (the aggregates then come from the
    stored orders) gives the same tables in partitions as in one chunk."""
    lines = demo_lines()
    first = write_csv(lines, tmp_path / "all.csv")
    part = scattered(lines[lines["订单ID"].isin(lines["订单ID"].unique()[::3])].copy())
    part["实收价格"] = part["实收价格"] + 1
    second = write_csv(part, tmp_path / "part.csv")
    results = []
    for run_settings in (settings, chunked(settings, 41)):
        imported(engine, first, run_settings)
        imported(engine, second, run_settings)
        results.append(snapshot(engine))
        wipe(engine)
    assert_same_tables(*results)


def test_chunks003_errors_in_every_chunk_are_reported_with_their_rows(engine, settings, tmp_path):
    lines = scattered(demo_lines()).astype(object)
    n = len(lines)
    bad = {
        3: ("月售", "两个", "不是有效数字"),
        n // 2: ("下单时间", "昨天", "无法解析的时间 (应为 YYYY-MM-DD HH:MM:SS)"),
        n - 2: ("实收价格", "-1", "金额为负"),
    }
    for i, (header, value, _reason) in bad.items():
        lines.loc[i, header] = value
    # an order whose lines are far apart, one of them with another store name
    sizes = lines.groupby(KEY).size()
    key = sizes[sizes > 1].index[0]
    members = lines.index[(lines["渠道"] == key[0]) & (lines["订单ID"] == key[1])]
    lines.loc[members[-1], "门店名称"] = "别的店"
    # the same line twice, at the start and the end
    lines = pd.concat([lines, lines.iloc[[10]]], ignore_index=True)
    path = write_csv(lines, tmp_path / "bad.csv")
    expected = {(i + 2, h, r) for i, (h, _v, r) in bad.items()}
    expected |= {(int(m) + 2, "门店名称", "同一订单各行取值不一致") for m in members}
    expected.add((len(lines) + 1, "(整行)", "重复的明细行"))

    reports = []
    for run_settings in (settings, chunked(settings)):
        result = import_file(engine, path, run_settings)
        assert result.status == "rejected"
        reports.append(result.report)
        assert {(p.row, p.column, p.reason) for p in result.report.problems} == expected
    one, parts = ([dataclasses.astuple(p) for p in r.problems] for r in reports)
    assert one == parts
    assert reports[1].rows == len(lines)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Order)).scalar_one() == 0
        assert conn.execute(select(ImportBatch.status)).scalars().all() == ["failed", "failed"]


def test_chunks004_per_line_shares_are_summed_across_chunks(engine, settings, tmp_path):
    lines = demo_lines()
    shared = scattered(split_per_line(lines, ["平台服务费", "预计订单收入"]))
    assert widest_order_gap(shared) > 5 * SMALL
    result = import_file(engine, write_csv(shared, tmp_path / "per_line.csv"), chunked(settings))
    assert result.status == "imported", result.message[:2000]
    assert any("按行分摊" in w for w in result.warnings)
    assert_same_orders(engine, lines)


def test_chunks005_store_day_totals_add_up_across_partitions(engine, settings, tmp_path, monkeypatch):
    """The store-day check sees the sum over every partition: with the aggregate's limit just
    below the largest store-day's Σ|预计订单收入| (pandas over the file), that store-day alone is
    reported, with its total and first file row, though no partition holds all its orders."""
    from db.importer import sums

    lines = scattered(demo_lines())
    orders = lines.drop_duplicates(KEY).assign(day=lambda f: f["下单时间"].str[:10])
    totals = orders.assign(v=orders["预计订单收入"].abs()).groupby(["门店ID", "day"])["v"].sum()
    (store, day), top = totals.idxmax(), totals.max()
    assert (totals < top - 1).sum() == len(totals) - 1
    monkeypatch.setattr(sums, "day_limits", lambda: {"expected_income": round(top - 0.5, 2)})
    result = import_file(engine, write_csv(lines, tmp_path / "days.csv"), chunked(settings, 41))
    assert result.status == "rejected"
    first = int(np.flatnonzero((lines["门店ID"] == store) & (lines["下单时间"].str[:10] == day))[0]) + 2
    assert [(p.row, p.column, p.value, p.detail) for p in result.report.problems] == [
        (first, "预计订单收入 (门店日合计)", f"{top:,.2f}", f"门店 {store} {day} 的全部订单")
    ]


def test_chunks006_blank_lines_and_late_ragged_rows_keep_their_row_numbers(engine, settings, tmp_path):
    """A blank line sends the file to pandas' parser; a short row after Arrow's first blocks
    makes the importer read the file again with it: row numbers stay the file's."""
    lines = demo_lines()
    path = write_csv(lines, tmp_path / "ragged.csv")
    text = path.read_text(encoding="utf-8-sig").splitlines()
    text[-3] = ",".join(text[-3].split(",")[:-1])  # sheet row len-2: one cell short (备注-less)
    path.write_text("\n".join(text) + "\n", encoding="utf-8-sig")
    blank = tmp_path / "blank.csv"
    rows = path.read_text(encoding="utf-8-sig").splitlines()
    rows.insert(len(rows) // 2, "")
    blank.write_text("\n".join(rows) + "\n", encoding="utf-8-sig")
    for file in (path, blank):
        reports = [import_file(engine, file, s).report for s in (settings, chunked(settings, 41))]
        one, parts = ([(p.row, p.column, p.reason) for p in r.problems] for r in reports)
        assert one == parts
        wipe(engine)


def test_chunks007_partition_count_and_spill_cleanup(settings, tmp_path):
    assert chunks.partition_count(100, 100) == 1
    assert chunks.partition_count(1000, 100) == 13
    lines = scattered(demo_lines())
    path = write_csv(lines, tmp_path / "x.csv")
    from db.importer import check_file

    result = check_file(path, chunked(settings))
    assert result.ok and result.report.rows == len(lines)
    assert list((settings.data_dir / "import-tmp").iterdir()) == []  # the partitions are gone


def test_chunks008_the_whitespace_arrow_looks_for_is_what_str_strip_removes():
    """The importer strips only the columns where Arrow finds a cell starting or ending in
    whitespace: its pattern must match exactly the characters str.isspace() accepts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for form in ("a{}", "{}a", "a{}a"):
        cells = pa.array([form.format(ch) for ch in chars])
        found = pc.match_substring_regex(cells, chunks._EDGE_SPACE).to_numpy(zero_copy_only=False)
        expected = np.array([form != "a{}a" and ch.isspace() for ch in chars])
        assert (found == expected).all(), [hex(ord(c)) for c in np.array(chars)[found != expected][:10]]


def test_chunks009_aggregate_rows_past_the_memory_cap_are_summed_in_sql(engine, settings, tmp_path, monkeypatch):
    """The partitions' aggregate rows are added up in pandas up to a cap, past it in temporary
    tables in SQL: both give the tables of a one-chunk import."""
    from db.importer import aggregates, loader

    path = write_csv(scattered(demo_lines()), tmp_path / "scattered.csv")
    imported(engine, path, settings)
    whole = snapshot(engine)
    wipe(engine)
    calls = {"sql": 0, "pandas": 0}

    def counted(real, key):
        def run(*args):
            calls[key] += 1
            return real(*args)

        return run

    monkeypatch.setattr(aggregates, "refresh_from_partials", counted(aggregates.refresh_from_partials, "sql"))
    monkeypatch.setattr(aggregates, "sum_partials", counted(aggregates.sum_partials, "pandas"))
    for cap in (loader.PARTIAL_ROWS_CAP, 1, 500):
        monkeypatch.setattr(loader, "PARTIAL_ROWS_CAP", cap)
        imported(engine, path, chunked(settings))
        assert_same_tables(whole, snapshot(engine))
        wipe(engine)
    assert calls == {"sql": 2, "pandas": 1}
