"""A page's table downloads: one pattern-matching callback per page writes the rows its grids
show (components.grid ids, components.export files)."""

from __future__ import annotations

import dash
from dash import MATCH, Input, Output, State, dcc

from components.export import table_file
from web.prop_kinds import COLUMNS, COUNT, ROWS, TEXT, declare


def register_export(page: str) -> None:
    """The page's download callback: the rows as the grid shows them (after the user's sorting
    and filtering), every column, in the chosen format."""
    for kind_name, prop, kind in (("csv", "n_clicks", COUNT), ("xlsx", "n_clicks", COUNT), ("grid", "rowData", ROWS),
                                  ("grid", "virtualRowData", ROWS), ("grid", "columnDefs", COLUMNS),
                                  ("title", "children", TEXT)):  # fmt: skip
        declare({"type": kind_name}, prop, kind)

    @dash.callback(
        Output({"type": "download", "page": page, "table": MATCH}, "data"),
        Input({"type": "csv", "page": page, "table": MATCH}, "n_clicks"),
        Input({"type": "xlsx", "page": page, "table": MATCH}, "n_clicks"),
        State({"type": "grid", "page": page, "table": MATCH}, "virtualRowData"),
        State({"type": "grid", "page": page, "table": MATCH}, "rowData"),
        State({"type": "grid", "page": page, "table": MATCH}, "columnDefs"),
        State({"type": "title", "page": page, "table": MATCH}, "children"),
        prevent_initial_call=True,
    )
    def download(_csv, _xlsx, shown, rows, columns, title):
        fmt = (dash.ctx.triggered_id or {}).get("type")
        data = shown if shown is not None else (rows or [])
        name = title if isinstance(title, str) and title else page
        content, filename = table_file(data, columns or [], name, "xlsx" if fmt == "xlsx" else "csv")
        return dcc.send_bytes(content, filename)
