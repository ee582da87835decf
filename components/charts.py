"""Plotly figures as plain dicts in one style (Chinese titles, white background, compact margins).

Figures are built as JSON-ready dicts rather than ``plotly.graph_objects``: object validation and
merging the ``plotly_white`` template cost 20–150 ms per callback (measured on the analysis
pages), which dominated the time of a cached view. The style below reproduces what the pages
used from that template.
"""

from __future__ import annotations

import copy

from dash import dcc

GRAPH_CONFIG = {"displaylogo": False}
COLOURS = ["#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692", "#B6E880", "#FF97FF",
           "#FECB52"]  # fmt: skip
GRID = "#EBF0F8"
DATE_AXIS = {"tickformat": "%m-%d", "hoverformat": "%Y-%m-%d"}  # plotly.js month names are English
BASE_LAYOUT = {
    "paper_bgcolor": "white", "plot_bgcolor": "white", "colorway": COLOURS,
    "font": {"color": "#2a3f5f"}, "hovermode": "closest", "legend": {"orientation": "h"},
    "margin": {"l": 50, "r": 30, "t": 40, "b": 40},
    "xaxis": {"gridcolor": GRID, "zerolinecolor": GRID, "automargin": True},
    "yaxis": {"gridcolor": GRID, "zerolinecolor": GRID, "automargin": True},
}  # fmt: skip


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def figure(traces: list[dict], title: str, y_title: str, height: int = 320, **layout) -> dict:
    """A figure dict: ``traces`` as plotly.js traces (``type`` set), layout on top of the style."""
    own = {
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "height": height,
        "yaxis": {"title": {"text": y_title}},
    }
    for axis in ("xaxis", "yaxis", "yaxis2"):
        if isinstance(layout.get(axis), dict) and isinstance(layout[axis].get("title"), str):
            layout[axis] = {**layout[axis], "title": {"text": layout[axis]["title"]}}
    return {"data": traces, "layout": _merge(_merge(BASE_LAYOUT, own), layout)}


def bar_chart(x: list, series: dict[str, list], title: str, y_title: str, **layout) -> dict:
    traces = [{"type": "bar", "x": x, "y": values, "name": name} for name, values in series.items()]
    return figure(traces, title, y_title, barmode="group", **layout)


def graph(fig: dict, graph_id: str | None = None) -> dcc.Graph:
    kwargs = {"id": graph_id} if graph_id else {}
    return dcc.Graph(figure=fig, config=GRAPH_CONFIG, **kwargs)
