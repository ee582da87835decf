"""Dash responses encoded by orjson in one pass give the JSON Dash's own encoder gives."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import pytest
from dash import _utils, dcc, html

from serving import encoding


def _samples():
    figure = {"data": [{"type": "bar", "x": ["美团闪购", "饿了么"], "y": np.array([1.5, np.nan])}],
              "layout": {"title": {"text": "渠道"}}}  # fmt: skip
    tree = html.Div([
        dbc.Alert("数据库暂时无法访问", color="warning"),
        dcc.Graph(figure=figure, config={"displaylogo": False}),
        dag.AgGrid(rowData=[{"店": "武汉光谷店", "实收": 12.5, "利润": None}], columnDefs=[{"field": "店"}]),
        html.Span(["文本", 3, 2.5, None, True]),
    ], id="body")  # fmt: skip
    return [
        {"multi": True, "response": {"body": {"children": tree}}},
        [np.int32(7), np.float64(2.25), np.bool_(True), np.arange(3), float("inf"), float("nan"), -0.0],
        {"when": dt.datetime(2026, 11, 30, 9, 30, 15), "day": dt.date(2026, 11, 30),
         "stamp": pd.Timestamp("2026-11-30 10:00:00"), "money": Decimal("12.34"), 3: "非字符串键"},
        pd.Series([1.0, 2.0]).to_numpy(),
        "普通文本 \"引号\" \\ 与换行\n",
    ]


@pytest.mark.parametrize("value", _samples())
def test_encoding001_same_json_as_dash(value):
    ours = encoding.to_json(value)
    assert json.loads(ours) == json.loads(_utils.to_json(value))
    assert "NaN" not in ours and "Infinity" not in ours  # strict JSON for the browser


def test_encoding002_what_plotly_cannot_encode_fails_as_a_type_error():
    with pytest.raises(TypeError):
        encoding.to_json({"x": object()})


def test_encoding003_install_rebinds_only_dash_encoders():
    import dash._callback
    import dash.dash

    assert set(encoding.install()) == set(encoding.DASH_MODULES)
    assert dash._callback.to_json is encoding.to_json and dash.dash.to_json is encoding.to_json
    assert _utils.to_json is not encoding.to_json  # Dash's own stays available
    assert set(encoding.install()) == set(encoding.DASH_MODULES)  # a second app: nothing changes
