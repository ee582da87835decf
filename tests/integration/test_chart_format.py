"""Every figure the pages build (issue 13 §6): each section callback of every page is called over
the Flask test client on a small demo, and every dcc.Graph in the answers must carry the zh-CN
locale config and axes that can never show plotly's SI suffixes ("100k"), with hovers formatted
by components/format.py."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app import create_app, stop_app
from components import ids
from db.demo_data import DemoSpec
from db.seed import seed_demo

SPEC = DemoSpec(stores=3, days=14, seed=5)  # last day 2026-11-27
START, END = "2026-11-21", "2026-11-27"
# inputs of the pages' own controls, beside the filter bars
CONTROLS = {ids.TIME_MEASURE: ("orders", "revenue"), ids.PRODUCTS_SELL_SPLIT: (50,), ids.PRODUCTS_MARGIN_SPLIT: (25,),
            ids.SYSTEM_INTERVAL: (1,)}  # fmt: skip
FILTERS = {"start_date": START, "end_date": END}


@pytest.fixture
def backend():
    return "sqlite"  # what is tested is the figures, not the data layer


@pytest.fixture
def demo_app(engine, settings):
    seed_demo(engine, settings, SPEC)
    app = create_app(settings, start_monitors=False)
    yield app
    stop_app(app)


def _value(input_: dict, variant: int, sku: int):
    component, prop = input_["id"], input_["property"]
    if component == ids.PRODUCTS_SKU:  # 商品分析 opened from a 今日必做 link: the SKU's own chart
        return sku
    if component in CONTROLS:
        options = CONTROLS[component]
        return options[variant % len(options)]
    if prop in FILTERS:
        return FILTERS[prop]
    if prop == "value":
        return ["all"]
    return None  # drill-down stores: nothing drilled


def _graphs(node) -> list[dict]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "Graph" and node.get("namespace") == "dash_core_components":
            found.append(node["props"])
        for value in node.get("props", node).values() if "props" in node else node.values():
            found.extend(_graphs(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_graphs(item))
    return found


def _section_callbacks(client) -> list[dict]:
    """Callbacks that fill a section from a page's filter bar (or the 系统监控 timer)."""
    deps = client.get("/_dash-dependencies").json
    return [d for d in deps if all(o.endswith(".children") and not o.startswith("{") for o in _outputs(d))
            and all(isinstance(i["id"], str) for i in d["inputs"])
            and any(i["property"] == "start_date" or i["id"] == ids.SYSTEM_INTERVAL for i in d["inputs"])]  # fmt: skip


def _outputs(dep: dict) -> list[str]:
    return dep["output"].strip(".").split("...")


def test_charts101_every_page_graph_is_chinese(demo_app, engine):
    client = demo_app.server.test_client()
    with engine.connect() as conn:
        sku = conn.execute(text("select min(product_id) from agg_store_day_product")).scalar_one()
    graphs: dict[str, list[dict]] = {}
    for dep in _section_callbacks(client):
        outputs = _outputs(dep)
        for variant in range(2):
            payload = {
                "output": dep["output"],
                "outputs": [{"id": o.rsplit(".", 1)[0], "property": "children"} for o in outputs]
                if len(outputs) > 1 else {"id": outputs[0].rsplit(".", 1)[0], "property": "children"},
                "inputs": [{**i, "value": _value(i, variant, sku)} for i in dep["inputs"]],
                "changedPropIds": [f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"],
                "state": [{**s, "value": None} for s in dep.get("state", [])],
            }  # fmt: skip
            response = client.post("/_dash-update-component", json=payload)
            assert response.status_code in (200, 204), (dep["output"], response.get_data(as_text=True)[:300])
            if response.status_code == 200:
                graphs.setdefault(dep["output"], []).extend(_graphs(response.json["response"]))
    found = [g for found in graphs.values() for g in found]
    # twice (two control values): 每日趋势, 2 on 经营总览, 5 + the SKU's on 商品分析, 2 on 时段分析, 渠道, 配送,
    # 5 on 系统监控
    assert len(found) >= 2 * 18, {k: len(v) for k, v in graphs.items()}
    for props in found:
        title = props["figure"]["layout"]["title"]["text"]
        assert props["config"]["locale"] == "zh-CN", title
        assert props["config"]["locales"]["zh-CN"]["format"]["currency"] == ["¥", ""], title
        layout = props["figure"]["layout"]
        for key in (k for k in layout if k.startswith(("xaxis", "yaxis"))):
            axis = layout[key]
            assert axis.get("exponentformat") == "none", (title, key)  # plotly's default "B" gives 100k
            assert not str(axis.get("tickformat", "")).endswith("s"), (title, key)  # d3's SI type
            assert axis.get("automargin") is True, (title, key)
        for trace in props["figure"]["data"]:
            assert "hovertemplate" in trace, (title, trace.get("name"))
            colorbar = trace.get("colorbar")
            if colorbar is not None:
                assert colorbar.get("exponentformat") == "none", title
