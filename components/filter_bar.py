"""The shared filter bar: stores (incl. 全部门店), date range, channels (incl. 全部渠道)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc

from services.filters import ALL

# dcc.Dropdown's own texts, in Chinese (Dash 4 defaults are English)
DROPDOWN_LABELS = {
    "select_all": "全选", "deselect_all": "全不选", "selected_count": "已选 {num_selected} 项",
    "search": "搜索", "clear_search": "清除搜索", "clear_selection": "清除选择", "no_options_found": "无匹配项",
}  # fmt: skip


def _multi_select(label: str, component_id: str, options: list[dict], width: int, value: list) -> dbc.Col:
    return dbc.Col(
        [
            dbc.Label(label, html_for=component_id, className="small mb-1"),
            dcc.Dropdown(id=component_id, options=options, value=value, multi=True,
                         placeholder=f"选择{label}", clearable=False, labels=DROPDOWN_LABELS),
        ],
        md=width,
    )  # fmt: skip


def filter_bar(options: dict, start, end, *, store_id: str, date_id: str, channel_id: str,
               stores: list | None = None, channels: list | None = None) -> dbc.Row:  # fmt: skip
    """``options`` as returned by services.diagnosis.filter_options; ids chosen by the page."""
    store_options = [{"label": "全部门店", "value": ALL}] + [
        {"label": f"{s['city'] or ''} · {s['name']}", "value": str(s["id"])} for s in options["stores"]
    ]
    channel_options = [{"label": "全部渠道", "value": ALL}] + [{"label": c, "value": c} for c in options["channels"]]
    dates = dbc.Col(
        [
            dbc.Label("日期", className="small mb-1 d-block"),
            dcc.DatePickerRange(
                id=date_id, start_date=start, end_date=end,
                min_date_allowed=options["first_day"], max_date_allowed=options["last_day"],
                display_format="YYYY-MM-DD", start_date_placeholder_text="开始日期",
                end_date_placeholder_text="结束日期", first_day_of_week=1,
            ),
        ],
        md=4,
    )  # fmt: skip
    return dbc.Row(
        [
            _multi_select("门店", store_id, store_options, 5, stores or [ALL]),
            dates,
            _multi_select("渠道", channel_id, channel_options, 3, channels or [ALL]),
        ],
        className="g-3 mb-3 filter-bar",
    )
