"""今日必做 card and the daily trend chart of the diagnosis page."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from analytics.health import COMPONENTS, LABELS
from components.charts import DATE_AXIS, figure, graph
from components.messages import info_alert

LEVELS = (("urgent", "🔴 紧急", "danger"), ("watch", "🟡 关注", "warning"), ("highlights", "🟢 亮点", "success"))


def _item(item: dict) -> html.Li:
    return html.Li(
        [html.Span(item["rule"], className="badge text-bg-light me-2"), html.Strong(item["store"], className="me-2"),
         html.Span(item["evidence"])],
        className="mb-1",
    )  # fmt: skip


def todo_card(todo: dict) -> dbc.Card:
    columns = []
    for key, title, colour in LEVELS:
        items = todo[key]
        body = html.Ul([_item(i) for i in items], className="list-unstyled small mb-0") if items else html.Div(
            "暂无", className="text-muted small")  # fmt: skip
        columns.append(dbc.Col([html.H6(f"{title}（{len(items)}）", className=f"text-{colour}"), body], lg=4))
    sku_note = "商品级提醒（价格异常、热销缺货、滞销、热销、利润贡献）请选择不超过 5 家门店查看。"
    note = [] if todo["sku_rules"] else [html.Div(sku_note, className="small text-muted mt-2")]
    return dbc.Card(
        dbc.CardBody([html.H5(f"今日必做 · 截至 {todo['as_of']}", className="card-title"), dbc.Row(columns), *note]),
        className="mb-3 shadow-sm",
    )


def trend_chart(rows: list[dict]) -> dcc.Graph | dbc.Alert:
    if not rows:
        return info_alert("所选范围内没有订单，无法绘制趋势。")
    days = [r["day"] for r in rows]
    traces = [
        {"type": "bar", "x": days, "y": [r["orders"] for r in rows], "name": "订单数", "yaxis": "y2", "opacity": 0.35},
        {"type": "scatter", "mode": "lines+markers", "x": days, "y": [r["revenue"] for r in rows], "name": "实收"},
        {"type": "scatter", "mode": "lines+markers", "x": days, "y": [r["actual_profit"] for r in rows],
         "name": "实际利润"},
    ]  # fmt: skip
    return graph(figure(traces, "每日趋势", "金额 (¥)", yaxis2={"title": "订单数", "overlaying": "y", "side": "right",
                                                               "showgrid": False}, xaxis=DATE_AXIS))  # fmt: skip


def health_table(rows: list[dict], limit: int = 10) -> dbc.Card:
    """Worst stores first: score and the four component scores (0–100 against all stores)."""
    head = html.Thead(html.Tr([html.Th(h) for h in ("门店", "健康分", *(LABELS[c] + "分" for c in COMPONENTS))]))
    body = html.Tbody([
        html.Tr([html.Td(r["store"]), html.Td(f"{r['score']:.0f}", className=_score_class(r["score"])),
                 *[html.Td(f"{r[c + '_score']:.0f}") for c in COMPONENTS]])
        for r in rows[:limit]
    ])  # fmt: skip
    more = [] if len(rows) <= limit else [html.Div(f"另有 {len(rows) - limit} 家门店", className="small text-muted")]
    return dbc.Card(dbc.CardBody([
        html.H5("门店健康分（低分在前）", className="card-title"),
        html.Div("利润率 40%、单量 20%、营销成本率 20%、配送成本率 20%，各项与全部门店同期比较（0–100）。",
                 className="small text-muted mb-2"),
        dbc.Table([head, body], size="sm", hover=True, className="mb-0") if rows else html.Div("暂无数据"), *more,
    ]), className="mb-3 shadow-sm")  # fmt: skip


def _score_class(score: float) -> str:
    return "fw-semibold " + ("text-danger" if score < 40 else "text-warning" if score < 60 else "text-success")
