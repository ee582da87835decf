"""Demo data generator: export shape, money identities, determinism, ground truth, file round trip."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import openpyxl
import pandas as pd
import pytest

from db import demo_data
from db import export_format as ef
from db.demo_data import (
    CHANNELS,
    FEE_CHANNELS,
    DemoSpec,
    generate_orders,
    write_exports,
    write_ground_truth,
)

SPEC = DemoSpec(stores=6, days=30, seed=11)
ORDER_KEY = ["渠道", "订单ID"]
MONEY = [c.header for c in ef.COLUMNS if c.kind == "money"]
ORDER_HEADERS = [c.header for c in ef.COLUMNS if c.level == "order"]


@pytest.fixture(scope="module")
def demo() -> tuple[pd.DataFrame, dict]:
    return generate_orders(SPEC)


@pytest.fixture(scope="module")
def lines(demo) -> pd.DataFrame:
    frame = demo[0].copy()
    frame["date"] = frame["下单时间"].str.slice(0, 10)
    frame["sku"] = frame["条码"].fillna(frame["店内码"])
    frame["amount"] = frame["实收价格"] * frame["月售"]
    return frame


@pytest.fixture(scope="module")
def orders(lines) -> pd.DataFrame:
    """One row per order with the dashboard's actual profit: Σ利润额 − 平台服务费 − 物流配送费 + 企客后返."""
    grouped = lines.groupby(ORDER_KEY, sort=False)
    table = grouped.first()[["门店ID", "date", "平台服务费", "平台佣金", "物流配送费", "企客后返", "距离"]]
    table["profit"] = grouped["利润额"].sum()
    table["revenue"] = grouped["amount"].sum()
    table["actual"] = table["profit"] - table["平台服务费"] - table["物流配送费"] + table["企客后返"]
    return table


def _dates(days_back: range) -> list[str]:
    return [(SPEC.end_date - dt.timedelta(days=d)).isoformat() for d in days_back]


def _order_keys(items: list[dict]) -> set[tuple[str, str]]:
    return {(item["channel"], item["platform_order_id"]) for item in items}


def _pair_lines(lines: pd.DataFrame, item: dict) -> pd.DataFrame:
    return lines[(lines["门店ID"] == item["store_code"]) & (lines["sku"] == item["sku"])]


# ----------------------------------------------------------------------------------- shape


def test_demo001_columns_are_export_headers(demo):
    frame, _ = demo
    assert list(frame.columns) == list(ef.HEADERS)
    assert len(frame) > 5000


def test_demo002_barcodes_are_valid_ean13(lines):
    barcodes = lines["条码"].dropna().unique()
    assert len(barcodes) > 200
    for code in barcodes:
        assert re.fullmatch(r"\d{13}", code), code
        digits = [int(d) for d in code]
        weighted = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
        assert (10 - weighted % 10) % 10 == digits[12], code
    fresh_without_barcode = lines[lines["条码"].isna()]
    assert len(fresh_without_barcode) > 0
    assert fresh_without_barcode["店内码"].notna().all()
    assert set(fresh_without_barcode["一级分类名"]) <= {"水果", "蔬菜", "肉禽蛋"}


def test_demo003_order_level_columns_are_constant_within_an_order(lines):
    varying = lines.groupby(ORDER_KEY)[ORDER_HEADERS].nunique(dropna=False).max()
    assert (varying <= 1).all(), varying[varying > 1]
    assert lines["订单ID"].map(type).eq(str).all()


def test_demo004_line_profit_identity_and_cents(lines):
    expected = lines["实收价格"] * lines["月售"] - lines["商品采购成本"]
    assert (lines["利润额"] - expected).abs().max() < 0.01
    cents = lines[MONEY].to_numpy() * 100
    assert np.abs(cents - np.rint(cents)).max() < 1e-6


def test_demo005_price_ordering(lines):
    assert (lines["商品原价"] >= lines["商品实售价"]).all()
    assert (lines["商品实售价"] >= lines["实收价格"]).all()
    item_discount = (lines["商品原价"] - lines["商品实售价"]) * lines["月售"]
    assert (lines["商品减免金额"] - item_discount).abs().max() < 0.01
    assert (lines["商品减免金额"] > 0).mean() > 0.03  # some shelf promotions
    assert (lines["剩余库存"] >= 0).all() and (lines["库存"] >= lines["月售"]).all()


def test_demo006_looks_like_o2o_data(demo, lines, orders):
    assert set(lines["渠道"]) == set(CHANNELS)
    assert set(lines["门店加盟类型"]) <= {"直营", "加盟", "托管"}
    assert lines["门店名称"].str.match(r"^惠宜选-.+店$").all()
    assert lines["门店ID"].str.fullmatch(r"\d+").all()
    pos = lines[lines["渠道"] == "收银机"]
    assert pos["距离"].isna().all() and pos["收货地址"].isna().all() and pos["配送平台"].isna().all()
    assert (pos["平台服务费"] == 0).all() and (pos["物流配送费"] == 0).all()
    fee = orders[orders.index.get_level_values(0).isin(FEE_CHANNELS) & (orders["平台服务费"] > 0)]
    assert 0.05 <= (fee["平台服务费"] / fee["revenue"]).median() <= 0.08
    delivery = lines[lines["渠道"] != "收银机"]
    assert delivery["距离"].between(0, 8).all() and delivery["收货地址"].notna().all()
    bags = lines[lines["一级分类名"] == "耗材"]
    assert bags["商品原价"].between(0.2, 1.0).all()
    hours = pd.to_datetime(lines.groupby(ORDER_KEY)["下单时间"].first()).dt.hour
    assert hours.between(3, 6).mean() < 0.01
    assert hours.between(11, 13).mean() > hours.between(14, 16).mean()
    per_order = lines.groupby(ORDER_KEY).size()
    assert per_order.max() <= 8 and 2.5 <= per_order.mean() <= 3.5
    injected = _order_keys(demo[1]["loss_far_orders"])
    discounting = {item["store_code"] for item in demo[1]["margin_decline_stores"]}
    natural = orders[~orders.index.isin(list(injected)) & ~orders["门店ID"].isin(discounting)]
    assert (natural["actual"] < 0).mean() < 0.12  # mostly profitable


# ----------------------------------------------------------------------------- determinism


def test_demo007_same_seed_same_data_other_seed_differs(demo, tmp_path):
    again, truth = generate_orders(SPEC)
    pd.testing.assert_frame_equal(demo[0], again)
    assert truth == demo[1]
    first = write_exports(demo[0], tmp_path / "a")
    second = write_exports(again, tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    other, _ = generate_orders(DemoSpec(stores=6, days=30, seed=12))
    assert not other.equals(demo[0])


# ---------------------------------------------------------------------------- ground truth


def test_demo008_loss_orders_are_loss_making(demo, orders):
    truth = demo[1]
    measured_losses = set(orders.index[orders["actual"] < 0])
    assert _order_keys(truth["all_loss_orders"]) == measured_losses
    injected = _order_keys(truth["loss_far_orders"])
    assert injected and injected <= measured_losses
    far = orders.loc[list(injected)]
    assert (far["actual"] < 0).all() and (far["距离"] >= 5).all()
    assert 1 <= len({item["store_code"] for item in truth["loss_far_orders"]}) <= 5


def test_demo009_below_cost_skus(demo, lines):
    items = demo[1]["below_cost_skus"]
    assert len(items) >= 3
    for item in items:
        pair = _pair_lines(lines, item)
        unit_cost = pair["商品采购成本"] / pair["月售"]
        after = pair["date"] >= item["from_date"]
        assert after.any() and (~after).any()
        assert (pair["实收价格"][after] < unit_cost[after]).all()
        assert (pair["实收价格"][~after] >= unit_cost[~after]).all()
    others = lines[~lines.set_index(["门店ID", "sku"]).index.isin(
        [(i["store_code"], i["sku"]) for i in items])]
    assert (others["实收价格"] * others["月售"] >= others["商品采购成本"] - 1e-9).all()


def test_demo010_stockouts_of_top_sellers(demo, lines):
    items = demo[1]["stockout_skus"]
    assert len(items) >= 3
    for item in items:
        assert item["to_date"] == SPEC.end_date.isoformat()
        length = (dt.date.fromisoformat(item["to_date"]) - dt.date.fromisoformat(item["from_date"])).days + 1
        assert 2 <= length <= 5
        store = lines[(lines["门店ID"] == item["store_code"]) & (lines["一级分类名"] != "耗材")]
        in_window = store[(store["sku"] == item["sku"]) & (store["date"] >= item["from_date"])]
        assert in_window.empty
        before = store[store["date"] < item["from_date"]].groupby("sku")["月售"].sum()
        rank = int((before > before[item["sku"]]).sum()) + 1
        assert rank == item["rank_before"] and rank <= 10


def test_demo011_traffic_drop_stores(demo, lines):
    items = demo[1]["traffic_drop_stores"]
    assert len(items) == 2
    per_store_day = lines.drop_duplicates(ORDER_KEY).groupby(["门店ID", "date"]).size()
    for item in items:
        counts = per_store_day[item["store_code"]]
        recent = counts.reindex(_dates(range(7)), fill_value=0).sum()
        previous = counts.reindex(_dates(range(7, 14)), fill_value=0).sum()
        ratio = 1 - recent / previous
        assert ratio >= 0.3
        assert ratio == pytest.approx(item["drop_ratio"], abs=1e-4)


def test_demo012_margin_decline_stores(demo, orders):
    items = demo[1]["margin_decline_stores"]
    assert len(items) == 2
    for item in items:
        store = orders[orders["门店ID"] == item["store_code"]]
        margins = []
        for window in (_dates(range(7, 14)), _dates(range(7))):
            part = store[store["date"].isin(window)]
            margins.append(part["actual"].sum() / part["revenue"].sum())
        assert margins[0] - margins[1] > 0.10
        assert margins[0] == pytest.approx(item["previous_margin"], abs=1e-3)
        assert margins[1] == pytest.approx(item["recent_margin"], abs=1e-3)


def test_demo013_slow_movers(demo, lines):
    items = demo[1]["slow_movers"]
    assert len(items) >= SPEC.stores * 2
    last_sale = lines.groupby(["门店ID", "sku"])["date"].max()
    for item in items:
        assert last_sale[(item["store_code"], item["sku"])] == item["last_sale_date"]
        idle = (SPEC.end_date - dt.date.fromisoformat(item["last_sale_date"])).days
        assert idle == item["idle_days"] >= 3
    idle_days = [item["idle_days"] for item in items]
    assert any(3 <= d <= 6 for d in idle_days)
    assert any(7 <= d <= 14 for d in idle_days)
    assert any(d >= 15 for d in idle_days)


def test_demo014_zero_fee_orders(demo, orders):
    items = demo[1]["zero_fee_orders"]
    assert items
    fee_orders = orders[orders.index.get_level_values(0).isin(FEE_CHANNELS)]
    zero = fee_orders[fee_orders["平台服务费"] == 0]
    assert _order_keys(items) == set(zero.index)
    assert (zero["平台佣金"] == 0).all()
    assert len(zero) / len(fee_orders) < 0.01


def test_demo015_closed_store_day(demo, lines):
    (item,) = demo[1]["closed_store_days"]
    store = lines[lines["门店ID"] == item["store_code"]]
    assert not (store["date"] == item["date"]).any()
    assert store["门店名称"].iloc[0] == item["store_name"]
    day_before = (dt.date.fromisoformat(item["date"]) - dt.timedelta(days=1)).isoformat()
    assert (store["date"] == day_before).any()


def test_demo016_truth_is_json_with_spec(demo, tmp_path):
    truth = demo[1]
    assert truth["spec"] == {"stores": 6, "days": 30, "seed": 11, "end_date": "2026-11-27"}
    path = tmp_path / "truth.json"
    write_ground_truth(truth, path)
    text = path.read_text(encoding="utf-8")
    assert "惠宜选" in text and json.loads(text) == truth


# ------------------------------------------------------------------------------ round trip

TINY = DemoSpec(stores=2, days=4, seed=3, end_date=dt.date(2026, 11, 2))  # spans two months


@pytest.mark.parametrize(("fmt", "encoding"), [("csv", "utf-8-sig"), ("csv-gbk", "gb18030")])
def test_demo017_csv_round_trip(tmp_path, fmt, encoding):
    frame, _ = generate_orders(TINY)
    paths = write_exports(frame, tmp_path, fmt=fmt)
    assert [p.name for p in paths] == ["订单明细_2026-10.csv", "订单明细_2026-11.csv"]
    raw = paths[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == (fmt == "csv")
    if fmt == "csv-gbk":
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    back = pd.concat([pd.read_csv(p, encoding=encoding, dtype=str, keep_default_na=False) for p in paths])
    assert list(back.columns) == list(ef.HEADERS) and len(back) == len(frame)
    assert back["订单ID"].tolist() == frame["订单ID"].tolist()
    assert back["下单时间"].tolist() == frame["下单时间"].tolist()
    assert back["实收价格"].tolist() == [f"{v:.2f}" for v in frame["实收价格"]]
    assert back["商品名称"].tolist() == frame["商品名称"].tolist()


def test_demo018_xlsx_round_trip(tmp_path):
    frame, _ = generate_orders(TINY)
    paths = write_exports(frame, tmp_path, fmt="both")
    assert sorted(p.suffix for p in paths) == [".csv", ".csv", ".xlsx", ".xlsx"]
    rows = []
    for path in (p for p in paths if p.suffix == ".xlsx"):
        workbook = openpyxl.load_workbook(path, read_only=True)
        assert workbook.sheetnames == ["订单明细"]
        values = list(workbook["订单明细"].iter_rows(values_only=True))
        assert list(values[0]) == list(ef.HEADERS)
        rows.extend(values[1:])
        workbook.close()
    assert len(rows) == len(frame)
    col = {h: i for i, h in enumerate(ef.HEADERS)}
    first = rows[0]
    assert isinstance(first[col["下单时间"]], dt.datetime)
    assert first[col["下单时间"]].strftime("%Y-%m-%d %H:%M:%S") == frame["下单时间"].iloc[0]
    assert first[col["订单ID"]] == frame["订单ID"].iloc[0]
    assert first[col["实收价格"]] == pytest.approx(frame["实收价格"].iloc[0])
    with pytest.raises(ValueError):
        write_exports(frame, tmp_path, fmt="parquet")


def test_demo019_big_month_is_split_at_order_boundaries(tmp_path, monkeypatch):
    frame, _ = generate_orders(TINY)
    monkeypatch.setattr(demo_data, "MAX_ROWS_PER_FILE", 300)
    paths = write_exports(frame, tmp_path)
    assert len(paths) > 2 and paths[0].name == "订单明细_2026-10_1.csv"
    parts = [pd.read_csv(p, encoding="utf-8-sig", dtype=str) for p in paths]
    assert all(len(part) <= 300 for part in parts)
    assert sum(len(part) for part in parts) == len(frame)
    owners = pd.concat([part[ORDER_KEY].drop_duplicates().assign(file=i) for i, part in enumerate(parts)])
    assert not owners.duplicated(ORDER_KEY).any()  # no order is split over two files


def test_demo020_streamed_months_write_the_same_files(tmp_path, monkeypatch):
    """write_demo (one month's frame at a time) writes write_exports' files byte for byte."""
    monkeypatch.setattr(demo_data, "MAX_ROWS_PER_FILE", 300)  # a split month too
    demo = demo_data.generate_demo(TINY)
    frame, truth = generate_orders(TINY)
    whole = write_exports(frame, tmp_path / "whole")
    streamed = demo_data.write_demo(demo, tmp_path / "streamed")
    assert [p.name for p in streamed] == [p.name for p in whole] and len(whole) > 2
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(whole, streamed, strict=True))
    assert demo.truth == truth
    assert (demo.line_count, demo.order_count) == (len(frame), len(frame[ORDER_KEY].drop_duplicates()))
