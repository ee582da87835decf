"""Sortable, filterable tables (dash-ag-grid) with CSV / XLSX downloads.

Columns carry their kind in ``type`` (money, percent, change, points, count, number, datetime,
text, link); the browser formats numbers for Chinese readers (¥, %, 个百分点) while sorting on
the raw values; every text is shown as written (names come from imported files: no Markdown or
HTML is ever rendered from a cell — a link column's text is the name, its target the row's
``<field>_href``), and the download callback (pages._downloads) writes the same columns
(components/export.py), in a file and sheet named after the grid's title (a hint such as
点击一行… is shown beside the title, not in it). Ids are pattern-matching dicts keyed by page and
table, so each page registers one download callback.
"""

from __future__ import annotations

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

# Formatters live in assets/dashAgGridFunctions.js (the browser twin of components/format.py:
# half-up rounding, "-¥1,032.41"); the grid sorts and filters on the raw values.
FORMATTERS = {
    "money": "o2oMoney(params.value)",
    "score": "o2oScore(params.value)",
    "percent": "o2oPercent(params.value)",
    "change": "o2oChange(params.value)",
    "points": "o2oPoints(params.value)",
    "count": "o2oCount(params.value)",
    "number": "o2oNumber(params.value)",
}
NUMERIC = set(FORMATTERS)
DATETIME_FORMATTER = "o2oDateTime(params.value)"  # 2026-11-25 20:24
LINK_RENDERER = "O2oLink"  # assets/dashAgGridFunctions.js: the text as text, an <a> to a same-origin path
HREF_SUFFIX = "_href"  # a link column ``store`` takes its target from the row's ``store_href``
# AG Grid's own texts in Chinese (filter menus, empty grid)
LOCALE = {
    "noRowsToShow": "暂无数据", "loadingOoo": "加载中…", "searchOoo": "搜索…", "selectAll": "全选",
    "filterOoo": "筛选…", "applyFilter": "应用", "resetFilter": "重置", "clearFilter": "清除",
    "equals": "等于", "notEqual": "不等于", "lessThan": "小于", "greaterThan": "大于",
    "lessThanOrEqual": "小于等于", "greaterThanOrEqual": "大于等于", "inRange": "介于",
    "inRangeStart": "从", "inRangeEnd": "到", "contains": "包含", "notContains": "不包含",
    "startsWith": "开头是", "endsWith": "结尾是", "blank": "为空", "notBlank": "不为空",
    "andCondition": "并且", "orCondition": "或者", "page": "页", "of": "共", "to": "至",
}  # fmt: skip


def column(field: str, header: str, kind: str = "text", **extra) -> dict:
    """One column definition; numeric kinds are right-aligned and formatted. A ``link`` column
    shows ``field`` (a name, as text) linking to the row's ``field + HREF_SUFFIX`` (a path)."""
    spec = {"field": field, "headerName": header, "type": kind, **extra}
    if kind in NUMERIC:
        spec["valueFormatter"] = {"function": FORMATTERS[kind]}
        spec["cellClass"] = "text-end"
        spec["filter"] = "agNumberColumnFilter"
    elif kind == "link":
        spec["cellRenderer"] = LINK_RENDERER
        spec["cellRendererParams"] = {"hrefField": field + HREF_SUFFIX}
    elif kind == "datetime":  # ISO text sorts in time order; shown without T and seconds
        spec["valueFormatter"] = {"function": DATETIME_FORMATTER}
    return spec


def _ids(page: str, table: str) -> dict[str, dict]:
    return {kind: {"type": kind, "page": page, "table": table}
            for kind in ("grid", "title", "csv", "xlsx", "download")}  # fmt: skip


AUTO_HEIGHT_ROWS = 12  # up to this many rows the grid grows to fit them, beyond it scrolls


def data_grid(page: str, table: str, title: str, rows: list[dict], columns: list[dict], *, height: int = 420,
              note: str | None = None, clickable: bool = False, hint: str | None = None,
              row_id: str | None = None) -> html.Div:  # fmt: skip
    """A titled grid with 下载 CSV / 下载 Excel buttons. ``title`` is the section's name (the
    download's file and sheet name); ``hint`` (e.g. what a click does) is shown beside it.
    ``clickable`` rows (drill-downs) select on click. ``row_id``: the field whose value (text,
    unique) is each row's id (``cellClicked`` then names the row by it)."""
    ids = _ids(page, table)
    options = {
        "theme": "themeQuartz",
        "localeText": LOCALE,
        "columnTypes": {kind: {} for kind in (*NUMERIC, "datetime", "text", "link")},
        "animateRows": False,
        "enableCellTextSelection": True,
    }
    style = {"height": f"{height}px"}
    if len(rows) <= AUTO_HEIGHT_ROWS:
        options["domLayout"] = "autoHeight"
        style = {}
    if clickable:
        options["rowSelection"] = {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True}
    grid = dag.AgGrid(
        id=ids["grid"], rowData=rows, columnDefs=columns,
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 110},
        dashGridOptions=options, columnSize="responsiveSizeToFit", style=style,
        className="o2o-grid", **({"getRowId": f"params.data.{row_id}"} if row_id else {}),
    )  # fmt: skip
    buttons = html.Div(
        [
            dbc.Button("下载 CSV", id=ids["csv"], size="sm", color="secondary", outline=True, className="me-2"),
            dbc.Button("下载 Excel", id=ids["xlsx"], size="sm", color="secondary", outline=True),
            dcc.Download(id=ids["download"]),
        ],
        className="ms-auto",
    )
    name = [html.H6(title, id=ids["title"], className="mb-0 align-self-center")]
    if hint:
        name.append(html.Span(f"（{hint}）", className="small text-muted ms-1 align-self-center"))
    header = html.Div([*name, buttons], className="d-flex mb-2")
    extra = [html.Div(note, className="small text-muted mb-2")] if note else []
    return html.Div([header, *extra, grid], className="mb-4")
