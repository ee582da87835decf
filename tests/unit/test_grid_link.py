"""Link cells of the grids (components/grid.py kind "link", assets/dashAgGridFunctions.js O2oLink,
run with node and a stand-in for React.createElement): the name is a text child, never markup,
and only a same-origin path becomes a link."""

from __future__ import annotations

import json

from components.grid import column
from tests.assets_js import run_grid_js

NODE_SCRIPT = """
global.window = {};
global.React = {createElement: (tag, props, ...children) => ({tag, props, children})};
require(process.argv[1]);
const link = window.dashAgGridComponentFunctions.O2oLink;
const cases = JSON.parse(process.argv[2]);
process.stdout.write(JSON.stringify(cases.map(([value, href]) =>
  link({value, data: {store: value, store_href: href}, hrefField: "store_href"}))));
"""


def _render(cases: list[tuple]) -> list[dict]:
    return run_grid_js(NODE_SCRIPT, cases)


def test_gridlink001_column_renders_text_with_the_rows_href():
    spec = column("store", "门店", "link")
    assert spec["cellRenderer"] == "O2oLink" and spec["cellRendererParams"] == {"hrefField": "store_href"}
    assert "markdown" not in json.dumps(spec)


def test_gridlink002_names_are_text_and_only_same_origin_paths_link():
    name = "<img src=http://198.51.100.7/y.png onerror=alert(1)> [链接](javascript:alert(2)) ![t](http://198.51.100.7/x.png)"
    shown = _render([
        [name, "/?stores=3&start=2026-11-21"], ["<b>粗体</b>", "javascript:alert(1)"], ["a", "//198.51.100.7/x"],
        ["b", "/\\198.51.100.7"], ["c", "http://198.51.100.7/"], [None, "/channels?order=1"], ["d", None],
    ])  # fmt: skip
    assert shown[0] == {"tag": "a", "props": {"href": "/?stores=3&start=2026-11-21", "className": "o2o-grid-link"},
                        "children": [name]}  # fmt: skip
    assert [s["tag"] for s in shown[1:5]] == ["span"] * 4 and shown[1]["children"] == ["<b>粗体</b>"]
    assert shown[5]["tag"] == "a" and shown[5]["children"] == [""]
    assert shown[6] == {"tag": "span", "props": None, "children": ["d"]}
