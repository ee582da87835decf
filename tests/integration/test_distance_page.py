"""配送分析 as the browser gets it (the page's callback over the Flask test client, on SQLite and
PostgreSQL): orders without a distance stand apart from the bands, the rate axis has round ticks."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from app import create_app, stop_app
from components import ids
from db.demo_data import DemoSpec, generate_orders, write_exports
from db.importer import import_file

SPEC = DemoSpec(stores=2, days=10, seed=7)
ROUND_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0)  # whole percents that read as round ticks


def _payload(start: str, end: str, channels: list[str]) -> dict:
    page = ids.DISTANCE
    inputs = [
        {"id": page.store, "property": "value", "value": ["all"]},
        {"id": page.date, "property": "start_date", "value": start},
        {"id": page.date, "property": "end_date", "value": end},
        {"id": page.channel, "property": "value", "value": channels},
    ]
    return {"output": f"{ids.DISTANCE_BODY}.children", "outputs": {"id": ids.DISTANCE_BODY, "property": "children"},
            "inputs": inputs, "changedPropIds": [f"{page.store}.value"], "state": []}  # fmt: skip


def _find(node, component_id):
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == component_id:
            return node["props"]
        for value in node.get("props", {}).values():
            found = _find(value, component_id)
            if found is not None:
                return found
    elif isinstance(node, list):
        for item in node:
            found = _find(item, component_id)
            if found is not None:
                return found
    return None


def _text(node) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(_text(n) for n in node)
    if isinstance(node, dict):
        return _text(node.get("props", {}).get("children", ""))
    return ""


@pytest.fixture
def demo_app(engine, settings, tmp_path):
    lines, _ = generate_orders(SPEC)
    for path in write_exports(lines, tmp_path / "demo"):
        assert import_file(engine, path, settings).status == "imported"
    app = create_app(settings, start_monitors=False)
    yield app, lines
    stop_app(app)


def test_dist001_in_store_orders_apart_and_round_percent_ticks(demo_app):
    app, lines = demo_app
    end = SPEC.end_date
    start = end - dt.timedelta(days=6)
    day = pd.to_datetime(lines["下单时间"]).dt.date
    period = lines[(day >= start) & (day <= end)]
    in_store = period.loc[period["距离"].isna(), "订单ID"].nunique()
    assert in_store and set(period.loc[period["距离"].isna(), "渠道"]) == {"收银机"}

    client = app.server.test_client()
    response = client.post("/_dash-update-component", json=_payload(str(start), str(end), ["all"]))
    assert response.status_code == 200
    body = response.json["response"][ids.DISTANCE_BODY]["children"]
    chart = _find(body, "distance-chart")["figure"]
    assert all(trace["x"] == ["0–1km", "1–2km", "2–3km", "3–4km", "4–5km", "5–6km", "6km+"] for trace in chart["data"])
    axis = chart["layout"]["yaxis2"]
    assert axis["tickformat"] == ".0%" and axis["dtick"] in ROUND_STEPS and axis["tick0"] == 0
    apart = _text(_find(body, ids.DISTANCE_NO_DISTANCE)["children"])
    assert "到店/无距离订单" in apart and f"{in_store:,} 单" in apart, apart

    delivery = client.post("/_dash-update-component", json=_payload(str(start), str(end), ["美团闪购"]))
    assert _find(delivery.json["response"][ids.DISTANCE_BODY]["children"], ids.DISTANCE_NO_DISTANCE) is None

