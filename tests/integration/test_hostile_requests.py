"""Hostile callback requests over real Waitress HTTP: made-up outputs must not grow /metrics,
oversized bodies are refused unread, malformed bodies are a 400 with one log line (never a 500
with a traceback), and the real callbacks of every page still answer."""

from __future__ import annotations

import copy
import http.client
import json
import logging
import threading
import time
from contextlib import contextmanager

import psutil
import pytest
from flask import request
from prometheus_client.parser import text_string_to_metric_families

from app import create_app, stop_app
from components import ids
from config import Settings
from db.engine import make_engine
from db.importer import import_file
from db.migrate import upgrade
from scripts import _dash_protocol as dp
from serving.worker import waitress_server
from tests.factories import write_csv
from tests.integration.test_app import kpi_payload
from tests.integration.test_import import small_sheet
from tests.live_server import live_server, waitress_in_thread
from web import accepts_upload
from web.prop_kinds import kind_of

CALLBACK = "/_dash-update-component"
MB = 1024 * 1024
REFUSED_LOGGER = "o2o.requests"


@pytest.fixture
def backend():
    return "sqlite"  # request checks do not depend on the database backend


def _settings(root, **overrides) -> Settings:
    return Settings.from_env({}, database_url=f"sqlite:///{root / 'o2o.sqlite3'}", data_dir=root / "var",
                             redis_url="redis://127.0.0.1:1/0", cache_warm=False, **overrides)  # fmt: skip


@contextmanager
def _served(root, make_server=None, wrap=None, **overrides):
    """The app on a SQLite database holding the three hand-made orders, served by Waitress."""
    settings = _settings(root, **overrides)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    assert import_file(engine, write_csv(small_sheet(), root / "orders.csv"), settings).ok
    app = create_app(settings, start_monitors=False)
    wsgi = wrap(app.server) if wrap else app.server
    factory = (lambda: make_server(app, settings)) if make_server else None
    try:
        with waitress_in_thread(wsgi, make_server=factory) as server:
            yield app, server.effective_port
    finally:
        stop_app(app)
        engine.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with _served(tmp_path_factory.mktemp("hostile")) as (app, port):
        yield app, port


def _request(port: int, path: str, body=None, *, method: str = "POST", headers: dict | None = None,
             chunked: bool = False) -> tuple[int, dict, bytes]:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})},
                     encode_chunked=chunked)  # fmt: skip
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _post(port: int, body) -> tuple[int, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, _headers, text = _request(port, CALLBACK, data)
    return status, text


def _get(port: int, path: str) -> tuple[int, dict, bytes]:
    return _request(port, path, method="GET")


def _deps(port: int) -> list[dict]:
    return json.loads(_get(port, "/_dash-dependencies")[2])


def _server_deps(port: int) -> list[dict]:
    return [d for d in _deps(port) if dp.is_server_callback(d)]


# -- real callbacks -----------------------------------------------------------------------------------
def test_guard001_every_page_callback_answers_and_every_input_has_a_kind(site):
    """Each page as the browser opens it: the router, then every server callback whose
    components are on the page, twice (the second round reaches the grids the first rendered:
    downloads, drill-downs). The guard refuses none of them. And since it refuses a property
    nobody declared, every input and state of every server callback has a kind
    (web.prop_kinds): a new callback cannot be refused for want of one."""
    _app, port = site
    shell = json.loads(_get(port, "/_dash-layout")[2])
    deps = _server_deps(port)
    router = next(d for d in deps if dp.is_router(d))
    sent = 0
    for path in dp.nav_paths(shell):
        status, text = _post(port, dp.router_body(router, path))
        assert status == 200, (path, text[:300])
        state = dp.PageState()
        state.add_tree(shell)
        state.add_tree(json.loads(text)["response"][dp.ROUTER_CONTENT]["children"])
        dp.set_location(state, f"http://127.0.0.1:{port}", path)
        for _round in range(2):
            for dep in (d for d in deps if not dp.is_router(d)):
                for body in dp.callback_bodies(dep, state):
                    status, text = _post(port, body)
                    sent += 1
                    assert status in (200, 204), (path, dp.label(dep), status, text[:300])
                    if status == 200:
                        state.apply(json.loads(text))
    assert sent > 50  # every page's sections, URL sync, downloads and drill-downs
    missing = [f"{dep['output']}: {item['id']}.{item['property']}"
               for dep in deps for item in [*dep["inputs"], *dep.get("state", [])]
               if kind_of(dp.parse_id(item["id"]), item["property"]) is None]  # fmt: skip
    assert missing == []


# -- malformed bodies -------------------------------------------------------------------------------
def _kpi(stores=("all",), start="2026-11-01", end="2026-11-02", channels=("all",)) -> dict:
    return kpi_payload(stores if not isinstance(stores, tuple) else list(stores), start, end,
                       channels if not isinstance(channels, tuple) else list(channels))  # fmt: skip


def _with(body: dict, path: tuple, value) -> dict:
    changed = copy.deepcopy(body)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def _without(body: dict, key: str) -> dict:
    return {k: v for k, v in body.items() if k != key}


def _products(sell) -> dict:
    page = ids.PRODUCTS
    inputs = [{"id": page.store, "property": "value", "value": ["all"]},
              {"id": page.date, "property": "start_date", "value": "2026-11-01"},
              {"id": page.date, "property": "end_date", "value": "2026-11-02"},
              {"id": page.channel, "property": "value", "value": ["all"]},
              {"id": ids.PRODUCTS_SELL_SPLIT, "property": "value", "value": sell},
              {"id": ids.PRODUCTS_MARGIN_SPLIT, "property": "value", "value": 25}]  # fmt: skip
    return {"output": f"{ids.PRODUCTS_BODY}.children", "outputs": {"id": ids.PRODUCTS_BODY, "property": "children"},
            "inputs": inputs, "changedPropIds": [f"{ids.PRODUCTS_SELL_SPLIT}.value"]}  # fmt: skip


def _download(columns) -> dict:
    def named(kind: str) -> dict:
        return {"type": kind, "page": "distance", "table": "bands"}

    pattern = json.dumps({"page": "distance", "table": ["MATCH"], "type": "download"}, separators=(",", ":"))
    return {
        "output": f"{pattern}.data", "outputs": {"id": named("download"), "property": "data"},
        "inputs": [{"id": named("csv"), "property": "n_clicks", "value": 1},
                   {"id": named("xlsx"), "property": "n_clicks"}],
        "state": [{"id": named("grid"), "property": "virtualRowData", "value": [{"band": "0-1km"}]},
                  {"id": named("grid"), "property": "rowData", "value": [{"band": "0-1km"}]},
                  {"id": named("grid"), "property": "columnDefs", "value": columns},
                  {"id": named("title"), "property": "children", "value": "距离段汇总"}],
        "changedPropIds": [json.dumps(named("csv"), separators=(",", ":"), sort_keys=True) + ".n_clicks"],
    }  # fmt: skip


def _drill(selected) -> dict:
    store, product, order = ids.CHANNELS_DRILL_CHANNEL, ids.CHANNELS_DRILL_PRODUCT, ids.CHANNELS_DRILL_ORDER
    grid = {"type": "grid", "page": "channels", "table": "channels"}
    return {
        "output": f"..{store}.data...{product}.data...{order}.data..",
        "outputs": [{"id": i, "property": "data"} for i in (store, product, order)],
        "inputs": [[{"id": grid, "property": "selectedRows", "value": selected}]],
        "state": [{"id": store, "property": "data"}, {"id": product, "property": "data"}],
        "changedPropIds": [json.dumps(grid, separators=(",", ":"), sort_keys=True) + ".selectedRows"],
    }


DEEP = 50_000
MALFORMED = {
    "json array": [_kpi()],
    "not json": b'{"output": ',
    "missing inputs": _without(_kpi(), "inputs"),
    "missing outputs": _without(_kpi(), "outputs"),
    "unknown output": _with(_kpi(), ("output",), "made-up.children"),
    "output not a string": _with(_kpi(), ("output",), ["diagnosis-kpi-cards.children"]),
    "clientside output": _with(_kpi(), ("output",), f"{ids.CHANNELS_ORDER_SHOWN}.data"),
    "deep nesting": ('{"output": "x", "inputs": ' + "[" * DEEP + "]" * DEEP + "}").encode(),
    "deep value": _with(_kpi(), ("inputs", 0, "value"), json.loads("[" * 200 + "]" * 200)),
    "dict as store id": _kpi(stores=[{"id": 3}]),
    "dict as store list": _kpi(stores={"id": 3}),
    "store id not a number": _kpi(stores=["3 OR 1=1"]),
    "store id too large": _kpi(stores=["9" * 30]),
    "too many stores": _kpi(stores=[str(i) for i in range(6000)]),
    "list as date": _kpi(start=["2026-11-01"]),
    "number as date": _kpi(end=20261102),
    "not a date": _kpi(start="2026-13-45"),
    "year 1": _kpi(start="0001-01-01"),
    "year 9999": _kpi(end="9999-12-31"),
    "dict as channel": _kpi(channels=[{"name": "饿了么"}]),
    "string as channels": _kpi(channels="饿了么"),
    "number as component id": _with(_kpi(), ("inputs", 0, "id"), 5),
    "another component's input": _with(_kpi(), ("inputs", 0, "id"), "overview-store-filter"),
    "too few inputs": _with(_kpi(), ("inputs",), _kpi()["inputs"][:2]),
    "input not an object": _with(_kpi(), ("inputs", 1), "2026-11-01"),
    "dict in changedPropIds": _with(_kpi(), ("changedPropIds",), [{"id": "x"}]),
    "state not a list": _with(_kpi(), ("state",), {"id": "x"}),
    "text as a number": _products("abc"),
    "rows not a list": _drill("channels"),
    "column without field": _download([{"headerName": 5}]),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_guard002_malformed_body_is_400_with_one_log_line(site, caplog, case):
    _app, port = site
    with caplog.at_level(logging.INFO):
        status, text = _post(port, MALFORMED[case])
    assert status == 400, text[:300]
    assert len(text) < 500 and b"Traceback" not in text
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == [REFUSED_LOGGER], [r.getMessage() for r in warnings]
    assert "Traceback" not in caplog.text and all(r.exc_info is None for r in caplog.records)


# -- /metrics ---------------------------------------------------------------------------------------
def _callback_outputs(port: int) -> set[str]:
    text = _get(port, "/metrics")[2].decode()
    return {sample.labels["output"] for family in text_string_to_metric_families(text)
            if family.name == "o2o_dash_callback_seconds" for sample in family.samples}  # fmt: skip


def test_guard003_made_up_outputs_leave_metrics_bounded(site):
    _app, port = site
    assert _post(port, _kpi())[0] == 200  # one real series
    before = len(_get(port, "/metrics")[2])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # one keep-alive connection
    try:
        for i in range(500):
            body = json.dumps(_with(_kpi(), ("output",), f"made-up-{i}.children")).encode()
            conn.request("POST", CALLBACK, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
    finally:
        conn.close()
    after = len(_get(port, "/metrics")[2])
    registered = {d["output"] for d in _server_deps(port)}
    assert _callback_outputs(port) <= registered | {"unknown"}
    assert after - before < 4096, (before, after)  # one "unknown" series at most (~2 KB), not 500


def test_guard004_metrics_content_type_has_one_charset(site):
    _app, port = site
    status, headers, _body = _get(port, "/metrics")
    assert status == 200
    content_type = headers["Content-Type"]
    assert content_type.startswith("text/plain") and content_type.lower().count("charset") == 1, content_type


# -- oversized bodies ---------------------------------------------------------------------------------
class CountingInput:
    """WSGI middleware: counts the request body bytes the app reads (``read``)."""

    def __init__(self, app) -> None:
        self.app, self.read, self._lock = app, 0, threading.Lock()

    def __call__(self, environ, start_response):
        stream, counter = environ["wsgi.input"], self

        class Counted:
            def read(self, *args):
                data = stream.read(*args)
                with counter._lock:
                    counter.read += len(data)
                return data

            def readline(self, *args):
                data = stream.readline(*args)
                with counter._lock:
                    counter.read += len(data)
                return data

            def __iter__(self):
                return iter(self.readline, b"")

        environ["wsgi.input"] = Counted()
        return self.app(environ, start_response)


def _big_body(size: int) -> bytes:
    """A JSON callback body of ``size`` bytes (a long list of small numbers: costly to parse)."""
    head = json.dumps(_kpi())[:-1] + ', "padding": ['
    count = (size - len(head) - 2) // 2
    return (head + "1," * (count - 1) + "1]}").encode()


def test_guard005_oversized_callback_body_is_refused_unread(tmp_path, caplog):
    counting: list[CountingInput] = []

    def wrap(wsgi):
        counting.append(CountingInput(wsgi))
        return counting[0]

    body = _big_body(5 * MB)
    with _served(tmp_path, wrap=wrap) as (_app, port), caplog.at_level(logging.WARNING):
        status, _headers, text = _request(port, CALLBACK, body)
        assert status == 413 and b"Traceback" not in text
        pieces = (body[i : i + 64 * 1024] for i in range(0, len(body), 64 * 1024))
        status, _headers, text = _request(port, CALLBACK, pieces, chunked=True)  # no Content-Length
        assert status == 413 and b"Traceback" not in text
        assert counting[0].read == 0  # refused by its length, nothing read into the app
        assert [r.name for r in caplog.records if r.levelno >= logging.WARNING] == [REFUSED_LOGGER] * 2
        assert _post(port, _kpi())[0] == 200  # a normal callback after them


def test_guard006_upload_route_has_its_own_larger_limit(tmp_path):
    """A route declared with ``accepts_upload`` takes bodies up to O2O_MAX_IMPORT_BYTES through
    the production Waitress (whose own limit must not cut it), while callbacks keep theirs."""
    received: list[int] = []

    def make_server(app, settings):
        @app.server.post("/test-upload")
        @accepts_upload
        def upload():
            received.append(len(request.get_data()))
            return "ok"

        return waitress_server(app, settings, host="127.0.0.1", port=0)

    with _served(tmp_path, make_server=make_server, max_callback_bytes=1 * MB, max_import_bytes=3 * MB) as (_, port):
        csv = {"Content-Type": "text/csv"}
        assert _request(port, "/test-upload", b"x" * (2 * MB), headers=csv)[0] == 200 and received == [2 * MB]
        assert _request(port, CALLBACK, _big_body(2 * MB))[0] == 413
        assert _request(port, "/test-upload", b"x" * (3 * MB + 1), headers=csv)[0] == 413 and received == [2 * MB]


def _rss(pid: int) -> int:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def test_guard007_large_bodies_do_not_grow_the_worker(tmp_path):
    """Four 5 MB callback bodies at once against the production launcher (one serving process):
    all refused with 413, and the server's memory does not grow by what they carry."""
    body = _big_body(5 * MB)
    with live_server(tmp_path / "data", f"sqlite:///{tmp_path / 'o2o.sqlite3'}", "redis://127.0.0.1:1/0",
                     O2O_WORKERS="1", O2O_CACHE_WARM="false") as server:  # fmt: skip
        for _ in range(3):  # warm: the first requests build Dash's routes and caches
            assert _post(server.port, _kpi())[0] == 200
        time.sleep(1.0)
        before = _rss(server.process.pid)
        statuses: list[int] = []

        def send() -> None:
            statuses.append(_request(server.port, CALLBACK, body)[0])

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        grown = _rss(server.process.pid) - before
        assert statuses == [413] * 4
        assert grown < 5 * MB, f"RSS grew {grown / MB:.1f} MB"
        assert _post(server.port, _kpi())[0] == 200
