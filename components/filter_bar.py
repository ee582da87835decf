"""The shared filter bar: stores (incl. 全部门店), date range with presets, channels (incl. 全部渠道).

The calendar speaks Chinese through assets/date-fns-locale-zh-cn.js (Dash 4's date picker takes
its month and weekday names from date-fns). The presets 昨天 / 近7天 / 近30天 / 本月 / 上月 count
back from the last day with data, as the default period does (docs/METRICS.md §9): each button
carries its dates, and assets/date_presets.js puts them into the picker on a click, so the page's
own callbacks (sections, URL) run as for a date picked by hand.
"""

from __future__ import annotations

import datetime as dt

import dash_bootstrap_components as dbc
from dash import dcc, html

from readmodel.selection import ALL

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


def preset_ranges(first_day: str, last_day: str) -> dict[str, tuple[str, str] | None]:
    """Label → (start, end) as ISO dates, within the days that have data; None when the preset's
    days all lie before the first day with data (上月 of a shop that opened this month)."""
    first, last = dt.date.fromisoformat(first_day), dt.date.fromisoformat(last_day)
    month_start = last.replace(day=1)
    previous_end = month_start - dt.timedelta(days=1)
    wanted = {
        "昨天": (last, last),
        "近7天": (last - dt.timedelta(days=6), last),
        "近30天": (last - dt.timedelta(days=29), last),
        "本月": (month_start, last),
        "上月": (previous_end.replace(day=1), previous_end),
    }
    return {label: None if end < first else (max(start, first).isoformat(), end.isoformat())
            for label, (start, end) in wanted.items()}  # fmt: skip


def _presets(date_id: str, first_day: str, last_day: str) -> html.Div:
    buttons = []
    for label, days in preset_ranges(first_day, last_day).items():
        data = {"data-date-preset": label, "data-target": date_id}
        if days is None:
            buttons.append(html.Button(label, disabled=True, title="这段时间没有数据",
                                       className="btn btn-outline-secondary btn-sm", **data))  # fmt: skip
            continue
        start, end = days
        title = f"{start}（最后有数据的一天）" if label == "昨天" else f"{start} 至 {end}"
        buttons.append(html.Button(label, title=title, className="btn btn-outline-secondary btn-sm",
                                   **data, **{"data-start": start, "data-end": end}))  # fmt: skip
    return html.Div(buttons, className="btn-group mt-1 date-presets", role="group", **{"aria-label": "快捷日期"})


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
                display_format="YYYY-MM-DD", month_format="YYYY年MMMM", start_date_placeholder_text="开始日期",
                end_date_placeholder_text="结束日期", first_day_of_week=1,
            ),
            _presets(date_id, options["first_day"], options["last_day"]),
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
