"""Health score on three hand-built stores."""

import pandas as pd
import pytest

from analytics.health import health_scores
from config.rules import HealthRules

RULES = HealthRules()  # 40 / 20 / 20 / 20 %


def test_health001_weighted_percentile_scores():
    stores = pd.DataFrame({
        "store_id": [1, 2, 3],
        "orders": [100, 300, 200],
        "revenue": [1000.0, 1000.0, 1000.0],
        "actual_profit": [200.0, 100.0, 150.0],  # margin 20 %, 10 %, 15 %
        "marketing_cost": [50.0, 150.0, 100.0],  # 5 %, 15 %, 10 % (lower is better)
        "delivery_net_cost": [80.0, 80.0, 120.0],  # 8 %, 8 %, 12 % (tie for best)
    })  # fmt: skip
    scores = health_scores(stores, RULES).set_index("store_id")
    # store 1: margin best 100, volume worst 0, marketing best 100, delivery tied best (75)
    assert scores.at[1, "margin_score"] == 100 and scores.at[1, "volume_score"] == 0
    assert scores.at[1, "delivery_rate_score"] == pytest.approx(75.0)
    assert scores.at[1, "score"] == pytest.approx(0.4 * 100 + 0.2 * 0 + 0.2 * 100 + 0.2 * 75)
    # store 2: margin 0, volume 100, marketing 0, delivery 75 → 35
    assert scores.at[2, "score"] == pytest.approx(0.2 * 100 + 0.2 * 75)
    # store 3: margin 50, volume 50, marketing 50, delivery 0 → 40; worst first: 2 (35), 3, 1
    assert scores.at[3, "score"] == pytest.approx(0.4 * 50 + 0.2 * 50 + 0.2 * 50)
    assert list(health_scores(stores, RULES)["store_id"]) == [2, 3, 1]


def test_health002_single_store_and_no_revenue():
    one = pd.DataFrame({"store_id": [7, 8], "orders": [10, 0], "revenue": [100.0, 0.0], "actual_profit": [5.0, 0.0],
                        "marketing_cost": [1.0, 0.0], "delivery_net_cost": [2.0, 0.0]})  # fmt: skip
    scores = health_scores(one, RULES)
    assert list(scores["store_id"]) == [7] and scores.at[0, "score"] == pytest.approx(50.0)
