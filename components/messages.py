"""Friendly Chinese messages for failures and empty states (never a traceback)."""

from __future__ import annotations

import time

import dash_bootstrap_components as dbc
from dash import dcc, html

DB_UNAVAILABLE = "数据库暂时无法访问，请稍后刷新页面重试。如持续出现，请联系管理员检查数据库服务。"
NO_DATA = "当前筛选条件下没有数据。请调整门店、日期或渠道，或先导入订单明细。"
SECTION_FAILED = "此模块暂时无法显示（已记录错误日志），其他模块不受影响。请稍后刷新或联系管理员。"
EMPTY_DATABASE = "还没有任何订单数据。请在「数据管理」页面上传平台订单明细（或使用 scripts/import_orders.py 导入）。"
DATA_PAGE_PATH = "/data"


def error_alert(text: str = DB_UNAVAILABLE) -> dbc.Alert:
    return dbc.Alert(text, color="danger", className="my-3")


def info_alert(text: str) -> dbc.Alert:
    return dbc.Alert(text, color="info", className="my-3")


def empty_database_alert() -> dbc.Alert:
    """No orders yet: say so, with the way to 数据管理."""
    link = dcc.Link("前往数据管理 →", href=DATA_PAGE_PATH, className="alert-link ms-2")
    return dbc.Alert([EMPTY_DATABASE, link], color="info", className="my-3")


def stale_alert(confirmed_at: float | None) -> html.Div:
    """The database does not answer: what the page shows comes from the cache, current as of
    ``confirmed_at`` (wall clock, None when unknown)."""
    when = f"显示的是 {time.strftime('%H:%M', time.localtime(confirmed_at))} 之前的数据" if confirmed_at else (
        "显示的数据可能不是最新的")  # fmt: skip
    alert = dbc.Alert(f"数据库暂时无法连接，{when}；恢复后刷新页面即可看到最新数据。", color="warning",
                      className="my-2 py-2")  # fmt: skip
    return html.Div(alert, **{"data-stale": "1"})
