"""RuleSettings: every rule threshold overridable (argument > O2O_RULE_* > default), validated,
documented, and reaching the rules; analytics functions carry no numeric defaults of their own."""

import ast
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics import breakdowns
from analytics.diagnosis_rules import slow_movers
from analytics.health import health_scores
from analytics.ratios import profit_margin, ratio, relative_change, share
from config import PROJECT_ROOT, Settings, SettingsError
from config.rules import RuleSettings, documented, env_var, flat


def test_rules_settings001_environment_parses_and_the_argument_wins():
    env = {"O2O_RULE_URGENT_MIN_AMOUNT": " 25 ", "O2O_RULE_PRICE_BAND_EDGES": "5, 10,20",
           "O2O_RULE_SKU_RULES_MAX_STORES": "8"}  # fmt: skip
    rules = Settings.from_env(env).rules
    assert rules.todo.urgent_min_amount == 25.0 and rules.todo.sku_rules_max_stores == 8
    assert rules.products.price_band_edges == (5.0, 10.0, 20.0)
    assert rules.todo.costly_delivery_fee == 6.0  # untouched: the default
    # argument > environment > default, for one field and for the whole object
    assert RuleSettings.from_env(env, urgent_min_amount=3.0).todo.urgent_min_amount == 3.0
    given = RuleSettings().with_values(hot_growth=1.0)
    assert Settings.from_env(env, rules=given).rules is given
    assert Settings.from_env({}).rules == RuleSettings()
    with pytest.raises(AttributeError):
        rules.todo.urgent_min_amount = 1.0  # type: ignore[misc]


def test_rules_settings003_unknown_override_is_refused():
    with pytest.raises(SettingsError, match="urgent_min"):
        RuleSettings.from_env({}, urgent_min=1.0)


def test_rules_settings004_every_rule_documented_with_its_default():
    glossary = (PROJECT_ROOT / "docs" / "METRICS.md").read_text(encoding="utf-8")
    rows = {line.split("|")[4].strip(): line for line in glossary.splitlines()
            if line.startswith("| ") and "`O2O_RULE_" in line}  # fmt: skip
    names = [name for name, *_ in documented()]
    assert len(names) == len(set(names)) == len(flat(RuleSettings()))  # flat names are unique
    for name, _zh, default, var in documented():
        assert var == env_var(name) and f"`{var}`" in rows, var
        shown = ", ".join(f"{v:g}" for v in default) if isinstance(default, tuple) else f"{default:g}"
        assert f"| {shown} |" in rows[f"`{var}`"], (var, shown)


def test_rules_settings005_overrides_reach_the_rules():
    """The same frames give another answer under overridden settings: nothing is hard-wired."""
    stores = pd.DataFrame({
        "store_id": [1, 2], "orders": [100, 300], "revenue": [1000.0, 1000.0], "actual_profit": [200.0, 100.0],
        "marketing_cost": [50.0, 50.0], "delivery_net_cost": [80.0, 80.0],
    })  # fmt: skip
    default = Settings.from_env({}).rules
    # 40 % margin vs 20 % volume: store 1 (better margin) ranks above store 2
    assert health_scores(stores, default.health)["store_id"].tolist() == [2, 1]
    volume_first = Settings.from_env({"O2O_RULE_HEALTH_WEIGHT_MARGIN": "0.1", "O2O_RULE_HEALTH_WEIGHT_VOLUME": "0.5"})
    assert health_scores(stores, volume_first.rules.health)["store_id"].tolist() == [1, 2]

    channels = stores.assign(channel=["a", "b"], platform_fee=[100.0, 100.0])  # 利润率 20 % / 10 %
    # a: 0.4 × 100 + 0.2 × 50 (佣金 10 %) + 0.2 × 100 (营销 5 %) + 0.2 × 40 (配送 8 %) = 78; b: 64.7
    def ratings(rules: RuleSettings) -> list[str]:
        return breakdowns.channel_table(channels, rules.channel).set_index("channel").loc[["a", "b"], "rating"].tolist()

    assert ratings(default) == ["优", "良"]
    assert ratings(Settings.from_env({"O2O_RULE_CHANNEL_RATING_CUTOFFS": "70,80,95"}).rules) == ["中", "差"]

    as_of = dt.date(2026, 11, 27)
    days = pd.DataFrame({"store_id": 1, "product_id": 7, "quantity": 1.0, "revenue": 1.0, "cost": 0.5,
                         "day": [as_of - dt.timedelta(days=d) for d in (10, 11, 12)]})  # idle 10 days

    def bucket(rules: RuleSettings) -> str:
        todo = rules.todo
        found = slow_movers(days, as_of, min_idle_days=todo.slow_min_idle_days,
                            min_selling_days=todo.slow_min_selling_days, bucket_days=todo.slow_bucket_days)  # fmt: skip
        return found["bucket"].iloc[0]

    assert bucket(default) == "7-14天"
    assert bucket(Settings.from_env({"O2O_RULE_SLOW_BUCKET_DAYS": "5,10"}).rules) == "10天+"


def test_rules_settings006_fingerprint_follows_every_value():
    base = RuleSettings()
    assert base.fingerprint() == RuleSettings.from_env({}).fingerprint()
    assert base.with_values(urgent_min_amount=11.0).fingerprint() != base.fingerprint()
    assert base.with_values(price_band_edges=(10.0, 20.0)).fingerprint() != base.fingerprint()


def _numeric_defaults(path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
            found += [f"{path.name}:{node.name}({a.arg}={d.value})" for a, d in pairs
                      if isinstance(d, ast.Constant) and type(d.value) in (int, float)]  # fmt: skip
    return found


def test_rules_settings007_analytics_functions_have_no_numeric_defaults():
    """A threshold written as a default argument would be a second place for it (config/rules.py
    is the one): every analytics function takes its thresholds from the caller."""
    offenders = [hit for path in sorted((PROJECT_ROOT / "analytics").glob("*.py")) for hit in _numeric_defaults(path)]
    assert offenders == []


def test_rules_settings008_one_zero_denominator_rule():
    assert ratio(1, 4) == 0.25 and ratio(1, 0) is None and ratio(1, None) is None and ratio(1, float("nan")) is None
    series = ratio(pd.Series([1, 2, 3]), pd.Series([2, 0, np.nan]))
    assert series.iloc[0] == 0.5 and series.iloc[1:].isna().all()
    assert np.isnan(ratio(np.array([1.0, 2.0]), np.array([0.0, 4.0]))[0])
    assert ratio(pd.Series([1.0]), 0).isna().all() and share(pd.Series([0, 0])).isna().all()
    assert profit_margin(20.0, 100.0) == 0.2 and profit_margin(5.0, 0.0) is None
    assert relative_change(120.0, 100.0) == pytest.approx(0.2) and relative_change(5.0, 0.0) is None
    assert relative_change(None, 1.0) is None
    changes = relative_change(pd.Series([3.0, 1.0]), pd.Series([-2.0, 0.0]))
    assert changes.iloc[0] == pytest.approx(2.5) and np.isnan(changes.iloc[1])
