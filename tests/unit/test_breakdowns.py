"""Breakdowns of the analysis pages on hand-built frames (answers worked out by hand)."""

import datetime as dt
import math

import pandas as pd
import pytest

from analytics import breakdowns, products
from config.rules import ChannelRules, ProductRules

PRODUCTS = ProductRules()  # the default bands: 0–10 … 200+ 元; groups at 15 / 30 / 50 元


def test_brk001_time_slots_cover_every_hour_once_and_wrap_midnight():
    labels = breakdowns.time_slot(pd.Series(range(24)))
    assert labels.isna().sum() == 0
    assert list(labels[[6, 8, 9, 11, 13, 14, 17, 20, 22, 23, 0, 1, 2, 5]]) == [
        "清晨",
        "清晨",
        "上午",
        "正午",
        "正午",
        "下午",
        "傍晚",
        "晚间",
        "晚间",
        "深夜",
        "深夜",
        "深夜",
        "凌晨",
        "凌晨",
    ]


def test_brk002_slot_table_sums_hours_and_computes_ratios_from_sums():
    hourly = pd.DataFrame(
        {
            "hour": [23, 0, 1, 12, 12],
            "orders": [1, 2, 1, 3, 1],
            "revenue": [10.0, 30.0, 20.0, 90.0, 10.0],
            "actual_profit": [1.0, 3.0, -2.0, 9.0, 1.0],
        }
    )
    table = breakdowns.slot_table(hourly).set_index("slot")
    assert list(table.index) == [s for s, _, _ in breakdowns.TIME_SLOTS]
    night = table.loc["深夜"]
    assert (night["orders"], night["revenue"], night["actual_profit"]) == (4, 60.0, 2.0)
    assert night["avg_order_value"] == pytest.approx(15.0)
    assert night["profit_margin"] == pytest.approx(2 / 60)
    assert table.loc["正午", "avg_order_value"] == pytest.approx(25.0)  # (90 + 10) / 4, not the mean of 30 and 10
    assert table.loc["清晨", "orders"] == 0 and math.isnan(table.loc["清晨", "avg_order_value"])


def test_brk003_weekday_hour_matrix_is_a_daily_average_per_weekday():
    monday, next_monday, tuesday = dt.date(2026, 11, 2), dt.date(2026, 11, 9), dt.date(2026, 11, 3)
    hourly = pd.DataFrame({"day": [monday, next_monday, tuesday], "hour": [10, 10, 22], "orders": [4, 2, 5]})
    matrix = breakdowns.weekday_hour_matrix(hourly)
    assert matrix.shape == (7, 24)
    assert matrix.loc["周一", 10] == 3.0  # (4 + 2) over two Mondays
    assert matrix.loc["周二", 22] == 5.0
    assert matrix.values.sum() == 8.0


def test_brk004_channel_rating_points_and_labels():
    channels = pd.DataFrame(
        {
            "channel": ["好", "差"],
            "orders": [10, 10],
            "revenue": [1000.0, 1000.0],
            "actual_profit": [150.0, -10.0],
            "platform_fee": [50.0, 200.0],
            "marketing_cost": [50.0, 300.0],
            "delivery_net_cost": [20.0, 150.0],
        }
    )
    thresholds = ChannelRules()  # 利润率 0→15 %, 佣金率 15→5 %, 营销 20→5 %, 配送 12→2 %; 40/20/20/20
    assert thresholds.thresholds == {"profit_margin": (0.15, 0.0), "commission_rate": (0.05, 0.15),
                                     "marketing_rate": (0.05, 0.20), "delivery_rate": (0.02, 0.12)}  # fmt: skip
    table = breakdowns.channel_table(channels, thresholds).set_index("channel")
    assert table.loc["好", "rating_score"] == pytest.approx(100.0) and table.loc["好", "rating"] == "优"
    assert table.loc["差", "rating_score"] == pytest.approx(0.0) and table.loc["差", "rating"] == "差"
    middle = channels.assign(actual_profit=[75.0, 75.0], platform_fee=[100.0, 100.0], marketing_cost=[125.0, 125.0],
                             delivery_net_cost=[70.0, 70.0])  # fmt: skip
    assert breakdowns.channel_table(middle, thresholds)["rating_score"].tolist() == pytest.approx([50.0, 50.0])
    assert breakdowns.channel_table(middle, thresholds)["rating"].tolist() == ["良", "良"]


def test_brk005_distance_table_has_every_delivery_band_in_order():
    bands = pd.DataFrame(
        {
            "distance_band": [0, 0, 6, -1],
            "orders": [2, 3, 1, 1],
            "revenue": [50.0, 50.0, 40.0, 10.0],
            "actual_profit": [10.0, 5.0, -4.0, 1.0],
            "delivery_net_cost": [5.0, 5.0, 12.0, 0.0],
        }
    )
    table = breakdowns.distance_table(bands)
    # orders without a distance are no band (issue 13: 到店 orders distorted the bands' line)
    assert list(table["band"]) == ["0–1km", "1–2km", "2–3km", "3–4km", "4–5km", "5–6km", "6km+"]
    first = table.iloc[0]
    assert (first["orders"], first["profit_margin"], first["delivery_rate"], first["avg_order_value"]) == (
        5,
        pytest.approx(0.15),
        pytest.approx(0.1),
        pytest.approx(20.0),
    )
    assert table.iloc[6]["delivery_cost_per_order"] == 12.0
    assert table.iloc[1]["orders"] == 0
    assert table["orders"].sum() == 6


def test_brk006_orders_without_a_distance_apart_with_their_own_figures():
    bands = pd.DataFrame(
        {
            "distance_band": [2, -1, -1, 5],
            "orders": [4, 3, 2, 1],
            "revenue": [100.0, 60.0, 40.0, 30.0],
            "actual_profit": [8.0, 20.0, 9.0, -6.0],
            "delivery_net_cost": [12.0, 0.0, 0.0, 9.0],
        }
    )
    row = breakdowns.no_distance_orders(bands)
    assert len(row) == 1
    got = row.iloc[0]
    # 5 orders, 实收 100, 利润 29 → 利润率 29 %, 客单价 20, no delivery cost
    assert (got["orders"], got["revenue"], got["actual_profit"]) == (5, 100.0, 29.0)
    assert got["profit_margin"] == pytest.approx(0.29) and got["avg_order_value"] == pytest.approx(20.0)
    assert got["delivery_rate"] == 0.0 and got["delivery_cost_per_order"] == 0.0
    delivered = breakdowns.distance_table(bands)
    assert delivered["orders"].sum() == 5 and delivered["profit_margin"].iloc[2] == pytest.approx(0.08)
    assert breakdowns.no_distance_orders(bands[bands["distance_band"] >= 0]).empty


def _products(revenues: list[float]) -> pd.DataFrame:
    n = len(revenues)
    return pd.DataFrame({"product_id": range(1, n + 1), "revenue": revenues, "profit": [r * 0.2 for r in revenues]})


def test_brk006_abc_pareto_includes_the_product_that_crosses_each_limit():
    # shares 50, 25, 10, 6, 4, 3, 2 (%) → cumulative before: 0, 50, 75, 85, 91, 95, 98
    classified = products.abc_classes(_products([3.0, 50.0, 25.0, 10.0, 6.0, 4.0, 2.0]), (0.80, 0.95))
    assert list(classified["revenue"]) == [50.0, 25.0, 10.0, 6.0, 4.0, 3.0, 2.0]
    assert list(classified["abc"]) == ["A", "A", "A", "B", "B", "C", "C"]
    summary = products.abc_summary(classified).set_index("abc")
    assert summary.loc["A", "skus"] == 3 and summary.loc["A", "revenue_share"] == pytest.approx(0.85)


def test_brk007_quadrant_splits_are_inclusive():
    frame = pd.DataFrame({"sell_through": [0.5, 0.5, 0.49, 0.1], "margin": [0.25, 0.1, 0.3, None]})
    assert list(products.quadrant(frame, 0.5, 0.25)) == ["明星", "引流", "潜力", "问题"]


def test_brk008_price_bands_and_groups():
    prices = pd.Series([0.0, 9.99, 10.0, 14.99, 15.0, 29.99, 30.0, 49.99, 50.0, 100.0, 199.0, 200.0, 5000.0])
    bands = products.price_band(prices, PRODUCTS.price_band_edges)
    assert list(bands) == ["0–10", "0–10", "10–20", "10–20", "10–20", "20–30", "30–40",
                           "40–50", "50–100", "100–200", "100–200", "200+", "200+"]  # fmt: skip
    groups = products.price_group(prices, PRODUCTS.price_group_edges)
    assert list(groups) == ["流量", "流量", "流量", "流量", "主流", "主流", "利润", "利润",
                            "高价", "高价", "高价", "高价", "高价"]  # fmt: skip
    metrics = products.product_metrics(pd.DataFrame({
        "product_id": [1, 2, 3], "quantity": [2.0, 1.0, 0.0], "revenue": [10.0, 250.0, 0.0], "cost": [6.0, 200.0, 0.0],
        "profit": [4.0, 50.0, 0.0], "sales_days": [2, 1, 0], "stores": [1, 1, 1]}), days=4)  # fmt: skip
    table = products.price_band_table(metrics, PRODUCTS.price_band_edges, PRODUCTS.price_group_edges).set_index("band")
    assert table.loc["0–10", "skus"] == 1 and table.loc["200+", "revenue"] == 250.0
    assert table["skus"].sum() == 2  # the product without sales has no unit price
    assert metrics.loc[0, "sell_through"] == 0.5 and metrics.loc[1, "unit_price"] == 250.0


def test_brk009_basket_depth_buckets():
    depths = pd.DataFrame({"depth": [1, 2, 5, 7], "orders": [4, 3, 2, 1], "revenue": [40.0, 60.0, 100.0, 80.0]})
    table = products.basket_depth(depths).set_index("bucket")
    assert list(table.index) == ["1", "2", "3", "4", "5+"]
    assert table.loc["5+", "orders"] == 3 and table.loc["5+", "avg_order_value"] == pytest.approx(60.0)
    assert table.loc["1", "order_share"] == pytest.approx(0.4)
    assert table.loc["3", "orders"] == 0


def test_brk010_category_trend_keeps_the_top_categories_and_sums_the_rest():
    day = dt.date(2026, 11, 1)
    frame = pd.DataFrame({"category": ["a", "b", "c", "c"], "day": [day] * 4, "revenue": [5.0, 3.0, 1.0, 0.5]})
    trend = products.category_trend(frame, top=1)
    assert dict(zip(trend["category"], trend["revenue"], strict=True)) == {"a": 5.0, "其他": 4.5}
