"""The analysis pages' figures (渠道, 配送, 时段, 商品, 总览) equal an independent pandas computation
over the raw export lines (Chinese columns, formulas written from docs/METRICS.md), on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from sqlalchemy import select

from db.demo_data import DemoSpec, generate_orders, write_exports
from db.importer import import_file
from db.models import Product
from db.queries import last_stock, stores
from readmodel.selection import Selection
from services import analysis
from services.runtime import Runtime

SPEC = DemoSpec(stores=3, days=14, seed=5)
FEE_CHANNELS = ("美团闪购", "饿了么", "京东到家", "抖音")
ORDER_FIRST = (
    "平台服务费",
    "平台佣金",
    "物流配送费",
    "企客后返",
    "用户支付配送费",
    "配送费减免金额",
    "满减金额",
    "商家代金券",
    "商家承担部分券",
    "满赠金额",
    "商家其他优惠",
    "新客减免金额",
    "距离",
    "门店ID",
    "下单时间",
)


def raw_orders(lines: pd.DataFrame, start: dt.date, end: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(normal orders with their figures, abnormal orders) of the period, from the raw lines."""
    lines = lines.assign(day=pd.to_datetime(lines["下单时间"]).dt.date, line_revenue=lines["实收价格"] * lines["月售"])
    part = lines[(lines["day"] >= start) & (lines["day"] <= end)]
    agg = {c: (c, "first") for c in ORDER_FIRST}
    orders = (
        part.groupby(["渠道", "订单ID"])
        .agg(
            revenue=("line_revenue", "sum"), item_profit=("利润额", "sum"), item_discount=("商品减免金额", "sum"), **agg
        )
        .reset_index()
    )
    orders["fee"] = orders["平台服务费"].where(orders["平台服务费"] > 0, orders["平台佣金"]).fillna(0.0)
    orders["profit"] = orders["item_profit"] - orders["fee"] - orders["物流配送费"] + orders["企客后返"]
    orders["marketing"] = orders[
        [
            "配送费减免金额",
            "满减金额",
            "item_discount",
            "商家代金券",
            "商家承担部分券",
            "满赠金额",
            "商家其他优惠",
            "新客减免金额",
        ]
    ].sum(axis=1)
    orders["delivery_net"] = (
        orders["物流配送费"] - (orders["用户支付配送费"] - orders["配送费减免金额"]) - orders["企客后返"]
    )
    abnormal = orders["渠道"].isin(FEE_CHANNELS) & (orders["fee"].abs() < 0.005)
    return orders[~abnormal], orders[abnormal]


@pytest.fixture
def loaded(engine, settings, tmp_path):
    lines, _truth = generate_orders(SPEC)
    for path in write_exports(lines, tmp_path / "demo"):
        assert import_file(engine, path, settings).status == "imported"
    runtime = Runtime(settings, engine, None)
    end = SPEC.end_date
    start = end - dt.timedelta(days=6)
    return lines, runtime, Selection.build(start, end), (start, end)


def test_ana001_channels_and_abnormal_orders(loaded):
    lines, runtime, filters, period = loaded
    orders, abnormal = raw_orders(lines, *period)
    result = analysis.channel_analysis(runtime, filters)
    assert result["abnormal"] == len(abnormal)
    got = {r["channel"]: r for r in result["channels"]}
    assert set(got) == set(orders["渠道"])
    for channel, group in orders.groupby("渠道"):
        row, revenue = got[channel], group["revenue"].sum()
        assert row["orders"] == len(group)
        assert row["revenue"] == pytest.approx(revenue, abs=0.02)
        assert row["commission_rate"] == pytest.approx(group["fee"].sum() / revenue, abs=1e-6)
        assert row["marketing_rate"] == pytest.approx(group["marketing"].sum() / revenue, abs=1e-6)
        assert row["delivery_rate"] == pytest.approx(group["delivery_net"].sum() / revenue, abs=1e-6)
        assert row["profit_margin"] == pytest.approx(group["profit"].sum() / revenue, abs=1e-6)
    listed = analysis.abnormal_orders(runtime, filters)
    assert listed["total"] == len(abnormal)
    assert {o["platform_order_id"] for o in listed["orders"]} == set(abnormal["订单ID"].astype(str))


def _band(km: float) -> int:
    return -1 if km is None or math.isnan(km) else min(int(km), 6)


def test_ana002_distance_bands(loaded):
    lines, runtime, filters, period = loaded
    orders, _ = raw_orders(lines, *period)
    orders["band"] = orders["距离"].map(_band)
    result = analysis.distance_analysis(runtime, filters)
    got = {r["distance_band"]: r for r in result["bands"]}
    assert sorted(got) == list(range(7))  # the delivery bands only, every one of them
    delivered = orders[orders["band"] >= 0]
    for band, group in delivered.groupby("band"):
        assert got[band]["orders"] == len(group), band
        assert got[band]["actual_profit"] == pytest.approx(group["profit"].sum(), abs=0.05)
        assert got[band]["delivery_rate"] == pytest.approx(
            group["delivery_net"].sum() / group["revenue"].sum(), abs=1e-6
        )
    assert sum(r["orders"] for r in got.values()) == len(delivered)
    # orders without a distance (收银机 in the demo) apart, with their own figures
    in_store = orders[orders["band"] == -1]
    assert len(in_store) and set(in_store["渠道"]) == {"收银机"}
    apart = result["no_distance"]
    assert apart["orders"] == len(in_store)
    assert apart["revenue"] == pytest.approx(in_store["revenue"].sum(), abs=0.02)
    assert apart["profit_margin"] == pytest.approx(in_store["profit"].sum() / in_store["revenue"].sum(), abs=1e-6)
    # no 收银机 in the selection: nothing apart
    delivery_only = Selection.build(*period, channels=["美团闪购", "饿了么"])
    assert analysis.distance_analysis(runtime, delivery_only)["no_distance"] is None


def test_ana003_time_slots_and_heatmap(loaded):
    lines, runtime, filters, period = loaded
    orders, _ = raw_orders(lines, *period)
    stamps = pd.to_datetime(orders["下单时间"])
    result = analysis.time_analysis(runtime, filters)
    hours = {r["hour"]: r for r in result["hours"]}
    for hour, count in stamps.dt.hour.value_counts().items():
        assert hours[hour]["orders"] == count
    lunch = orders[(stamps.dt.hour >= 11) & (stamps.dt.hour < 14)]
    slot = next(s for s in result["slots"] if s["slot"] == "正午")
    assert slot["orders"] == len(lunch)
    assert slot["avg_order_value"] == pytest.approx(lunch["revenue"].sum() / len(lunch), abs=1e-6)
    # the 7-day period holds each weekday once: the matrix is the plain count per weekday and hour
    weekday, hour = stamps.dt.day_of_week.iloc[0], stamps.dt.hour.iloc[0]
    same = ((stamps.dt.day_of_week == weekday) & (stamps.dt.hour == hour)).sum()
    assert result["matrix"]["orders"][weekday][hour] == same


def test_ana004_products_leave_out_consumables(loaded):
    lines, runtime, filters, period = loaded
    orders, _ = raw_orders(lines, *period)
    day = pd.to_datetime(lines["下单时间"]).dt.date
    part = lines[(day >= period[0]) & (day <= period[1])].merge(orders[["渠道", "订单ID"]], on=["渠道", "订单ID"])
    goods = part[part["一级分类名"] != "耗材"]
    result = analysis.product_analysis(runtime, filters, 0.5, 0.25)
    revenue = float((goods["实收价格"] * goods["月售"]).sum())
    assert sum(r["revenue"] for r in result["abc"]) == pytest.approx(revenue, abs=0.05)
    assert (
        result["skus"] == goods.groupby(goods["条码"].astype("string").fillna(goods["店内码"].astype("string"))).ngroups
    )
    depth = goods.groupby(["渠道", "订单ID"]).size().clip(upper=5)
    got = {r["bucket"]: r["orders"] for r in result["depth"]}
    for size, count in depth.value_counts().items():
        assert got["5+" if size == 5 else str(size)] == count


def test_ana005_overview_rows_per_store(loaded, engine):
    lines, runtime, filters, period = loaded
    orders, _ = raw_orders(lines, *period)
    with engine.connect() as conn:
        codes = stores(conn).set_index("id")["code"].to_dict()
    result = analysis.store_overview(runtime, filters)
    assert len(result["stores"]) == SPEC.stores
    for row in result["stores"]:
        mine = orders[orders["门店ID"].astype(str) == codes[row["store_id"]]]
        assert row["orders"] == len(mine)
        assert row["revenue"] == pytest.approx(mine["revenue"].sum(), abs=0.02)
        assert 0 <= row["score"] <= 100
    assert sum(c["orders"] for c in result["cities"]) == len(orders)


def test_ana006_last_reported_stock(loaded, engine):
    """queries.last_stock (热销缺货 evidence) = 剩余库存 of the latest sold line per store and SKU."""
    lines, _runtime, _filters, period = loaded
    day = pd.to_datetime(lines["下单时间"]).dt.date
    part = lines[(day >= period[0]) & (day <= period[1]) & (lines["月售"] > 0)]
    part = part.assign(sku_key=part["条码"].astype("string").fillna("code:" + part["店内码"].astype("string")))
    # the last line of a store-SKU pair; ties in 下单时间 broken as the query does (later line wins)
    expected = part.groupby(["门店ID", "sku_key"]).tail(1).sort_values("下单时间")
    expected = expected.groupby(["门店ID", "sku_key"]).tail(1).set_index(["门店ID", "sku_key"])["剩余库存"]
    with engine.connect() as conn:
        store_ids = {code: i for i, code in stores(conn).set_index("id")["code"].items()}
        product_ids = dict(conn.execute(select(Product.sku_key, Product.id)).all())
        keys = list(expected.index[:: max(1, len(expected) // 40)])  # ~40 pairs across stores
        pairs = [(store_ids[str(s)], product_ids[k]) for s, k in keys]
        got = last_stock(conn, pairs, *period)
    assert len(got) == len(pairs)
    by_pair = got.set_index(["store_id", "product_id"])["remaining_stock"]
    for (store, key), pair in zip(keys, pairs, strict=True):
        assert by_pair[pair] == pytest.approx(float(expected[(store, key)])), (store, key)
