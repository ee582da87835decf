"""The importer against real SQLite and PostgreSQL: correctness, idempotence, all-or-nothing."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest
from sqlalchemy import func, select

from db.importer import import_file, loader
from db.models import (
    AGGREGATE_TABLES,
    AggStoreDayChannel,
    AggStoreDayDistance,
    AggStoreDayHour,
    AggStoreDayProduct,
    DataVersion,
    ImportBatch,
    Order,
    OrderItem,
    Product,
    Store,
)
from tests.factories import aggregate_snapshot, order, sheet, write_csv, write_xlsx

DATA_TABLES = (Store, Product, Order, OrderItem)


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        tables = [m.__table__ for m in DATA_TABLES] + list(AGGREGATE_TABLES)
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}


def version(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(DataVersion.version)).scalar_one()


def small_sheet() -> pd.DataFrame:
    """Three orders whose figures are worked out in the test by hand."""
    return sheet(
        # 美团闪购, 2 lines: revenue 8*1 + 4*2 = 16, item profit (8-5)+(8-3) = 8
        order(
            "MT1",
            "2026-11-01 12:05:00",
            [
                {"received_price": 8.0, "quantity": 1, "cost": 5.0},
                {
                    "product_name": "香蕉",
                    "barcode": "6901234567908",
                    "product_code": "P002",
                    "received_price": 4.0,
                    "quantity": 2,
                    "cost": 3.0,
                },
            ],
            service_fee=1.0,
            commission=1.1,
            delivery_fee=6.0,
            user_delivery_fee=2.0,
            delivery_fee_discount=1.0,
            full_reduction=3.0,
            corporate_rebate=0.5,
            distance_km=2.4,
        ),
        # 饿了么 at 19:xx, no service fee column value → commission 0.9 is the platform fee
        order(
            "EL1",
            "2026-11-01 19:40:00",
            [{"received_price": 20.0, "quantity": 1, "cost": 12.0}],
            channel="饿了么",
            service_fee=None,
            commission=0.9,
            delivery_fee=4.0,
            distance_km=6.5,
        ),
        # 美团闪购 next day, zero platform fee (abnormal on a fee channel), loss: 12 − 15 = −3
        order(
            "MT2",
            "2026-11-02 08:00:00",
            [{"received_price": 10.0, "quantity": 3, "cost": 18.0}],
            service_fee=0.0,
            commission=0.0,
            delivery_fee=15.0,
            distance_km=0.4,
        ),
    )


def test_import001_rows_and_aggregates_match_hand_figures(engine, settings, tmp_path):
    path = write_csv(small_sheet(), tmp_path / "orders.csv")
    result = import_file(engine, path, settings)
    assert result.status == "imported", result.message
    assert counts(engine)["orders"] == 3 and counts(engine)["order_items"] == 4
    with engine.connect() as conn:
        order_row = conn.execute(select(Order.__table__).where(Order.platform_order_id == "MT1")).one()
        rows = pd.read_sql(select(AggStoreDayChannel.__table__), conn)
        hours = pd.read_sql(select(AggStoreDayHour.__table__), conn)
        bands = pd.read_sql(select(AggStoreDayDistance.__table__), conn)
        products = pd.read_sql(select(AggStoreDayProduct.__table__), conn)
    assert order_row.items_revenue == pytest.approx(16.0)
    assert order_row.items_profit == pytest.approx(8.0)
    # 8 − 1.0 (service fee) − 6 (delivery) + 0.5 (rebate)
    assert order_row.actual_profit == pytest.approx(1.5)
    # 6 − (2 − 1) − 0.5
    assert order_row.delivery_net_cost == pytest.approx(4.5)
    assert order_row.marketing_cost == pytest.approx(4.0)  # 1 delivery discount + 3 满减
    assert order_row.address_hash and "光谷" not in order_row.address_hash
    day1 = rows[rows["day"].astype(str) == "2026-11-01"].set_index("channel")
    assert day1.loc["美团闪购", "revenue"] == pytest.approx(16.0)
    # 饿了么: 8 item profit − 0.9 commission − 4 delivery
    assert day1.loc["饿了么", "actual_profit"] == pytest.approx(3.1)
    day2 = rows[rows["day"].astype(str) == "2026-11-02"].iloc[0]
    assert bool(day2["platform_fee_zero"]) and day2["loss_orders"] == 1
    assert day2["actual_profit"] == pytest.approx(-3.0)
    assert set(hours["hour"]) == {8, 12, 19}
    assert dict(zip(bands["distance_band"], bands["orders"], strict=True)) == {0: 1, 2: 1, 6: 1}
    assert products["quantity"].sum() == pytest.approx(7.0)


def test_import002_same_file_twice_changes_nothing(engine, settings, tmp_path):
    path = write_csv(small_sheet(), tmp_path / "orders.csv")
    assert import_file(engine, path, settings).status == "imported"
    before, v1 = counts(engine), version(engine)
    again = import_file(engine, path, settings)
    assert again.status == "skipped" and "未做任何更改" in again.message
    assert counts(engine) == before and version(engine) == v1
    forced = import_file(engine, path, settings, force=True)  # merge by key → same rows
    assert forced.status == "imported"
    assert counts(engine) == before and version(engine) == v1 + 1


def test_import003_bad_file_is_rejected_whole_with_precise_report(engine, settings, tmp_path):
    good = write_csv(small_sheet(), tmp_path / "good.csv")
    import_file(engine, good, settings)
    before, v1 = counts(engine), version(engine)

    bad = small_sheet().astype(object)
    bad.loc[0, "下单时间"] = "2026-13-45 99:00"  # row 2
    bad.loc[2, "月售"] = -1  # row 4
    bad.loc[1, "物流配送费"] = 9.9  # row 3: differs from row 2 of the same order MT1
    bad.loc[3, "实收价格"] = "abc"  # row 5
    bad = pd.concat([bad, bad.iloc[[2]]], ignore_index=True)  # row 6 duplicates row 4
    path = write_csv(bad, tmp_path / "bad.csv")

    result = import_file(engine, path, settings)
    assert result.status == "rejected"
    found = {(p.row, p.column, p.reason.split(" (")[0]) for p in result.report.problems}
    assert (2, "下单时间", "无法解析的时间") in found
    assert (4, "月售", "数量为负") in found
    assert (5, "实收价格", "不是有效数字") in found
    assert any(r == 3 and c == "物流配送费" and "不一致" in why for r, c, why in found)
    assert any(r == 6 and c == "(整行)" for r, c, _ in found)
    assert "bad.csv" in result.message and "第 4 行" in result.message
    assert counts(engine) == before and version(engine) == v1
    with engine.connect() as conn:
        statuses = conn.execute(select(ImportBatch.status).order_by(ImportBatch.id)).scalars().all()
    assert statuses == ["succeeded", "failed"]


def test_import004_missing_required_column(engine, settings, tmp_path):
    path = write_csv(small_sheet().drop(columns=["渠道", "实收价格"]), tmp_path / "cols.csv")
    result = import_file(engine, path, settings)
    assert result.status == "rejected"
    assert {(p.column, p.reason) for p in result.report.problems} == {
        ("渠道", "缺少必需的列"),
        ("实收价格", "缺少必需的列"),
    }
    assert counts(engine)["orders"] == 0


def test_import005_failure_while_writing_rolls_back_everything(engine, settings, tmp_path, monkeypatch):
    def broken(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(loader, "refresh_aggregates", broken)
    path = write_csv(small_sheet(), tmp_path / "orders.csv")
    with pytest.raises(RuntimeError, match="disk full"):
        import_file(engine, path, settings)
    assert all(n == 0 for n in counts(engine).values())
    assert version(engine) == 0


@pytest.mark.parametrize("kind", ["utf-8", "utf-8-sig", "gb18030", "xlsx"])
def test_import006_encodings_and_excel_give_identical_data(engine, settings, tmp_path, kind):
    frame = small_sheet()
    path = (
        write_xlsx(frame, tmp_path / "o.xlsx")
        if kind == "xlsx"
        else write_csv(frame, tmp_path / "o.csv", encoding=kind)
    )
    assert import_file(engine, path, settings).status == "imported"
    with engine.connect() as conn:
        stores = conn.execute(select(Store.name, Store.city)).all()
        names = set(conn.execute(select(Product.name)).scalars())
        revenue = conn.execute(select(func.sum(AggStoreDayChannel.revenue))).scalar_one()
    assert stores == [("测试-武汉光谷店", "武汉")]
    assert names == {"红富士苹果", "香蕉"}
    assert revenue == pytest.approx(16 + 20 + 30)


def test_import007_overlapping_files_merge_by_order(engine, settings, tmp_path):
    first = small_sheet()
    second = sheet(
        order(
            "MT2",
            "2026-11-02 08:00:00",
            [{"received_price": 10.0, "quantity": 5, "cost": 30.0}],
            service_fee=0.0,
            commission=0.0,
            delivery_fee=5.0,
            distance_km=0.4,
        ),
        order(
            "MT3",
            "2026-11-03 10:00:00",
            [{"received_price": 6.0, "quantity": 1, "cost": 2.0}],
            service_fee=0.3,
        ),
    )
    import_file(engine, write_csv(first, tmp_path / "a.csv"), settings)
    import_file(engine, write_csv(second, tmp_path / "b.csv"), settings)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Order)).scalar_one() == 4
        mt2_qty = (
            conn.execute(
                select(OrderItem.quantity)
                .join(Order, Order.id == OrderItem.order_id)
                .where(Order.platform_order_id == "MT2")
            )
            .scalars()
            .all()
        )
        day2 = conn.execute(
            select(func.sum(AggStoreDayChannel.revenue)).where(
                AggStoreDayChannel.day == pd.Timestamp("2026-11-02").date()
            )
        ).scalar_one()
    assert mt2_qty == [5]
    assert day2 == pytest.approx(50.0)


def test_import008_size_limits_and_zip_bomb(engine, settings, tmp_path):
    import dataclasses

    tiny = dataclasses.replace(settings, max_import_bytes=200)
    path = write_csv(small_sheet(), tmp_path / "big.csv")
    result = import_file(engine, path, tiny)
    assert result.status == "rejected" and "超过上限" in result.message

    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (64 * 1024 * 1024))
    limited = dataclasses.replace(settings, max_xlsx_uncompressed_bytes=16 * 1024 * 1024)
    result = import_file(engine, bomb, limited)
    assert result.status == "rejected" and "压缩炸弹" in result.message

    real = write_xlsx(small_sheet(), tmp_path / "shape.xlsx")
    shaped = dataclasses.replace(settings, max_xlsx_rows=2)
    result = import_file(engine, real, shaped)
    assert result.status == "rejected" and "超出上限" in result.message
    assert counts(engine)["orders"] == 0


def test_import009_blank_lines_keep_sheet_row_numbers(engine, settings, tmp_path):
    bad = small_sheet().astype(object)
    bad.loc[3, "月售"] = -2
    path = write_csv(bad, tmp_path / "blank.csv")
    text = path.read_text(encoding="utf-8-sig").splitlines()
    text.insert(2, ",,,")  # an empty row as row 3 of the sheet
    path.write_text("\n".join(text) + "\n", encoding="utf-8-sig")
    result = import_file(engine, path, settings)
    assert result.status == "rejected"
    assert [(p.row, p.column) for p in result.report.problems] == [(6, "月售")]


def test_import010_file_and_database_aggregate_builders_agree(engine, settings, tmp_path):
    from sqlalchemy import insert

    from db.importer import aggregates
    from db.importer.loader import STG_AFFECTED

    frame = small_sheet()
    assert import_file(engine, write_csv(frame, tmp_path / "a.csv"), settings).status == "imported"
    # a file holding only part of 2026-11-01's orders forces the database builder
    partial = frame[frame["订单ID"] == "EL1"].copy()
    partial["实收价格"] = 30.0
    assert import_file(engine, write_csv(partial, tmp_path / "b.csv"), settings).status == "imported"
    with engine.begin() as conn:
        from_imports = aggregate_snapshot(conn)
        STG_AFFECTED.create(conn)
        pairs = conn.execute(select(Order.store_id, Order.business_date).distinct()).all()
        conn.execute(insert(STG_AFFECTED), [{"store_id": s, "day": d} for s, d in pairs])
        aggregates.refresh_from_database(conn, STG_AFFECTED)
        rebuilt = aggregate_snapshot(conn)
        STG_AFFECTED.drop(conn)
    assert from_imports["agg_store_day_channel"]["revenue"].sum() == pytest.approx(16 + 30 + 30)
    for name, frame_a in from_imports.items():
        pd.testing.assert_frame_equal(frame_a, rebuilt[name], check_dtype=False, atol=0.006)


def test_import011_no_orphan_lines_or_aggregates(engine, settings, tmp_path):
    """Fact tables carry no FK constraints; the importer must still leave no dangling keys."""
    import_file(engine, write_csv(small_sheet(), tmp_path / "a.csv"), settings)
    with engine.connect() as conn:
        orphan_items = conn.execute(
            select(func.count()).select_from(OrderItem).where(
                ~select(Order.id).where(Order.id == OrderItem.order_id).exists()
                | ~select(Product.id).where(Product.id == OrderItem.product_id).exists()
            )
        ).scalar_one()
        orphan_orders = conn.execute(
            select(func.count()).select_from(Order).where(
                ~select(Store.id).where(Store.id == Order.store_id).exists()
            )
        ).scalar_one()
    assert (orphan_items, orphan_orders) == (0, 0)


def test_import012_duplicated_header_is_an_error(engine, settings, tmp_path):
    frame = small_sheet()
    frame.insert(5, "城市_dup", frame["城市"])
    path = write_csv(frame.rename(columns={"城市_dup": "城市"}), tmp_path / "dup.csv")
    result = import_file(engine, path, settings)
    assert result.status == "rejected"
    assert [(p.row, p.column, p.reason) for p in result.report.problems] == [(1, "城市", "表头重复")]


def test_import013_zero_service_fee_with_commission_is_a_normal_order(engine, settings, tmp_path):
    """平台服务费 0 and 平台佣金 1.2: the fee is the commission and the order counts (issue 13)."""
    frame = sheet(
        order("MT4", "2026-11-01 13:00:00", [{"received_price": 10.0, "quantity": 1, "cost": 6.0}],
              service_fee=0.0, commission=1.2, delivery_fee=2.0),
        order("MT5", "2026-11-01 14:00:00", [{"received_price": 5.0, "quantity": 1, "cost": 3.0}],
              service_fee=None, commission=None),
    )  # fmt: skip
    assert import_file(engine, write_csv(frame, tmp_path / "fee.csv"), settings).status == "imported"
    with engine.connect() as conn:
        rows = pd.read_sql(select(AggStoreDayChannel.__table__), conn).set_index("platform_fee_zero")
    # MT4: Σ利润额 4 − 佣金 1.2 − 配送 2 = 0.8, normal; MT5 (both blank): 5 − 3 = 2, abnormal
    assert rows.loc[False, "orders"] == 1 and rows.loc[False, "platform_fee"] == pytest.approx(1.2)
    assert rows.loc[False, "actual_profit"] == pytest.approx(0.8)
    assert rows.loc[True, "orders"] == 1 and rows.loc[True, "actual_profit"] == pytest.approx(2.0)


def _rejected(engine, settings, path) -> list:
    """Import ``path`` into a database holding small_sheet(); assert it wrote nothing at all.
    Returns (file, row, column, value, reason without its parenthesis, detail) per problem."""
    import_file(engine, write_csv(small_sheet(), path.with_name("good.csv")), settings)
    before, v1 = counts(engine), version(engine)
    result = import_file(engine, path, settings)
    assert result.status == "rejected", result.message
    assert counts(engine) == before and version(engine) == v1
    return [(p.file, p.row, p.column, p.value, p.reason.split(" (")[0], p.detail) for p in result.report.problems]


@pytest.mark.parametrize(
    ("row", "header", "value", "reason"),
    [
        (4, "实收价格", "inf", "不是有限数字"),
        (2, "商品原价", "-inf", "不是有限数字"),
        (3, "利润额", "nan", "不是有效数字"),
        (5, "物流配送费", "1e308", "超出数据库列的范围"),
        (5, "平台佣金", "10000000000", "超出数据库列的范围"),  # NUMERIC(12,2) holds 9,999,999,999.99
        (3, "月售", "2e9", "超出数据库列的范围"),  # NUMERIC(12,3)
        (4, "距离", "123456", "超出数据库列的范围"),  # NUMERIC(7,2)
        (2, "订单ID", "X" * 65, "超过 64 个字符"),  # VARCHAR(64)
    ],
)
def test_import014_non_finite_or_out_of_range_cell_rejected(engine, settings, tmp_path, row, header, value, reason):
    bad = small_sheet().astype(object)
    bad.loc[row - 2, header] = value
    problems = _rejected(engine, settings, write_csv(bad, tmp_path / "bad.csv"))
    assert problems == [("bad.csv", row, header, value, reason, "")]


def test_import015_order_totals_that_cannot_be_stored_are_rejected_with_their_rows(engine, settings, tmp_path):
    frame = sheet(
        # two lines of 6,000,000,000: each fits NUMERIC(12,2), the order's 实收 12,000,000,000 does not
        order("BIG", "2026-11-03 09:00:00", [{"received_price": 6e9, "cost": 0.0, "list_price": None},
                                            {"received_price": 6e9, "cost": 0.0, "list_price": None,
                                             "product_name": "香蕉", "barcode": "6901234567908"}]),
        # 利润额 left empty: its default 1e8 × 200 = 2e10 cannot be stored either
        order("WIDE", "2026-11-03 10:00:00", [{"received_price": 1e8, "quantity": 200, "cost": 0.0,
                                             "list_price": None, "profit": 0.0}]),
    )  # fmt: skip
    frame.loc[2, "利润额"] = None
    problems = _rejected(engine, settings, write_csv(frame, tmp_path / "big.csv"))
    found = {(row, column) for _file, row, column, _value, _reason, _detail in problems}
    assert {(2, "实收 (订单合计)"), (2, "商品利润 (订单合计)"), (2, "订单实际利润 (订单合计)"),
            (4, "利润额"), (4, "实收 (订单合计)")} <= found  # fmt: skip
    assert {row for row, _ in found} == {2, 4}
    assert ("big.csv", 2, "实收 (订单合计)", "12,000,000,000.00", "订单合计超出数据库列的范围",
            "订单 BIG 的第 2、3 行") in problems  # fmt: skip
    assert ("big.csv", 4, "利润额", "20,000,000,000.00",
            "由 实收价格 × 月售 − 商品采购成本 算出的利润额超出数据库列的范围", "") in problems  # fmt: skip


def test_import016_negative_fees_and_discounts_rejected(engine, settings, tmp_path):
    bad = small_sheet().astype(object)
    bad.loc[2, "物流配送费"] = -50  # row 4, EL1
    bad.loc[3, "平台服务费"] = -1  # row 5, MT2
    bad.loc[3, "平台佣金"] = -2
    bad.loc[[0, 1], "满减金额"] = -3  # rows 2-3, both lines of MT1
    problems = _rejected(engine, settings, write_csv(bad, tmp_path / "neg.csv"))
    assert {(row, column, reason) for _f, row, column, _v, reason, _d in problems} == {
        (4, "物流配送费", "金额为负"), (5, "平台服务费", "金额为负"), (5, "平台佣金", "金额为负"),
        (2, "满减金额", "金额为负"), (3, "满减金额", "金额为负"),
    }  # fmt: skip
    # a loss-making line and a negative expected income are real: accepted
    fine = small_sheet()
    fine.loc[3, "利润额"] = -5.0
    fine.loc[3, "预计订单收入"] = -1.0
    assert import_file(engine, write_csv(fine, tmp_path / "fine.csv"), settings).status == "imported"


@pytest.mark.parametrize(("value", "reason"), [("2026-13-45 99:00", "无法解析的时间"), ("", "必填字段为空")])
def test_import017_a_failed_cell_does_not_make_its_siblings_inconsistent(engine, settings, tmp_path, value, reason):
    bad = small_sheet().astype(object)
    bad.loc[0, "下单时间"] = value  # row 2; row 3 is the other line of MT1, unchanged
    problems = _rejected(engine, settings, write_csv(bad, tmp_path / "time.csv"))
    assert problems == [("time.csv", 2, "下单时间", value, reason, "")]


def test_import018_database_refusal_is_a_rejection_not_a_traceback(engine, settings, tmp_path, monkeypatch, backend):
    """Validation off (limits lifted): PostgreSQL's NumericValueOutOfRange from the COPY becomes a
    rejected import with nothing written."""
    if backend == "sqlite":
        pytest.skip("SQLite stores any float; the refusal is PostgreSQL's")
    from collections import defaultdict

    from db.importer import sums, validate

    monkeypatch.setattr(validate, "cell_limits", lambda: defaultdict(lambda: float("inf")))
    monkeypatch.setattr(sums, "cell_limits", lambda: {"profit": float("inf")})
    monkeypatch.setattr(sums, "order_limits", lambda: {})
    monkeypatch.setattr(sums, "day_limits", lambda: {})
    monkeypatch.setattr(validate, "key_lengths", lambda: defaultdict(lambda: 10**9))
    monkeypatch.setattr(validate, "text_lengths", dict)
    bad = small_sheet()
    bad.loc[2, "实收价格"] = 1e12
    before = counts(engine)
    result = import_file(engine, write_csv(bad, tmp_path / "huge.csv"), settings)
    assert result.status == "rejected" and "数据库拒绝写入" in result.message and "huge.csv" in result.message
    assert [(p.row, p.reason) for p in result.report.problems] == [(0, "数据库拒绝写入")]
    assert counts(engine) == before and version(engine) == 0


def test_import019_xlsx_huge_number_is_rejected_and_quoted_as_written(engine, settings, tmp_path):
    """A numeric Excel cell of 1e308 is reported as '1e+308' (not a 309-digit integer), and rejected."""
    bad = small_sheet()
    bad.loc[2, "实收价格"] = 1e308  # row 4
    problems = _rejected(engine, settings, write_xlsx(bad, tmp_path / "huge.xlsx"))
    assert problems == [("huge.xlsx", 4, "实收价格", "1e+308", "超出数据库列的范围", "")]


def test_import020_names_standing_in_for_keys_must_fit_the_key_column(engine, settings, tmp_path):
    """门店名称 is the store key without 门店ID (VARCHAR(64)); 商品名称 the SKU key without 条码 and
    店内码 ("name:" + 商品名称, VARCHAR(160)). Both columns themselves allow longer names."""
    bad = small_sheet().astype(object)
    bad["门店ID"] = None
    bad["门店名称"] = "店" * 100
    bad.loc[2, ["条码", "店内码"]] = None
    bad.loc[2, "商品名称"] = "果" * 170
    problems = _rejected(engine, settings, write_csv(bad, tmp_path / "keys.csv"))
    assert sorted((row, column, reason) for _f, row, column, _v, reason, _d in problems) == [
        (2, "门店名称", "无门店ID时作为门店键，超过 64 个字符"),
        (3, "门店名称", "无门店ID时作为门店键，超过 64 个字符"),
        (4, "商品名称", "无条码和店内码时作为商品键"),
        (4, "门店名称", "无门店ID时作为门店键，超过 64 个字符"),
        (5, "门店名称", "无门店ID时作为门店键，超过 64 个字符"),
    ]


def test_import021_store_day_totals_beyond_the_aggregates_are_rejected(engine, settings, tmp_path):
    """10,001 orders of 9,999,999,999 each fit orders.items_revenue NUMERIC(12,2), but their store-day
    total 100,009,999,989,999 does not fit agg_store_day_channel.revenue NUMERIC(16,2)."""
    n = 10_001
    frame = sheet(*[order(f"X{i:05d}", "2026-11-01 09:00:00", [{"received_price": 9_999_999_999.0, "cost": 0.0,
                                                                "list_price": None}]) for i in range(n)])  # fmt: skip
    problems = _rejected(engine, settings, write_csv(frame, tmp_path / "day.csv"))
    revenue = [p for p in problems if p[2] == "实收 (门店日合计)"]
    assert revenue == [("day.csv", 2, "实收 (门店日合计)", f"{9_999_999_999 * n:,.2f}", "门店日合计超出数据库列的范围",
                        "门店 S001 2026-11-01 的全部订单")]  # fmt: skip
    assert {p[1] for p in problems} == {2} and all(p[2].endswith("(门店日合计)") for p in problems)
