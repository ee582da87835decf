"""The KPI cards for a store and period equal an independent computation over the raw export
lines (pandas on the Chinese columns, written here from docs/METRICS.md, not from the code),
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from db.demo_data import DemoSpec, generate_orders, write_exports
from db.importer import import_file
from services.diagnosis import store_kpis
from services.filters import ViewFilters
from services.runtime import Runtime

SPEC = DemoSpec(stores=4, days=21, seed=3)
FEE_CHANNELS = ("美团闪购", "饿了么", "京东到家", "抖音")


def expected(lines: pd.DataFrame, store_code: str | None, start: dt.date, end: dt.date) -> dict:
    lines = lines.copy()
    lines["day"] = pd.to_datetime(lines["下单时间"]).dt.date
    part = lines[(lines["day"] >= start) & (lines["day"] <= end)]
    if store_code is not None:
        part = part[part["门店ID"] == store_code]
    part = part.assign(line_revenue=part["实收价格"] * part["月售"])
    key = ["渠道", "订单ID"]
    orders = part.groupby(key).agg(
        revenue=("line_revenue", "sum"), item_profit=("利润额", "sum"),
        service_fee=("平台服务费", "first"), commission=("平台佣金", "first"),
        delivery=("物流配送费", "first"), rebate=("企客后返", "first"),
    ).reset_index()  # fmt: skip
    fee = orders["service_fee"].where(orders["service_fee"] > 0, orders["commission"]).fillna(0.0)
    abnormal = orders["渠道"].isin(FEE_CHANNELS) & (fee.abs() < 0.005)
    orders = orders[~abnormal]
    profit = orders["item_profit"] - fee[~abnormal] - orders["delivery"] + orders["rebate"]
    kept = part.merge(orders[key], on=key)
    skus = kept[kept["一级分类名"] != "耗材"]
    skus = skus[skus["月售"] > 0]
    sku_ids = skus["条码"].astype("string").fillna("code:" + skus["店内码"].astype("string"))
    revenue = float(orders["revenue"].sum())
    return {
        "orders": float(len(orders)),
        "revenue": revenue,
        "actual_profit": float(profit.sum()),
        "avg_order_value": revenue / len(orders),
        "profit_margin": float(profit.sum()) / revenue,
        "active_skus": float(sku_ids.nunique()),
    }


@pytest.fixture
def loaded(engine, settings, tmp_path):
    lines, _truth = generate_orders(SPEC)
    for path in write_exports(lines, tmp_path / "demo"):
        assert import_file(engine, path, settings).status == "imported"
    return lines, Runtime(settings, engine, None)


def test_raw001_kpis_equal_independent_pandas(loaded):
    lines, runtime = loaded
    end = SPEC.end_date
    start = end - dt.timedelta(days=6)
    store_code = str(sorted(lines["门店ID"].unique())[1])
    from db.queries import stores

    with runtime.engine.connect() as conn:
        store_id = int(stores(conn).set_index("code").at[store_code, "id"])
    for code, selection in ((None, None), (store_code, [store_id])):
        cards = {c["key"]: c["value"] for c in store_kpis(runtime, ViewFilters.build(start, end, selection))}
        want = expected(lines, code, start, end)
        for key, value in want.items():
            assert cards[key] == pytest.approx(value, rel=1e-6, abs=0.02), (code, key)
