"""门店健康分: 0–100 per store, each component scored against the other stores' distribution."""

from __future__ import annotations

import pandas as pd

from analytics import ratios
from config.rules import HealthRules

# component → higher is better (the weights are HealthRules.weights)
COMPONENTS = {"margin": True, "volume": True, "marketing_rate": False, "delivery_rate": False}
LABELS = {"margin": "利润率", "volume": "单量", "marketing_rate": "营销成本率", "delivery_rate": "配送成本率"}


def _percentile_score(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """0 for the worst store, 100 for the best, ties share the average; one store scores 50."""
    if len(values) == 1:
        return pd.Series(50.0, index=values.index)
    ranks = values.rank(method="average", ascending=higher_is_better)
    return (ranks - 1) / (len(values) - 1) * 100


def health_scores(stores: pd.DataFrame, rules: HealthRules) -> pd.DataFrame:
    """``stores``: store_id, orders, revenue, actual_profit, marketing_cost, delivery_net_cost.
    Returns store_id, the four raw figures, a score per component and ``score`` (weighted by
    ``rules.weights``)."""
    frame = stores[stores["revenue"] > 0].copy()
    frame["margin"] = ratios.profit_margin(frame["actual_profit"], frame["revenue"])
    frame["volume"] = frame["orders"].astype(float)
    frame["marketing_rate"] = ratios.marketing_rate(frame["marketing_cost"], frame["revenue"])
    frame["delivery_rate"] = ratios.delivery_rate(frame["delivery_net_cost"], frame["revenue"])
    frame["score"] = 0.0
    weights = rules.weights
    for name, higher_is_better in COMPONENTS.items():
        frame[f"{name}_score"] = _percentile_score(frame[name], higher_is_better)
        frame["score"] += weights[name] * frame[f"{name}_score"]
    columns = ["store_id", *COMPONENTS, *[f"{c}_score" for c in COMPONENTS], "score"]
    return frame[columns].sort_values("score").reset_index(drop=True)
