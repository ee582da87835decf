"""今日必做 panel, 门店健康分 grid and the daily trend chart of the diagnosis page.

今日必做 comes from ``services.todo.todo_list``: per level a group per rule (count, total amount,
items largest amount first). Each group shows its first items and the rest behind 展开; every
item links to the view holding its evidence (a store → its diagnosis, an order → its detail on
渠道分析, a SKU → 商品分析 filtered to it): the page gives the link of each item
(``pages._links.item_href``). The same items are a flat grid that downloads as CSV / Excel.
Every threshold in the text comes from the runtime's ``config.rules.TodoRules`` / ``HealthRules``,
which the page passes in.
"""

from __future__ import annotations

from collections.abc import Callable

import dash_bootstrap_components as dbc
from dash import dcc, html

from analytics.health import COMPONENTS, LABELS
from components import ids
from components.format import count, money, number, percent
from components.grid import column, data_grid
from config.rules import HealthRules, TodoRules

LEVELS = (("urgent", "🔴 紧急", "danger"), ("watch", "🟡 关注", "warning"), ("highlights", "🟢 亮点", "success"))
LEVEL_NAMES = {key: title.split(" ", 1)[1] for key, title, _ in LEVELS}
RULE_NAMES = {
    "loss_orders": "穿底订单", "costly_delivery": "高配送成本", "below_cost": "价格异常", "stockout": "热销缺货",
    "traffic_drop": "单量下滑", "margin_decline": "利润率下滑", "slow": "滞销", "new": "新品", "hot": "热销",
    "top_profit": "利润贡献",
}  # fmt: skip
# what 金额 means per rule (亏损 = lost, 损失 = lost sales or profit, 利润 = earned)
AMOUNT_NAMES = {"loss_orders": "亏损", "costly_delivery": "亏损", "below_cost": "亏损", "stockout": "预计损失销售额",
                "traffic_drop": "实收减少", "margin_decline": "利润减少", "top_profit": "利润"}  # fmt: skip
TODO_COLUMNS = [
    column("level", "级别", maxWidth=90), column("rule", "规则", maxWidth=120), column("store", "门店", minWidth=150),
    column("object", "对象", "link", minWidth=170), column("amount", "金额", "money"),
    column("evidence", "说明", minWidth=360, wrapText=True, autoHeight=True),
]  # fmt: skip
HEALTH_COLUMNS = [
    column("store", "门店", "link", pinned="left", minWidth=180),
    column("score", "健康分", "score", sort="asc"),
    *[column(f"{c}_score", f"{LABELS[c]}分", "score") for c in COMPONENTS],
    column("margin", "利润率", "percent"), column("volume", "订单数", "count"),
    column("marketing_rate", "营销成本率", "percent"), column("delivery_rate", "配送成本率", "percent"),
]  # fmt: skip


def evidence(item: dict, rules: TodoRules) -> str:
    """The item's evidence in words (money through ``money`` only)."""
    f = item["facts"]
    rule = item["rule"]
    recent, before = f"近{rules.compare_days}天", f"前{rules.compare_days}天"
    if rule in ("loss_orders", "costly_delivery"):
        return (f"{item['channel']}，实际利润 {money(f['actual_profit'])}，物流配送费 "
                f"{money(f['delivery_fee'])}，商品实收 {money(f['items_revenue'])}")
    if rule == "traffic_drop":
        return (f"{recent} {count(f['orders_recent'])} 单，{before} {count(f['orders_previous'])} 单，"
                f"下降 {percent(f['drop_ratio'])}")
    if rule == "margin_decline":
        return (f"利润率{recent} {percent(f['recent_margin'])}，{before} {percent(f['previous_margin'])}，"
                f"下降 {number(f['decline'] * 100, 1)}个百分点")
    if rule == "below_cost":
        return (f"实收单价 {money(f['unit_price'])} 低于成本 {money(f['unit_cost'])}"
                f"（近{rules.below_cost_days}天 {count(f['quantity'])} 件）")
    if rule == "stockout":
        stock = "无库存数据" if f["remaining_stock"] is None else f"最后剩余库存 {count(f['remaining_stock'])}"
        return (f"已 {f['zero_days']} 天无销售（此前{rules.stockout_baseline_days}天销量第 {f['rank']} 名，"
                f"{count(f['baseline_quantity'])} 件；"
                f"{stock}）")
    if rule == "slow":
        return (f"已 {f['idle_days']} 天无销售（{f['bucket']}），最后销售 {f['last_sale']}，"
                f"此前动销 {f['selling_days']} 天")
    if rule == "new":
        return f"{f['first_sale']} 首次动销，已售 {count(f['quantity'])} 件"
    if rule == "hot":
        return f"{recent} {count(f['recent'])} 件，{before} {count(f['previous'])} 件，增长 {percent(f['growth'], 0)}"
    return f"{recent}利润 {money(f['profit'])}（{count(f['quantity'])} 件）"  # top_profit


def _amount(item: dict) -> list:
    if item["amount"] is None:
        return []
    return [html.Strong(f"{AMOUNT_NAMES.get(item['rule'], '金额')} {money(item['amount'])}",
                        className="ms-2 text-nowrap")]  # fmt: skip


def _item(item: dict, href: str, rules: TodoRules) -> html.Li:
    """The object as a link and the amount on one line; the store and the evidence below."""
    where = "" if item["kind"] == "store" else f"{item['store']} · "
    return html.Li(
        [html.Div([dcc.Link(item["object"], href=href, className="todo-link fw-semibold text-break"), *_amount(item)],
                  className="d-flex justify-content-between align-items-baseline"),
         html.Div(where + evidence(item, rules), className="text-muted small")],
        className="todo-item mb-2",
    )  # fmt: skip


Href = Callable[[dict], str]  # an item → the address of its evidence


def _group(group: dict, href: Href, rules: TodoRules) -> html.Div:
    items = [_item(i, href(i), rules) for i in group["items"]]
    shown, rest = items[: rules.shown_items_per_rule], items[rules.shown_items_per_rule :]
    total = [] if group["amount"] is None else [
        html.Span(f"合计{AMOUNT_NAMES.get(group['rule'], '金额')} {money(group['amount'])}",
                  className="ms-2 small")]  # fmt: skip
    header = html.Div([html.Span(RULE_NAMES[group["rule"]], className="fw-bold"),
                       html.Span(f"{group['count']} 项", className="badge text-bg-light ms-2"), *total],
                      className="mb-1")  # fmt: skip
    more = []
    if rest:
        unlisted = group["count"] - len(items)
        note = [html.Div(f"另有 {unlisted} 项未列出（见明细表）", className="small text-muted")] if unlisted else []
        more = [html.Details([html.Summary(f"展开其余 {group['count'] - len(shown)} 项", className="small"),
                              html.Ul(rest, className="list-unstyled mb-0 mt-1"), *note], className="todo-more")]
    return html.Div([header, html.Ul(shown, className="list-unstyled mb-1"), *more],
                    className="todo-group border-start border-3 ps-2 mb-3")  # fmt: skip


def todo_rows(todo: dict, href: Href, rules: TodoRules) -> list[dict]:
    """今日必做 as a flat table: 级别, 规则, 门店, 对象 (a link), 金额, 说明."""
    rows = []
    for key, _, _ in LEVELS:
        for group in todo[key]:
            for item in group["items"]:
                rows.append({"level": LEVEL_NAMES[key], "rule": RULE_NAMES[item["rule"]], "store": item["store"],
                             "object": item["object"], "object_href": href(item), "amount": item["amount"],
                             "evidence": evidence(item, rules)})  # fmt: skip
    return rows


def todo_card(todo: dict, href: Href, rules: TodoRules) -> dbc.Card:
    """The panel; ``href``: an item's link (the page's, keeping its channels); ``rules``: the
    thresholds the service used (the runtime's)."""
    columns = []
    for key, title, colour in LEVELS:
        groups = todo[key]
        body = [_group(g, href, rules) for g in groups] or [html.Div("暂无", className="text-muted small")]
        columns.append(dbc.Col([html.H6(f"{title}（{sum(g['count'] for g in groups)}）", className=f"text-{colour}"),
                                *body], lg=4, id=f"todo-{key}"))  # fmt: skip
    sku_note = (f"商品级提醒（价格异常、热销缺货、滞销、新品、热销、利润贡献）请选择不超过 "
                f"{rules.sku_rules_max_stores} 家门店查看。")  # fmt: skip
    note = [] if todo["sku_rules"] else [html.Div(sku_note, className="small text-muted mt-2")]
    urgent_rule = html.Div(f"紧急：亏损或预计损失不低于 {money(rules.urgent_min_amount)} 的事项；"
                           "点击对象查看依据。", className="small text-muted mb-2")  # fmt: skip
    rows = todo_rows(todo, href, rules)
    table = html.Details([html.Summary(f"明细表（{len(rows)} 项，可排序、下载）", className="small"),
                          data_grid(ids.DIAGNOSIS.page, "todo", "今日必做", rows, TODO_COLUMNS, height=360)],
                         className="mt-2")  # fmt: skip
    return dbc.Card(
        dbc.CardBody([html.H5(f"今日必做 · 截至 {todo['as_of']}", className="card-title"), urgent_rule,
                      dbc.Row(columns), *note, table]),
        className="mb-3 shadow-sm",
    )  # fmt: skip


def health_table(rows: list[dict], store_href: Callable[[int], str], rules: HealthRules) -> html.Div:
    """Worst stores first: 健康分, the four component scores (0–100 against all stores) and
    their figures; a store's name opens ``store_href(store_id)`` (the page's: its diagnosis with
    the same period and channels)."""
    shown = [{**r, "store_href": store_href(r["store_id"])} for r in sorted(rows, key=lambda r: r["score"])]
    weights = "、".join(f"{LABELS[c]} {percent(w, 0)}" for c, w in rules.weights.items())
    note = f"{weights}，各项与全部门店同期比较（0–100）。"
    return html.Div(data_grid(ids.DIAGNOSIS.page, "health", "门店健康分", shown, HEALTH_COLUMNS, height=420, note=note),
                    className="card card-body mb-3 shadow-sm")  # fmt: skip
