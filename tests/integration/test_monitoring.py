"""Samplers, monitor panel callback, /healthz and /metrics against real servers."""

from __future__ import annotations

import dataclasses
import http.client
import itertools
import json
import sys
import time

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app, stop_app
from components import ids
from monitoring.system import SystemPoller
from tests.integration.test_app import kpi_payload

PANEL_PAYLOAD = {
    "output": f"..{ids.MONITOR_CARDS}.children...{ids.MONITOR_DETAILS}.children..",
    "outputs": [{"id": ids.MONITOR_CARDS, "property": "children"},
                {"id": ids.MONITOR_DETAILS, "property": "children"}],
    "inputs": [{"id": ids.MONITOR_INTERVAL, "property": "n_intervals", "value": 1},
               {"id": ids.MONITOR_COLLAPSE, "property": "is_open", "value": False}],
    "changedPropIds": [f"{ids.MONITOR_INTERVAL}.n_intervals"],
    "state": [],
}  # fmt: skip


@pytest.fixture
def backend():
    return "sqlite"  # the samplers do not depend on the database backend


def panel_text(client) -> str:
    response = client.post("/_dash-update-component", json=PANEL_PAYLOAD)
    assert response.status_code == 200
    return json.dumps(response.json, ensure_ascii=False)


def wait_for(predicate, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


def test_monitor001_redis_down_and_back(settings, engine, private_redis):
    interval = 0.5
    app = create_app(dataclasses.replace(settings, redis_url=private_redis.url, redis_check_interval_s=interval))
    client = app.server.test_client()
    try:
        wait_for(lambda: "在线" in panel_text(client), 3)
        private_redis.stop()
        took = wait_for(lambda: "离线" in panel_text(client), interval + 1.0)
        assert took <= interval + 1.0
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json["status"] == "degraded"
        assert health.json["redis"]["state"] == "offline" and health.json["database"]["ok"] is True
        private_redis.start()
        wait_for(lambda: "在线" in panel_text(client), 3)
        assert client.get("/healthz").json["redis"]["state"] == "online"
    finally:
        stop_app(app)


def test_monitor002_healthz_503_when_database_down(settings):
    dead = dataclasses.replace(settings, database_url="postgresql://postgres@127.0.0.1:1/none")
    app = create_app(dead, start_monitors=False)
    response = app.server.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "down" and response.json["database"]["ok"] is False
    assert "Traceback" not in response.get_data(as_text=True)
    stop_app(app)


def test_monitor003_psutil_figures_are_within_the_machine(tmp_path):
    poller = SystemPoller(tmp_path, interval_s=0.2)
    poller.start()
    time.sleep(0.5)
    poller.stop()
    sample = poller.latest
    memory = psutil.virtual_memory()
    assert 0.0 <= sample.cpu_percent <= 100.0
    assert 0.0 <= sample.process_cpu_percent <= 100.0 * (psutil.cpu_count() or 1)
    assert sample.memory_total == memory.total and 0 < sample.memory_used <= memory.total
    assert 10 * 1024**2 < sample.process_rss < memory.total
    if sys.platform.startswith("linux"):  # the interpreter and its libraries are file pages
        assert 1024**2 < sample.process_shared < sample.process_rss
    assert sample.process_threads >= 1 and 0 < sample.disk_free <= sample.disk_total
    assert len(poller.samples) >= 2 and poller.samples[0].at < poller.samples[-1].at


def test_monitor004_metrics_parse_and_carry_the_series(settings, engine, private_redis):
    app = create_app(dataclasses.replace(settings, redis_url=private_redis.url, redis_check_interval_s=0.5))
    client = app.server.test_client()
    try:
        client.post("/_dash-update-component", json=kpi_payload(["all"], "2026-11-01", "2026-11-02", ["all"]))
        wait_for(lambda: app.server.extensions["o2o_runtime"].monitors.redis.snapshot.state == "online", 3)
        text = client.get("/metrics").get_data(as_text=True)
    finally:
        stop_app(app)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("o2o_cache_hits", "o2o_cache_misses", "o2o_cache_requests", "o2o_redis_up",
                 "o2o_redis_latency_ms", "o2o_process_rss_bytes", "o2o_process_shared_bytes", "o2o_process_cpu_percent",
                 "o2o_dash_callback_seconds", "o2o_import_batches", "o2o_cache_l1_bytes",
                 "o2o_cache_mapped_bytes"):  # fmt: skip
        assert name in families, name
    up = families["o2o_redis_up"].samples[0].value
    assert up == 1.0
    outputs = {s.labels.get("output") for s in families["o2o_dash_callback_seconds"].samples}
    assert f"{ids.DIAG_KPI_CONTAINER}.children" in outputs
    tiers = {s.labels["tier"] for s in families["o2o_cache_misses"].samples}
    assert tiers == {"l1", "l2", "l3"}
    # the KPI callback's view function was asked once and computed once (a fresh cache)
    kpis = "services.diagnosis.store_kpis"
    asked = {s.labels["view"]: s.value for s in families["o2o_cache_view_requests"].samples}
    computed = {s.labels["view"]: s.value for s in families["o2o_cache_view_computed"].samples}
    assert asked[kpis] == 1 and computed[kpis] == 1
    seconds = {s.labels["view"]: s.value for s in families["o2o_cache_view_compute_seconds"].samples}
    assert seconds[kpis] > 0


def test_monitor005_system_page_charts_from_samples(settings, engine):
    app = create_app(dataclasses.replace(settings, system_poll_interval_s=0.2, redis_url="redis://127.0.0.1:1/0"))
    client = app.server.test_client()
    try:
        time.sleep(0.7)
        payload = {
            "output": f"..{ids.SYSTEM_CHARTS}.children...{ids.SYSTEM_TABLES}.children..",
            "outputs": [{"id": ids.SYSTEM_CHARTS, "property": "children"},
                        {"id": ids.SYSTEM_TABLES, "property": "children"}],
            "inputs": [{"id": ids.SYSTEM_INTERVAL, "property": "n_intervals", "value": 1}],
            "changedPropIds": [f"{ids.SYSTEM_INTERVAL}.n_intervals"], "state": [],
        }  # fmt: skip
        response = client.post("/_dash-update-component", json=payload)
    finally:
        stop_app(app)
    assert response.status_code == 200
    charts = response.json["response"][ids.SYSTEM_CHARTS]["children"]
    body = json.dumps(charts, ensure_ascii=False)
    assert "进程 RSS" in body and "Redis 延迟" in body and "缓存命中率" in body
    cpu_trace = charts["props"]["children"][0]["props"]["children"]["props"]["figure"]["data"][0]
    assert len(cpu_trace["y"]) >= 3  # samples of the last hour, one per beat


def test_monitor006_a_failed_cache_operation_shows_redis_down_at_once(settings, engine, private_redis):
    """With checks 30 s apart: a failed Redis operation of the cache makes the health thread check
    at once (离线 within seconds, not at the next beat), and a Redis that is back shows 在线
    within seconds too (while down it is checked at most 5 s apart: OFFLINE_RECHECK_S)."""
    app = create_app(dataclasses.replace(settings, redis_url=private_redis.url, redis_check_interval_s=30))
    client = app.server.test_client()
    try:
        wait_for(lambda: "在线" in panel_text(client), 5)
        private_redis.stop()
        client.post("/_dash-update-component", json=kpi_payload(["all"], "2026-11-01", "2026-11-03", ["all"]))
        took = wait_for(lambda: "离线" in panel_text(client), 3)
        private_redis.start()
        back = wait_for(lambda: "在线" in panel_text(client), 7)
        assert "近5分钟成功率" in panel_text(client)  # says which checks the rate counts
    finally:
        stop_app(app)
    print(f"offline shown after {took:.2f} s, online again after {back:.2f} s")


def test_monitor007_success_rate_counts_recent_checks_only(private_redis):
    """One outage no longer pulls the rate down for good: once its checks are older than the
    window, the rate is the recent checks' (1.0), while the totals still count the failures."""
    from monitoring.redis_health import RedisHealthMonitor

    monitor = RedisHealthMonitor(private_redis.url, interval_s=0.2, timeout_s=0.2, window_s=2.0)
    monitor.start()
    try:
        wait_for(lambda: monitor.snapshot.state == "online", 3)
        private_redis.stop()
        wait_for(lambda: monitor.snapshot.consecutive_failures >= 2, 5)
        assert monitor.snapshot.success_rate < 1.0
        private_redis.start()
        wait_for(lambda: monitor.snapshot.state == "online", 8)
        wait_for(lambda: monitor.snapshot.success_rate == 1.0, 4)
        health = monitor.snapshot
        assert health.checks > health.successes  # the outage is still in the totals
    finally:
        monitor.stop()


def _scrape(url: str) -> dict[str, float]:
    """The instance's summed cache counters and its worker pids from one /metrics answer."""
    import urllib.request

    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    found: dict[str, float] = {}
    pids = set()
    for family in text_string_to_metric_families(text):
        if family.type == "counter" and family.name.startswith("o2o_cache"):
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                    found[f"{sample.name}{{{labels}}}"] = sample.value
        if family.name == "o2o_worker_rss_bytes":
            pids |= {int(s.labels["pid"]) for s in family.samples}
    found["pids"] = pids
    return found


def test_monitor008_killed_worker_keeps_its_counts_and_leaves_no_record(empty_database_url, private_redis, tmp_path):
    """The production launcher with 2 workers under requests; one worker is killed (-9) and
    restarted: the summed /metrics counters never go down, and the dead pid's record and gauges
    are gone."""
    import threading
    import urllib.request

    from tests.integration.test_pieces import _worker_pids
    from tests.live_server import live_server

    data_dir = tmp_path / "var"
    with live_server(data_dir, empty_database_url, private_redis.url, O2O_WORKERS="2") as server:
        pids = _worker_pids(server)
        stop = threading.Event()
        failures: list[str] = []

        def traffic() -> None:
            day = 0
            while not stop.is_set():
                start = f"2026-11-{14 + day % 13:02d}"
                body = json.dumps(kpi_payload(["all"], start, "2026-11-27", ["all"])).encode()
                request = urllib.request.Request(f"{server.url}/_dash-update-component", body,
                                                 {"Content-Type": "application/json"})  # fmt: skip
                try:
                    urllib.request.urlopen(request, timeout=20).read()
                except (OSError, http.client.HTTPException) as exc:  # the killed worker's connection (a
                    # reset, or a response cut short): the client's to retry
                    failures.append(str(exc))
                day += 1

        senders = [threading.Thread(target=traffic) for _ in range(3)]
        for sender in senders:
            sender.start()
        series = []
        try:
            deadline = time.monotonic() + 30
            while _scrape(server.url)["pids"] != set(pids):
                assert time.monotonic() < deadline
                time.sleep(0.3)
            for _ in range(15):
                series.append(_scrape(server.url))
                time.sleep(0.2)
            victim = psutil.Process(pids[0])
            victim.kill()
            victim.wait(10)
            deadline = time.monotonic() + 60
            while True:
                series.append(_scrape(server.url))
                now = set(_worker_pids(server))
                if len(now) == 2 and victim.pid not in now and series[-1]["pids"] == now:
                    break
                assert time.monotonic() < deadline, server.log_tail()
                time.sleep(0.2)
            for _ in range(10):
                series.append(_scrape(server.url))
                time.sleep(0.2)
        finally:
            stop.set()
            for sender in senders:
                sender.join(30)
        files = sorted(p.name for p in (data_dir / "metrics" / str(server.port)).glob("*.db"))
    counters = [k for k in series[0] if k != "pids"]
    assert any("o2o_cache_requests" in k for k in counters)
    for i, (before, after) in enumerate(itertools.pairwise(series)):
        for name in counters:
            assert after.get(name, 0) >= before[name], (i, len(series), name, before[name], after.get(name))
    assert victim.pid not in series[-1]["pids"]
    assert f"counter_{victim.pid}.db" in files, files  # its counts stay in the sums ...
    assert not any(name.startswith("gauge_live") and name.endswith(f"_{victim.pid}.db") for name in files), files
    assert series[-1]["o2o_cache_requests_total{}"] > series[0]["o2o_cache_requests_total{}"]
    print(f"{len(series)} scrapes, requests {series[0]['o2o_cache_requests_total{}']:.0f} → "
          f"{series[-1]['o2o_cache_requests_total{}']:.0f}, client errors at the kill: {len(failures)}")  # fmt: skip


def test_monitor009_counts_of_killed_workers_are_not_lost(empty_database_url, private_redis, tmp_path):
    """Both workers of a production launch are killed (-9) right after answering requests: once
    they are replaced, /metrics counts every request they answered (each count is in the
    worker's file at once; the old per-second JSON records lost the last second's)."""
    import urllib.request

    from tests.integration.test_pieces import _worker_pids
    from tests.live_server import live_server

    body = json.dumps(kpi_payload(["all"], "2026-11-01", "2026-11-27", ["all"])).encode()

    def callback() -> None:  # a new connection each: the kernel spreads them over the workers
        request = urllib.request.Request(f"{server.url}/_dash-update-component", body,
                                         {"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=20) as response:
            assert response.status == 200

    def counted() -> tuple[float, float]:
        scrape = _scrape(server.url)
        views = sum(v for k, v in scrape.items() if k.startswith("o2o_cache_view_requests_total"))
        return scrape["o2o_cache_requests_total{}"], views

    with live_server(tmp_path / "var", empty_database_url, private_redis.url, O2O_WORKERS="2",
                     O2O_CACHE_WARM="0") as server:  # fmt: skip
        pids = _worker_pids(server)
        callback()
        time.sleep(1.5)  # published by the worker, however it publishes
        per_callback = counted()
        assert per_callback[0] >= 1 and per_callback[1] == per_callback[0]
        for _ in range(20):
            callback()
        for pid in pids:  # at once: no time for a periodic publication
            psutil.Process(pid).kill()
        deadline = time.monotonic() + 90
        while not all(f"(pid {pid}) 退出 (退出码 -9), 重新启动" in server.log_tail(100_000) for pid in pids):
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.2)
        while True:  # both replaced and answering (a scrape may wait for a new worker's start)
            try:
                if len(now := _worker_pids(server)) == 2 and _scrape(server.url)["pids"] == set(now):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.3)
        assert counted() == (21 * per_callback[0], 21 * per_callback[1])
