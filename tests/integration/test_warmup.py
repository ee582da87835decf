"""Cache warmer: the views it computes are the ones the page callbacks ask for (same keys),
its work stays out of the hit rate, and its thread warms after start and stops cleanly."""

from __future__ import annotations

import time

import pytest

from app import WARMER_KEY, create_app, stop_app
from components import ids
from db.demo_data import DemoSpec
from db.seed import seed_demo
from services.diagnosis import default_range, filter_options
from services.runtime import EXTENSION_KEY
from services.warmup import STORE_VIEWS, CacheWarmer, default_views
from tests.integration.test_app import kpi_payload


@pytest.fixture
def seeded_app(engine, settings):
    seed_demo(engine, settings, DemoSpec(stores=3, days=21, seed=5))
    app = create_app(settings, start_monitors=False)
    yield app
    stop_app(app)


def test_warm001_callbacks_hit_what_the_warmer_computed(seeded_app):
    runtime = seeded_app.server.extensions[EXTENSION_KEY]
    report = CacheWarmer(runtime).warm_once()
    assert report.complete and report.errors == 0
    stats = runtime.cache.stats
    assert stats.requests == 0 and stats.computed == 0  # background work is not counted
    options = filter_options(runtime)  # a hit: the warmer listed the stores through it
    assert (stats.requests, stats.computed) == (1, 0)
    # computed: every view, plus the store list, minus each store's 健康分 (a slice of the
    # all-store scores computed for the all-stores view)
    assert stats.warmed == report.views + 1 - len(options["stores"])
    assert report.views == len(default_views(runtime)) == 10 + 3 * len(STORE_VIEWS)
    stats.requests = 0
    start, end = (d.isoformat() for d in default_range(options["last_day"]))
    client = seeded_app.server.test_client()
    sections = (ids.DIAG_KPI_CONTAINER, ids.DIAG_TODO, ids.DIAG_TREND, ids.DIAG_HEALTH)
    for stores in (["all"], [str(options["stores"][1]["id"])]):
        for output in sections:
            payload = kpi_payload(stores, start, end, ["all"])
            payload["output"] = f"{output}.children"
            payload["outputs"] = {"id": output, "property": "children"}
            assert client.post("/_dash-update-component", json=payload).status_code == 200
    assert stats.requests == 2 * len(sections)
    assert stats.computed == 0  # every default view was already there

    payload = kpi_payload(["all"], options["first_day"], end, ["all"])  # not a default view
    assert client.post("/_dash-update-component", json=payload).status_code == 200
    assert (stats.computed, stats.assembled) == (0, 1)  # summed from the tables the warmer loaded


def test_warm002_thread_warms_on_start_and_stops(engine, settings):
    seed_demo(engine, settings, DemoSpec(stores=2, days=14, seed=5))
    app = create_app(settings, start_monitors=True)
    warmer = app.server.extensions[WARMER_KEY]
    try:
        deadline = time.monotonic() + 60
        while warmer.warmed_version is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert warmer.warmed_version is not None and warmer.last_report.errors == 0
        assert warmer.alive
    finally:
        stop_app(app)
    assert not warmer.alive


def test_warm003_views_share_the_tables_they_depend_on(seeded_app):
    """今日必做 depends on the last day only; 健康分 and 经营总览 slice the all-store figures: a
    window or a store selection that changes nothing they read computes nothing new."""
    import datetime as dt

    from readmodel.selection import Selection
    from services.analysis import store_overview
    from services.todo import store_health, todo_list

    runtime = seeded_app.server.extensions[EXTENSION_KEY]
    stats = runtime.cache.stats
    options = filter_options(runtime)
    start, end = default_range(options["last_day"])
    picked = [options["stores"][0]["id"], options["stores"][2]["id"]]
    everyone = Selection.build(start, end)
    todo = todo_list(runtime, everyone)
    health = store_health(runtime, everyone)
    overview = store_overview(runtime, everyone)
    computed = stats.computed
    assert todo_list(runtime, Selection.build(start - dt.timedelta(days=5), end)) == todo
    two = Selection.build(start, end, picked)
    assert store_health(runtime, two) == [row for row in health if row["store_id"] in picked]
    sliced = store_overview(runtime, two)
    assert stats.computed == computed
    assert sliced["stores"] == [row for row in overview["stores"] if row["store_id"] in picked]
    assert sum(c["orders"] for c in sliced["cities"]) == sum(r["orders"] for r in sliced["stores"])
    assembled = stats.assembled
    todo_list(runtime, Selection.build(start, end - dt.timedelta(days=1)))  # another last day: a new
    assert (stats.computed, stats.assembled) == (computed, assembled + 1)  # view, from the tables in memory
