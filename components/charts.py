"""Plotly figures as plain dicts in one style (Chinese titles and numbers, white background).

Figures are built as JSON-ready dicts rather than ``plotly.graph_objects``: object validation and
merging the ``plotly_white`` template cost 20–150 ms per callback (measured on the analysis
pages), which dominated the time of a cached view. The style below reproduces what the pages
used from that template.

Numbers: each value axis says what it measures (a ``Measure``: MONEY, COUNT, PERCENT, NUMBER,
AVERAGE) and ``figure`` derives its ticks and the hover text of the traces on it, so no chart
falls back to plotly's SI suffixes ("100k", "99.172k"): money in ¥ (in 万 once the axis reaches
¥1万; the sign before ¥), counts in whole numbers, ratios in %, hovers in components/format.py's
text. Every graph uses plotly's zh-CN locale (assets/plotly-locale-zh-cn.js) through GRAPH_CONFIG.

Text: plotly.js draws every title, tick, legend entry and hover label through its own small HTML
reader (svg_text_utils.convertToTspans: <b> <i> <em> <sup> <sub> <s> <u> <br>, <span style=…>
and <a href=http…> become SVG elements; &lt; &gt; &amp; &#…; are decoded). Names come from the
imported files, so ``figure`` passes every text of its traces and layout through ``plotly_text``
(& < > as entities, shown literally); only the hover templates written here are markup.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from dash import dcc

from components import format as fmt

LOCALE = "zh-CN"
# The locale file gives the mode bar and month names; what it lacks is added here: ¥ for d3's "$"
# (so a money tick reads "-¥2万", sign first) and Chinese day/month patterns for automatic date ticks.
GRAPH_CONFIG = {
    "displaylogo": False,
    "modeBarButtonsToRemove": ["sendChartToCloud"],  # plotly 4's 分享 uploads to Plotly Cloud: not offline
    "locale": LOCALE,
    "locales": {LOCALE: {"format": {
        "currency": ["¥", ""], "year": "%Y年", "month": "%Y年%-m月", "dayMonth": "%-m月%-d日",
        "dayMonthYear": "%Y年%-m月%-d日",
    }}},
}  # fmt: skip
COLOURS = ["#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692", "#B6E880", "#FF97FF",
           "#FECB52"]  # fmt: skip
GRID = "#EBF0F8"
DATE_AXIS = {"tickformat": "%m-%d", "hoverformat": "%Y-%m-%d"}
TIME_AXIS = {"tickformat": "%H:%M", "hoverformat": "%H:%M:%S"}
# Every axis: room for its tick labels and title (automargin), never an SI suffix.
AXIS_STYLE = {
    "gridcolor": GRID, "zerolinecolor": GRID, "automargin": True, "exponentformat": "none",
    "separatethousands": True, "title": {"standoff": 10},
}  # fmt: skip
BASE_LAYOUT = {
    "paper_bgcolor": "white", "plot_bgcolor": "white", "colorway": COLOURS, "separators": ".,",
    "font": {"color": "#2a3f5f"}, "hovermode": "closest", "legend": {"orientation": "h"},
    "margin": {"l": 50, "r": 30, "t": 40, "b": 40},
}  # fmt: skip
AXIS_KEY = re.compile(r"^[xy]axis\d*$")
WAN = 10_000
WHOLE_TICKS_BELOW = 10  # a count axis up to this many gets a tick at every integer (plotly would pick 0.5)
PLOTLY_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# What plotly draws as text: in a trace, per point or whole (a category's name is its x or y), and
# in the layout (titles, annotations, tick texts). Templates (hovertemplate) are ours, left as markup.
TRACE_TEXT = ("name", "text", "hovertext", "x", "y", "labels", "customdata")
LAYOUT_TEXT = ("text", "ticktext", "title")
# a trace's name in its hover: substituted by plotly (never read as a template, whatever it holds)
TRACE_NAME = "%{fullData.name}"


@dataclass(frozen=True)
class Measure:
    """What an axis measures: its d3 tick format and the hover text of one value."""

    tickformat: str
    text: Callable[[float], str]
    money: bool = False  # in 万 once the axis reaches ¥1万
    whole: bool = False  # integer ticks


MONEY = Measure("$,.2~f", fmt.money, money=True)
COUNT = Measure(",d", fmt.count, whole=True)
PERCENT = Measure(".2~%", fmt.percent)
NUMBER = Measure(",.2~f", fmt.number)
AVERAGE = Measure(",.1~f", partial(fmt.number, digits=1))  # e.g. orders per day


def plotly_text(value):
    """``value`` shown literally by plotly: a text with & < > as entities (plotly decodes them back
    for display), lists, tuples and text arrays item by item (nested ones too), anything else
    unchanged."""
    if isinstance(value, str):
        return value.translate(PLOTLY_ESCAPES)
    if isinstance(value, list | tuple):
        return [plotly_text(v) for v in value]
    if getattr(value, "dtype", None) is not None and value.dtype.kind in "OUS":  # numpy / pandas text
        return plotly_text(list(value))
    return value


def _plain_layout(value, key: str | None = None):
    """The layout with every text in it (under LAYOUT_TEXT keys, at any depth) through plotly_text."""
    if isinstance(value, dict):
        return {k: _plain_layout(v, k) for k, v in value.items()}
    if key in LAYOUT_TEXT and not isinstance(value, dict):
        return plotly_text(value)
    if isinstance(value, list):
        return [_plain_layout(v) for v in value]
    return value


def _plain_trace(trace: dict) -> dict:
    """A copy of ``trace`` whose texts (names, point texts, category values, colour bar title) are
    literal."""
    out = {k: plotly_text(v) if k in TRACE_TEXT else v for k, v in trace.items()}
    for key in ("colorbar", "legendgrouptitle", "marker"):
        if isinstance(out.get(key), dict):
            out[key] = _plain_layout(out[key])
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _finite(values) -> list[float]:
    return [v for v in values or () if isinstance(v, int | float) and math.isfinite(v)]


def _scaled(values, scale: float) -> list:
    return [v / scale if isinstance(v, int | float) else v for v in values]


def _value_axis(traces: list[dict], coord: str, ref: str, measure: Measure) -> dict:
    """Ticks of the axis ``ref`` ("y", "y2", "x") and hovers of its traces; scales money in place."""
    on_axis = [t for t in traces if t.get(f"{coord}axis", coord) == ref and t.get("type") != "heatmap"]
    values = [v for t in on_axis for v in _finite(t.get(coord))]
    largest = max((abs(v) for v in values), default=0)
    # "auto": an overlaying axis would otherwise sync its ticks to the other one's (−41.99%, −29.55%)
    axis: dict = {"tickformat": measure.tickformat, "tickmode": "auto"}
    scale = WAN if measure.money and largest >= WAN else 1
    if scale != 1:
        axis["ticksuffix"] = "万"
    if measure.whole:
        bound = max([largest] + [len(t.get("x") or ()) for t in on_axis if t.get("type") == "histogram"])
        if bound < WHOLE_TICKS_BELOW:
            axis.update(tickmode="linear", tick0=0, dtick=1)
    for trace in on_axis:
        if "hovertemplate" in trace:
            continue
        other = "x" if coord == "y" else "y"
        if trace.get(coord) is None:  # a histogram: plotly counts, the template formats
            trace["hovertemplate"] = f"%{{{other}}}<br>{TRACE_NAME}：%{{{coord}:{measure.tickformat}}}<extra></extra>"
            continue
        trace["customdata"] = [measure.text(v) for v in trace[coord]]
        trace["hovertemplate"] = f"%{{{other}}}<br>{TRACE_NAME}：%{{customdata}}<extra></extra>"
        if scale != 1:
            trace[coord] = _scaled(trace[coord], scale)
    return axis


def _colour_axis(traces: list[dict], measure: Measure) -> None:
    """Colour bars and hovers of heatmaps: the same rules on ``z``."""
    for trace in (t for t in traces if t.get("type") == "heatmap"):
        rows = trace.get("z") or []
        largest = max((abs(v) for row in rows for v in _finite(row)), default=0)
        bar = {"tickformat": measure.tickformat, "exponentformat": "none", "separatethousands": True}
        scale = WAN if measure.money and largest >= WAN else 1
        trace.setdefault("customdata", [[measure.text(v) for v in row] for row in rows])
        trace.setdefault("hovertemplate", "%{y} %{x}<br>%{customdata}<extra></extra>")
        if scale != 1:
            bar["ticksuffix"] = "万"
            trace["z"] = [_scaled(row, scale) for row in rows]
        trace["colorbar"] = _merge(bar, trace.get("colorbar", {}))


def figure(traces: list[dict], title: str, y_title: str, height: int = 320, *, y_kind: Measure = NUMBER,
           y2_kind: Measure | None = None, y2_title: str = "", x_kind: Measure | None = None,
           z_kind: Measure | None = None, **layout) -> dict:  # fmt: skip
    """A figure dict: ``traces`` as plotly.js traces (``type`` set), layout on top of the style.

    ``y_kind`` / ``y2_kind`` / ``x_kind`` / ``z_kind``: what the left axis, a right axis (drawn
    over the left one), a numeric x axis and heatmap colours measure. Traces are copied: the
    caller's lists are never scaled. Every text (titles, names, categories, point texts) is shown
    as written (``plotly_text``); only ``hovertemplate`` strings are read as plotly markup."""
    if "yaxis2" in layout and y2_kind is None:  # its ticks and hovers would escape the rules above
        raise TypeError("a right axis is declared with y2_kind, not as a yaxis2 layout")
    traces = [_plain_trace(t) for t in traces]
    own: dict = {
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "height": height,
        "yaxis": {"title": {"text": y_title}, **_value_axis(traces, "y", "y", y_kind)},
    }
    if y2_kind is not None:
        own["yaxis2"] = {"title": {"text": y2_title}, "overlaying": "y", "side": "right", "showgrid": False,
                         **_value_axis(traces, "y", "y2", y2_kind)}  # fmt: skip
    if x_kind is not None:
        own["xaxis"] = _value_axis(traces, "x", "x", x_kind)
    if z_kind is not None:
        _colour_axis(traces, z_kind)
    for axis in [k for k in layout if AXIS_KEY.match(k)]:
        if isinstance(layout[axis], dict) and isinstance(layout[axis].get("title"), str):
            layout[axis] = {**layout[axis], "title": {"text": layout[axis]["title"]}}
    merged = _plain_layout(_merge(_merge(BASE_LAYOUT, own), layout))
    for axis in dict.fromkeys(["xaxis", "yaxis", *(k for k in merged if AXIS_KEY.match(k))]):
        merged[axis] = _merge(AXIS_STYLE, merged.get(axis, {}))
    return {"data": traces, "layout": merged}


def bar_chart(x: list, series: dict[str, list], title: str, y_title: str, **layout) -> dict:
    traces = [{"type": "bar", "x": x, "y": values, "name": name} for name, values in series.items()]
    return figure(traces, title, y_title, barmode="group", **layout)


def graph(fig: dict, graph_id: str | None = None) -> dcc.Graph:
    """Every figure of the app goes through here: the zh-CN locale and the mode bar settings."""
    kwargs = {"id": graph_id} if graph_id else {}
    return dcc.Graph(figure=fig, config=GRAPH_CONFIG, **kwargs)
