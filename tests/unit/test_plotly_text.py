"""Names from imported files are shown by plotly as written (components/charts.py): plotly.js
reads <b>, <a href>, <span style>, <br> … in every text it draws and decodes &lt; &amp; …, so
every text of a figure reaches it with & < > as entities; only our hover templates are markup."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components import charts

HOSTILE_CITY = '<a href="http://198.51.100.7">链接</a>'
HOSTILE_CATEGORY = "<b>粗体</b>%{y}"  # markup, and a hover template's placeholder
ENTITY = "&lt;b&gt;"  # already an entity in the data: must not be decoded to <b>


def _texts(value, key=""):
    """(key, text) of every string in a figure dict, at any depth."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _texts(v, k)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _texts(v, key)


def test_plotly001_text_escapes_markup_and_entities():
    assert charts.plotly_text("<b>粗体</b>") == "&lt;b&gt;粗体&lt;/b&gt;"
    assert charts.plotly_text(ENTITY) == "&amp;lt;b&amp;gt;"  # plotly decodes once: shows &lt;b&gt;
    assert charts.plotly_text("A & B > C") == "A &amp; B &gt; C"
    assert charts.plotly_text(["<i>", ("<u>", 3), None, 1.5]) == ["&lt;i&gt;", ["&lt;u&gt;", 3], None, 1.5]
    assert charts.plotly_text(pd.Series(["<b>", "a"])) == ["&lt;b&gt;", "a"]  # a column passed as it is
    assert charts.plotly_text(np.array([1.5, 2.0])).tolist() == [1.5, 2.0]  # numbers untouched
    assert charts.plotly_text("普通门店 [x](y) ![t](u)") == "普通门店 [x](y) ![t](u)"  # plotly has no Markdown


def test_plotly002_figure_shows_every_imported_text_literally():
    traces = [
        {"type": "bar", "x": [HOSTILE_CITY, ENTITY, "成都"], "y": [1.0, 2.0, 3.0], "name": HOSTILE_CATEGORY},
        {"type": "scatter", "mode": "markers", "x": [0.1], "y": [0.2], "text": ["<img src=x onerror=alert(1)>"],
         "name": "象限", "hovertemplate": "%{text}<br>动销率 %{x:.0%}<extra></extra>"},
        {"type": "heatmap", "z": [[1.0]], "x": ["0时"], "y": ["<br>周一"],
         "colorbar": {"title": {"text": "<i>日均</i>"}}},
    ]  # fmt: skip
    fig = charts.figure(traces, "<b>牛奶</b> · 每日销售", "<sup>金额</sup>", y_kind=charts.MONEY,
                        x_kind=None, z_kind=charts.AVERAGE, xaxis={"title": "<s>城市</s>", "ticktext": ["<u>a</u>"]},
                        annotations=[{"text": '<span style="fill:url(http://198.51.100.7/f)">注</span>'}])  # fmt: skip
    bar, scatter, heatmap = fig["data"]
    assert bar["x"] == ['&lt;a href="http://198.51.100.7"&gt;链接&lt;/a&gt;', "&amp;lt;b&amp;gt;", "成都"]
    assert bar["name"] == "&lt;b&gt;粗体&lt;/b&gt;%{y}"
    assert scatter["text"] == ["&lt;img src=x onerror=alert(1)&gt;"]
    assert heatmap["y"] == ["&lt;br&gt;周一"] and heatmap["colorbar"]["title"]["text"] == "&lt;i&gt;日均&lt;/i&gt;"
    layout = fig["layout"]
    assert layout["title"]["text"] == "&lt;b&gt;牛奶&lt;/b&gt; · 每日销售"
    assert layout["yaxis"]["title"]["text"] == "&lt;sup&gt;金额&lt;/sup&gt;"
    assert layout["xaxis"]["title"]["text"] == "&lt;s&gt;城市&lt;/s&gt;"
    assert layout["xaxis"]["ticktext"] == ["&lt;u&gt;a&lt;/u&gt;"]
    assert layout["annotations"][0]["text"].startswith("&lt;span style=")
    # a name never becomes part of a template: plotly substitutes it (and never reads it as one)
    assert HOSTILE_CATEGORY not in bar["hovertemplate"] and "%{fullData.name}" in bar["hovertemplate"]
    assert scatter["hovertemplate"] == "%{text}<br>动销率 %{x:.0%}<extra></extra>"  # ours: markup kept
    # nothing else in the figure holds a tag
    assert [(k, t) for k, t in _texts(fig) if "<" in t and k != "hovertemplate"] == []
    assert traces[0]["x"][0] == HOSTILE_CITY  # the caller's lists are left alone
