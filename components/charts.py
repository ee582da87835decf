"""Plotly figures in one style (Chinese titles, white template, compact margins)."""

from __future__ import annotations

import plotly.graph_objects as go
from dash import dcc

from components.messages import info_alert

GRAPH_CONFIG = {"displaylogo": False}


def figure_layout(figure: go.Figure, title: str, y_title: str, height: int = 320, **layout) -> go.Figure:
    settings = {"title": title, "height": height, "template": "plotly_white", "yaxis": {"title": y_title},
                "margin": {"l": 50, "r": 30, "t": 40, "b": 40}, "legend": {"orientation": "h"}}  # fmt: skip
    figure.update_layout(**{**settings, **layout})
    return figure


def bar_chart(x: list, series: dict[str, list], title: str, y_title: str, **layout) -> go.Figure:
    figure = go.Figure([go.Bar(x=x, y=values, name=name) for name, values in series.items()])
    return figure_layout(figure, title, y_title, barmode="group", **layout)


def graph(figure: go.Figure, graph_id: str | None = None) -> dcc.Graph:
    kwargs = {"id": graph_id} if graph_id else {}
    return dcc.Graph(figure=figure, config=GRAPH_CONFIG, **kwargs)


def empty_or(rows, build):
    """``build(rows)`` or a clear message when there is nothing to draw."""
    return build(rows) if rows else info_alert("所选范围内没有数据。")
