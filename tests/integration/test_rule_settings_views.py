"""Rule thresholds from the settings reach the cached views, and the cache keys follow them:
two runtimes sharing the disk tier with other O2O_RULE_* values never serve each other's views."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from config.rules import RuleSettings
from db.demo_data import DemoSpec, generate_orders, write_exports
from db.importer import import_file
from readmodel.selection import Selection
from services import analysis, todo
from services.runtime import build_runtime
from tests.live_server import free_port

SPEC = DemoSpec(stores=3, days=14, seed=5)


@pytest.fixture
def runtimes(engine, settings, tmp_path):
    """A runtime with the default rules and one with overridden rules (from the environment),
    on the same database and the same disk tier (Redis on a closed port)."""
    lines, _truth = generate_orders(SPEC)
    for path in write_exports(lines, tmp_path / "demo"):
        assert import_file(engine, path, settings).status == "imported"
    base = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    env = {"O2O_RULE_URGENT_MIN_AMOUNT": "1000000", "O2O_RULE_CHANNEL_RATING_CUTOFFS": "97,98,99",
           "O2O_RULE_HEALTH_WEIGHT_MARGIN": "0", "O2O_RULE_HEALTH_WEIGHT_VOLUME": "1",
           "O2O_RULE_HEALTH_WEIGHT_MARKETING": "0", "O2O_RULE_HEALTH_WEIGHT_DELIVERY": "0"}  # fmt: skip
    strict = dataclasses.replace(base, rules=RuleSettings.from_env(env))
    made = [build_runtime(base), build_runtime(strict)]
    yield made
    for runtime in made:
        runtime.engine.dispose()


def test_rules_views001_thresholds_reach_the_views_and_their_keys(runtimes):
    default, strict = runtimes
    assert default.settings.data_dir == strict.settings.data_dir  # one disk tier for both
    last = SPEC.end_date
    day, week = Selection.build(last, last), Selection.build(last - dt.timedelta(days=6), last)

    found = todo.todo_list(default, day)
    assert sum(g["count"] for g in found["urgent"]) > 0  # loss-making orders of ≥ 10 元 on the day
    overridden = todo.todo_list(strict, day)
    assert overridden["urgent"] == []  # nothing reaches 1,000,000 元: every finding is 关注
    moved = {(g["rule"], g["count"]) for g in found["urgent"]}
    assert sum(c for _, c in moved) <= sum(g["count"] for g in overridden["watch"])

    ratings = {c["channel"]: c["rating"] for c in analysis.channel_analysis(default, week)["channels"]}
    assert set(ratings.values()) - {"差"}  # some channel rates above 差 by default
    assert {c["rating"] for c in analysis.channel_analysis(strict, week)["channels"]} == {"差"}

    by_volume = todo.store_health(strict, week)  # 单量 alone: the store with most orders scores 100
    assert max(by_volume, key=lambda r: r["volume"])["score"] == pytest.approx(100.0)
    assert todo.store_health(default, week) != by_volume
    # the overridden runtime computed its own views (the default's disk entries have other keys)
    snap = strict.cache.snapshot()
    assert snap["computed"] + snap["assembled"] >= 3
