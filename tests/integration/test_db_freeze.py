"""A frozen database (every PostgreSQL process stopped by SIGSTOP: the kernel still ACKs, nothing
answers) against the production launcher with two Waitress workers: cached views keep being
served from the last known data version (the page says the data may be stale), an uncached
view fails within the configured bound with the Chinese message, /healthz and /metrics answer
within the bound, and everything recovers without a restart once the database is thawed.

``pytest tests/integration/test_db_freeze.py -s`` prints the figures (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

from sqlalchemy import func, select, text

from components import ids
from components.messages import DB_UNAVAILABLE
from db.engine import make_engine
from db.models import Order
from tests.live_server import live_server

TIMEOUT_S = 2.0  # O2O_DB_TIMEOUT_S for this instance (default 3): configurable, and a shorter test
MARGIN_S = 1.5  # 2 shared cores, two workers and their samplers
CLIENT_TIMEOUT_S = 15.0  # a hung request counts as failed after this (the old code hung for good)
FREEZE_LOAD_S = 6.0
BEFORE_LOAD_S = 3.0
LOAD_THREADS = 4


def _callback(output_id: str, inputs: list[dict]) -> dict:
    changed = [f"{inputs[0]['id']}.{inputs[0]['property']}"]
    return {"output": f"{output_id}.children", "outputs": {"id": output_id, "property": "children"},
            "inputs": inputs, "changedPropIds": changed, "state": []}  # fmt: skip


def _filters(page, start: str, end: str) -> list[dict]:
    return [{"id": page.store, "property": "value", "value": ["all"]},
            {"id": page.date, "property": "start_date", "value": start},
            {"id": page.date, "property": "end_date", "value": end},
            {"id": page.channel, "property": "value", "value": ["all"]}]  # fmt: skip


def _order_detail(order_id: int) -> dict:
    return _callback(ids.CHANNELS_ORDER, [{"id": ids.CHANNELS_DRILL_ORDER, "property": "data", "value": order_id}])


class Client:
    """Timed requests to one server; every outcome is kept for the figures."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self.timings: dict[str, list[float]] = {}
        self.failures: dict[str, int] = {}
        self.first_failure: dict[str, str] = {}

    def call(self, kind: str, path: str, payload: dict | None = None) -> tuple[int, str, float]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.url + path, data=data,
                                         headers={"Content-Type": "application/json"} if data else {})  # fmt: skip
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT_S) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode()
        except OSError as exc:  # timed out: the request hung
            status, body = 0, repr(exc)
        elapsed = time.perf_counter() - started
        with self.lock:
            self.timings.setdefault(kind, []).append(elapsed)
            if status not in (200, 503) or (status == 503 and kind != "healthz"):
                self.failed(kind, f"{status} {body[:300]}")
        return status, body, elapsed

    def failed(self, kind: str, what: str) -> None:
        self.failures[kind] = self.failures.get(kind, 0) + 1
        self.first_failure.setdefault(kind, what)


@contextmanager
def load(client: Client, kind: str, payload: dict):
    """LOAD_THREADS threads sending ``payload`` back to back while the block runs."""
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set():
            status, body, _ = client.call(kind, "/_dash-update-component", payload)
            if status == 200 and "data-kpi" not in body:  # served, but not the view
                with client.lock:
                    client.failed(kind, _text(body)[:300])

    threads = [threading.Thread(target=send, daemon=True) for _ in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(CLIENT_TIMEOUT_S + 5)


def _text(body: str) -> str:
    """A callback response as readable text (Dash escapes non-ASCII in its JSON)."""
    try:
        return json.dumps(json.loads(body), ensure_ascii=False)
    except ValueError:
        return body


def _facts(url: str) -> tuple[dt.date, list[int]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            last = conn.execute(select(func.max(Order.business_date))).scalar_one()
            orders = conn.execute(select(Order.id).order_by(Order.id).limit(5)).scalars().all()
    finally:
        engine.dispose()
    return last, list(orders)


def test_dbfreeze001_cached_served_uncached_bounded_and_recovers(private_postgres, private_redis, tmp_path):
    admin = make_engine(private_postgres.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE o2o"))
    admin.dispose()
    url = private_postgres.url("o2o")
    with live_server(tmp_path / "var", url, private_redis.url, O2O_WORKERS="2",
                     O2O_DB_TIMEOUT_S=str(TIMEOUT_S)) as server:  # fmt: skip
        last, orders = _facts(url)
        window = ((last - dt.timedelta(days=6)).isoformat(), last.isoformat())
        kpis = _callback(ids.DIAG_KPI_CONTAINER, _filters(ids.DIAGNOSIS, *window))
        strip = _callback(ids.DIAGNOSIS.stale, _filters(ids.DIAGNOSIS, *window))
        client = Client(server.url)
        for _ in range(12):  # both workers answer it (computed once, then from the cache tiers)
            status, body, _ = client.call("warm", "/_dash-update-component", kpis)
            assert status == 200 and "data-kpi" in body, body[:500]
        assert client.call("uncached", "/_dash-update-component", _order_detail(orders[0]))[0] == 200

        # a moment of load reaches both workers (their first requests) before anything is counted
        with load(client, "first requests", kpis):
            time.sleep(1.0)
        with load(client, "before", kpis):
            time.sleep(BEFORE_LOAD_S)

        private_postgres.freeze()
        frozen_at = time.perf_counter()
        try:
            with load(client, "cached", kpis):
                uncached = [client.call("uncached", "/_dash-update-component", _order_detail(o)) for o in orders[1:3]]
                health = client.call("healthz", "/healthz")
                metrics = client.call("metrics", "/metrics")
                marked = ""
                deadline = time.monotonic() + TIMEOUT_S + 4
                while "数据库暂时无法连接" not in marked and time.monotonic() < deadline:
                    marked = _text(client.call("strip", "/_dash-update-component", strip)[1])
                    time.sleep(0.2)
                time.sleep(1.0)  # the other worker's version check has failed too
                known_down = client.call("uncached", "/_dash-update-component", _order_detail(orders[4]))
                uncached.append(known_down)
                time.sleep(max(0.0, FREEZE_LOAD_S - (time.perf_counter() - frozen_at)))
            frozen_for = time.perf_counter() - frozen_at
        finally:
            private_postgres.thaw()
        thawed_at = time.perf_counter()

        recovered = None
        while recovered is None and time.perf_counter() - thawed_at < 20:
            status, body, _ = client.call("recovery", "/_dash-update-component", _order_detail(orders[3]))
            healthy = client.call("recovery", "/healthz")[0] == 200
            clear = "数据库暂时无法连接" not in _text(client.call("recovery", "/_dash-update-component", strip)[1])
            if status == 200 and DB_UNAVAILABLE not in _text(body) and "data-stale" not in body and healthy and clear:
                recovered = time.perf_counter() - thawed_at
            else:
                time.sleep(0.2)

        worst = {kind: max(times) for kind, times in client.timings.items()}
        cached = sorted(client.timings.get("cached", [0.0]))
        cached_count = len(client.timings.get("cached", []))
        before = len(client.timings["before"]) / BEFORE_LOAD_S
        print(f"\nbefore: {before:.0f} req/s, worst {max(client.timings['before']) * 1000:.0f} ms; "
              f"frozen {frozen_for:.1f} s: cached {cached_count} requests ({cached_count / frozen_for:.0f}/s), "
              f"failures {client.failures}, cached p50 {cached[len(cached) // 2] * 1000:.0f} ms "
              f"p95 {cached[int(len(cached) * 0.95)] * 1000:.0f} ms worst {cached[-1] * 1000:.0f} ms, "
              f"uncached {[round(u[2], 2) for u in uncached]} s, "
              f"/healthz {health[2]:.2f} s ({health[0]}), "
              f"/metrics {metrics[2]:.2f} s, recovered {recovered and round(recovered, 2)} s")  # fmt: skip

        assert not client.failures.get("before") and not client.failures.get("cached"), client.first_failure
        assert worst["cached"] < 1.0, worst
        assert cached_count >= LOAD_THREADS * 10  # it kept serving, not just once
        for status, body, elapsed in uncached:
            assert status == 200 and DB_UNAVAILABLE in _text(body), body[:300]
            assert elapsed <= TIMEOUT_S + MARGIN_S
        assert health[0] == 503 and json.loads(health[1])["database"]["error"] == "数据库不可用"
        assert str(private_postgres.port) not in health[1] and health[2] <= TIMEOUT_S + MARGIN_S
        assert metrics[0] == 200 and metrics[2] <= TIMEOUT_S + MARGIN_S
        assert "数据库暂时无法连接" in marked  # the page says its data may be stale
        assert recovered is not None and recovered < 10, server.log_tail()


def _within(seconds: float, work) -> tuple[object, float]:
    """``work()``'s result (or exception) and its duration; fails when it still runs after
    ``seconds`` (the old code hung: the test must not)."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as exc:
            outcome.append(exc)

    started = time.perf_counter()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting for the database after {seconds} s"
    return outcome[0], time.perf_counter() - started


def test_dbfreeze002_cold_start_and_long_reads_bounded(private_postgres, tmp_path):
    """No data version known yet (the database froze before the first request): the view fails
    within the bound with the Chinese message. A whole-table read (its own, longer bound) in
    flight is cut once the version check finds the database not answering."""
    from app import create_app, stop_app
    from config import Settings
    from db.engine import reading
    from db.errors import DataLayerError
    from db.migrate import upgrade

    admin = make_engine(private_postgres.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE o2o"))
    admin.dispose()
    url = private_postgres.url("o2o")
    migrated = make_engine(url)
    upgrade(migrated)
    migrated.dispose()
    settings = Settings.from_env({}, database_url=url, data_dir=tmp_path / "var", redis_url="redis://127.0.0.1:1/0",
                                 db_timeout_s=TIMEOUT_S, db_load_timeout_s=60.0)  # fmt: skip
    app = create_app(settings, start_monitors=False)
    runtime = app.server.extensions["o2o_runtime"]
    try:
        private_postgres.freeze()
        client = app.server.test_client()
        payload = _callback(ids.DIAG_KPI_CONTAINER, _filters(ids.DIAGNOSIS, "2026-11-01", "2026-11-07"))
        response, elapsed = _within(TIMEOUT_S + 10, lambda: client.post("/_dash-update-component", json=payload))
        assert response.status_code == 200 and DB_UNAVAILABLE in _text(response.get_data(as_text=True))
        assert elapsed <= TIMEOUT_S + MARGIN_S
        private_postgres.thaw()
        thawed_at = time.perf_counter()
        while not runtime.cache.database_status().available and time.perf_counter() - thawed_at < 10:
            time.sleep(0.3)
            with contextlib.suppress(DataLayerError):
                runtime.cache.data_stamp()  # recovers: a long read gets its own bound again
        assert runtime.cache.database_status().available

        def long_read():
            with reading(runtime.engine, timeout_s=60.0) as conn:
                return conn.execute(text("SELECT pg_sleep(8)")).all()

        outcome: list = []
        reader = threading.Thread(target=lambda: outcome.append(_within(TIMEOUT_S + 10, long_read)), daemon=True)
        reader.start()
        time.sleep(1.0)  # the read is under way
        private_postgres.freeze()
        frozen_at = time.perf_counter()
        while runtime.cache.database_status().available and time.perf_counter() - frozen_at < TIMEOUT_S + 5:
            time.sleep(1.1)  # a version check once per interval, as requests would
            runtime.cache.data_stamp()
        reader.join(TIMEOUT_S + 12)
        assert outcome, "the long read neither finished nor failed"
        failure, lasted = outcome[0]
        assert isinstance(failure, DataLayerError), failure
        assert lasted > TIMEOUT_S + 1.0  # its own bound, not the views' (it began 1 s before the freeze)
        assert time.perf_counter() - frozen_at <= TIMEOUT_S + 1.0 + 2 * MARGIN_S  # cut, not waited out (8 s)
    finally:
        private_postgres.thaw()
        stop_app(app)
