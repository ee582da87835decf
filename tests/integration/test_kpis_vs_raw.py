"""The KPI cards for a store and period equal an independent computation over the raw export
lines (pandas on the Chinese columns, written here from docs/METRICS.md, not from the code),
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from db.demo_data import DemoSpec, generate_orders, write_exports
from db.importer import import_file
from readmodel.selection import Selection
from services.diagnosis import store_kpis
from services.runtime import Runtime
from tests.oracle import sql_totals as oracle

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
        cards = {c["key"]: c["value"] for c in store_kpis(runtime, Selection.build(start, end, selection))["cards"]}
        want = expected(lines, code, start, end)
        for key, value in want.items():
            assert cards[key] == pytest.approx(value, rel=1e-6, abs=0.02), (code, key)


LATE_DAYS = 10  # the last store's export starts this many days after the others'


@pytest.fixture
def staggered(engine, settings, tmp_path):
    """The demo with its last store opening LATE_DAYS days after the others, served with the cache
    with the view cache on (Redis on a closed port, so L1/L2 answer) and off."""
    import dataclasses

    from services.runtime import build_runtime
    from tests.live_server import free_port

    lines, _truth = generate_orders(SPEC)
    day = pd.to_datetime(lines["下单时间"]).dt.date
    late = sorted(lines["门店ID"].unique())[-1]
    lines = lines[(lines["门店ID"] != late) | (day >= SPEC.start_date + dt.timedelta(days=LATE_DAYS))]
    for path in write_exports(lines.reset_index(drop=True), tmp_path / "demo"):
        assert import_file(engine, path, settings).status == "imported"
    cached = build_runtime(dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    yield lines, {"cache": cached, "no cache": Runtime(settings, engine, None)}
    cached.engine.dispose()


def _raw_spans(lines: pd.DataFrame) -> tuple[dict, dt.date]:
    """Each store's first day with an order (any channel) and the data's last day, from the lines."""
    day = pd.to_datetime(lines["下单时间"]).dt.date
    return day.groupby(lines["门店ID"].astype(str)).min().to_dict(), day.max()


def _raw_covered(first: dt.date, last: dt.date, start: dt.date, end: dt.date) -> int:
    return max(0, (min(end, last) - max(start, first)).days + 1)


def test_raw002_comparisons_withheld_unless_covered(staggered, engine):
    """环比 / 同比 on the cards and 经营总览 equal the raw lines' figures where every selected store's
    data covers both periods, and are withheld (with the coverage counted from the raw lines)
    where it does not; the read model's store spans are the SQL oracle's."""
    from db.queries import stores
    from readmodel import totals
    from services.analysis import store_overview

    lines, runtimes = staggered
    firsts, last = _raw_spans(lines)
    with engine.connect() as conn:
        ids = stores(conn).set_index("code")["id"].astype(int).to_dict()
    late = max(firsts, key=firsts.get)
    start = SPEC.start_date + dt.timedelta(days=2)  # 9 days from the data's 3rd day: 2 of 9 before it
    early = Selection.build(start, start + dt.timedelta(days=8))
    end = SPEC.end_date  # one day: 环比 the day before, 同比 a week before, every store covered
    last_day = Selection.build(end, end)
    cache = runtimes["cache"].cache
    store_kpis(runtimes["cache"], Selection.build(end, end, [1]))  # reads the tables the views sum
    store_overview(runtimes["cache"], Selection.build(end, end, [1]))
    computed = cache.snapshot()["computed"]
    for name, runtime in runtimes.items():
        spans = totals.store_data_spans(runtime.tables)
        with engine.connect() as conn:
            pd.testing.assert_frame_equal(spans, oracle.store_data_spans(conn), check_dtype=False)
        assert {code: spans.set_index("store_id").at[i, "first_day"] for code, i in ids.items()} == firsts, name
        assert max(spans["last_day"]) == last, name

        result = store_kpis(runtime, early)
        previous = result["comparisons"]["previous"]
        assert previous["withheld"] == "base", name
        assert previous["period"]["covered_days"] == min(
            _raw_covered(f, last, start - dt.timedelta(days=9), start - dt.timedelta(days=1)) for f in firsts.values())
        assert previous["period"]["days"] == 9 and previous["period"]["short_stores"] == SPEC.stores
        others = [ids[c] for c in firsts if c != late]
        opened = store_kpis(runtime, Selection.build(early.start, early.end, others))["comparisons"]["previous"]
        assert opened["withheld"] == "base" and opened["period"]["covered_days"] == 2  # 2 of 9 days
        assert result["comparisons"]["weeks_ago"]["withheld"] == "base"
        assert all(c["vs_previous"] is None and c["vs_weeks_ago"] is None for c in result["cards"])

        result = store_kpis(runtime, last_day)
        assert [c["withheld"] for c in result["comparisons"].values()] == [None, None], name
        now = expected(lines, None, end, end)
        before = expected(lines, None, end - dt.timedelta(days=1), end - dt.timedelta(days=1))
        week = expected(lines, None, end - dt.timedelta(days=7), end - dt.timedelta(days=7))
        cards = {c["key"]: c for c in result["cards"]}
        for key in ("orders", "revenue", "actual_profit", "avg_order_value"):
            want_previous = (now[key] - before[key]) / abs(before[key])
            want_week = (now[key] - week[key]) / abs(week[key])
            assert cards[key]["vs_previous"] == pytest.approx(want_previous, abs=1e-6), (name, key)
            assert cards[key]["vs_weeks_ago"] == pytest.approx(want_week, abs=1e-6), (name, key)
        margin = cards["profit_margin"]
        assert margin["vs_previous"] == pytest.approx(now["profit_margin"] - before["profit_margin"], abs=1e-6)

        # the late store alone falls short when the previous period reaches before its first day
        around = Selection.build(firsts[late] + dt.timedelta(days=2), firsts[late] + dt.timedelta(days=8))
        solo = store_kpis(runtime, Selection.build(around.start, around.end, [ids[late]]))
        assert solo["comparisons"]["previous"]["withheld"] == "base"
        assert solo["comparisons"]["previous"]["period"]["covered_days"] == 2
        assert store_kpis(runtime, Selection.build(around.start, around.end, others))["comparisons"][
            "previous"]["withheld"] is None  # fmt: skip
        overview = {row["store_id"]: row for row in store_overview(runtime, around)["stores"]}
        for code, store_id in ids.items():
            row = overview[store_id]
            base = (around.start - dt.timedelta(days=7), around.start - dt.timedelta(days=1))
            assert row["base_days"] == _raw_covered(firsts[code], last, *base), (name, code)
            if code == late:
                assert row["orders_change"] is None and row["revenue_change"] is None
                assert row["margin_change"] is None
                continue
            now = expected(lines, code, around.start, around.end)
            before = expected(lines, code, *base)
            assert row["orders_change"] == pytest.approx((now["orders"] - before["orders"]) / before["orders"])
            assert row["revenue_change"] == pytest.approx((now["revenue"] - before["revenue"]) / before["revenue"])
    assert cache.snapshot()["computed"] == computed  # coverage came from the tables: no query per request
