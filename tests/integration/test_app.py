"""The Dash app over the Flask test client and over real Waitress HTTP."""

from __future__ import annotations

import dataclasses
import json
import urllib.request

import pytest

from app import create_app, stop_app
from components import ids
from db.importer import import_file
from tests.factories import write_csv
from tests.integration.test_import import small_sheet
from tests.live_server import waitress_in_thread


def kpi_payload(stores, start, end, channels) -> dict:
    inputs = [
        {"id": ids.DIAG_STORE_FILTER, "property": "value", "value": stores},
        {"id": ids.DIAG_DATE_FILTER, "property": "start_date", "value": start},
        {"id": ids.DIAG_DATE_FILTER, "property": "end_date", "value": end},
        {"id": ids.DIAG_CHANNEL_FILTER, "property": "value", "value": channels},
    ]
    return {
        "output": f"{ids.DIAG_KPI_CONTAINER}.children",
        "outputs": {"id": ids.DIAG_KPI_CONTAINER, "property": "children"},
        "inputs": inputs,
        "changedPropIds": [f"{ids.DIAG_STORE_FILTER}.value"],
        "state": [],
    }


def kpi_values(response_json: dict) -> dict[str, str]:
    """Map data-kpi → displayed text from the rendered component tree."""
    found: dict[str, str] = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if "data-kpi" in props:
                found[props["data-kpi"]] = props["children"]
            for value in props.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(response_json["response"][ids.DIAG_KPI_CONTAINER]["children"])
    return found


@pytest.fixture
def loaded_app(engine, settings, tmp_path):
    assert import_file(engine, write_csv(small_sheet(), tmp_path / "o.csv"), settings).ok
    app = create_app(settings)
    yield app
    stop_app(app)  # samplers and cache warmer must not outlive the test's database


def test_app001_pages_and_local_assets(loaded_app):
    client = loaded_app.server.test_client()
    index = client.get("/")
    assert index.status_code == 200
    html = index.get_data(as_text=True)
    assert "00_bootstrap.min.css" in html and "cdn." not in html.lower()
    assert client.get("/assets/00_bootstrap.min.css").status_code == 200
    deps = client.get("/_dash-dependencies").json
    assert any(d["output"] == f"{ids.DIAG_KPI_CONTAINER}.children" for d in deps)


def test_app002_kpi_callback_matches_hand_figures(loaded_app):
    client = loaded_app.server.test_client()
    # 2026-11-01..02; 美团闪购 MT2 has zero platform fee → excluded; MT1 16 + EL1 20 remain
    response = client.post("/_dash-update-component", json=kpi_payload(["all"], "2026-11-01", "2026-11-02", ["all"]))
    assert response.status_code == 200
    values = kpi_values(response.json)
    assert values["orders"] == "2"
    assert values["revenue"] == "¥36.00"  # two decimals below ¥1万 (issue 13)
    # profit: MT1 1.5 + EL1 3.1 = 4.6; margin 4.6 / 36
    assert values["actual_profit"] == "¥4.60"
    assert values["avg_order_value"] == "¥18.00"
    assert values["profit_margin"] == "12.8%"
    assert values["active_skus"] == "2"
    only_eleme = client.post(
        "/_dash-update-component", json=kpi_payload(["all"], "2026-11-01", "2026-11-02", ["饿了么"])
    )
    assert kpi_values(only_eleme.json)["revenue"] == "¥20.00"


def test_app003_database_down_gives_friendly_message(settings):
    dead = dataclasses.replace(settings, database_url="postgresql://postgres@127.0.0.1:1/none")
    app = create_app(dead, start_monitors=False)
    client = app.server.test_client()
    for output in (ids.DIAG_KPI_CONTAINER, ids.DIAG_TODO, ids.DIAG_TREND, ids.DIAG_HEALTH):
        payload = kpi_payload(["all"], "2026-11-01", "2026-11-02", ["all"])
        payload["output"] = f"{output}.children"
        payload["outputs"] = {"id": output, "property": "children"}
        response = client.post("/_dash-update-component", json=payload)
        assert response.status_code == 200, output
        body = json.dumps(response.json, ensure_ascii=False)
        assert "数据库暂时无法访问" in body and "Traceback" not in body, output
    stop_app(app)


def test_app004_served_by_waitress_over_http(loaded_app):
    with waitress_in_thread(loaded_app.server) as server:
        base = f"http://127.0.0.1:{server.effective_port}"
        with urllib.request.urlopen(f"{base}/", timeout=10) as response:
            assert response.status == 200
            assert response.headers["Server"] == "waitress"
        request = urllib.request.Request(
            f"{base}/_dash-update-component",
            data=json.dumps(kpi_payload(["all"], "2026-11-01", "2026-11-02", ["all"])).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert kpi_values(json.load(response))["orders"] == "2"


def test_app005_cached_kpis_and_fresh_after_import(loaded_app, engine, settings, tmp_path):
    """Repeated views come from the cache; an import is visible on the next view (≤ 1 s)."""
    import time

    from config.readmodel import VERSION_CHECK_S
    from services.runtime import get_runtime
    from tests.factories import order, sheet

    client = loaded_app.server.test_client()
    payload = kpi_payload(["all"], "2026-11-01", "2026-11-02", ["all"])
    assert kpi_values(client.post("/_dash-update-component", json=payload).json)["orders"] == "2"
    assert kpi_values(client.post("/_dash-update-component", json=payload).json)["orders"] == "2"
    with loaded_app.server.app_context():
        cache = get_runtime().cache
    snap = cache.snapshot()
    assert snap["computed"] == 1 and snap["requests"] == 2
    extra = sheet(order("JD9", "2026-11-02 10:00:00", [{"received_price": 9.0}], channel="京东到家",
                        service_fee=0.5))  # fmt: skip
    assert import_file(engine, write_csv(extra, tmp_path / "more.csv"), settings).status == "imported"
    time.sleep(VERSION_CHECK_S + 0.1)
    assert kpi_values(client.post("/_dash-update-component", json=payload).json)["orders"] == "3"


def test_app006_todo_and_trend_callbacks(engine, settings):
    """今日必做 and the trend through the page callbacks on a small generated demo."""
    from db.demo_data import DemoSpec
    from db.seed import seed_demo

    seed_demo(engine, settings, DemoSpec(stores=3, days=21, seed=5))
    app = create_app(settings, start_monitors=False)
    client = app.server.test_client()
    with app.server.app_context():
        from services.diagnosis import filter_options
        from services.runtime import get_runtime

        options = filter_options(get_runtime())
    store = str(options["stores"][0]["id"])
    end = options["last_day"]

    def call(output: str, stores: list[str]) -> dict:
        payload = kpi_payload(stores, "2026-11-21", end, ["all"])
        payload["output"] = f"{output}.children"
        payload["outputs"] = {"id": output, "property": "children"}
        response = client.post("/_dash-update-component", json=payload)
        assert response.status_code == 200
        return response.json["response"][output]["children"]

    one = json.dumps(call(ids.DIAG_TODO, [store]), ensure_ascii=False)
    assert f"今日必做 · 截至 {end}" in one and "请选择不超过 5 家门店" not in one
    assert "利润贡献" in one  # every store with sales has top-profit SKUs in the last 7 days
    import re

    assert not re.search(r"：\d+[、（]|、\d+[、\"]", one)  # every SKU is shown by its name, never its id
    everyone = json.dumps(call(ids.DIAG_TODO, ["all"]), ensure_ascii=False)
    assert "请选择不超过 5 家门店" in everyone
    health = json.dumps(call(ids.DIAG_HEALTH, ["all"]), ensure_ascii=False)
    assert "门店健康分" in health and all(s["name"] in health for s in options["stores"])
    with app.server.app_context():
        from readmodel.selection import Selection
        from services.todo import store_health

        rows = store_health(get_runtime(), Selection.build("2026-11-21", end))
    assert [r["score"] for r in rows] == sorted(r["score"] for r in rows)  # worst first
    assert all(0 <= r["score"] <= 100 for r in rows) and len(rows) == 3
    trend = call(ids.DIAG_TREND, ["all"])
    data = trend["props"]["figure"]["data"]
    assert [t["name"] for t in data] == ["订单数", "实收", "实际利润"]
    assert len(data[0]["x"]) == 7 and data[0]["x"][-1] == end


def test_app007_responses_encoded_as_dash_encodes_them(loaded_app, monkeypatch):
    """The layout and a callback response through the app, with the one-pass encoder and with
    Dash's own (the value is cached: the same object is encoded both times)."""
    import dash._callback
    import dash.dash
    from dash import _utils

    from serving import encoding

    client = loaded_app.server.test_client()
    payload = kpi_payload(["all"], "2026-11-01", "2026-11-02", ["all"])
    monkeypatch.setattr(dash._callback, "to_json", encoding.to_json)  # as serving.worker.configure_process
    monkeypatch.setattr(dash.dash, "to_json", encoding.to_json)
    ours = [client.get("/_dash-layout").get_data(), client.post("/_dash-update-component", json=payload).get_data()]
    monkeypatch.setattr(dash._callback, "to_json", _utils.to_json)
    monkeypatch.setattr(dash.dash, "to_json", _utils.to_json)
    theirs = [client.get("/_dash-layout").get_data(), client.post("/_dash-update-component", json=payload).get_data()]
    for mine, dash_own in zip(ours, theirs, strict=True):
        assert json.loads(mine) == json.loads(dash_own) and len(mine) > 200
