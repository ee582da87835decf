"""渠道分析 — channel economics with a rating, the drill-down channel → SKUs → orders → one order,
and the abnormal orders (fee channel, platform fee 0) that every KPI leaves out."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, dcc, html

from components import ids
from components.charts import PERCENT, bar_chart, graph
from components.format import money
from components.grid import column, data_grid
from components.messages import NO_DATA, info_alert
from pages._downloads import register_export
from pages._frame import UrlParams, filtered_section, frame_layout, register_frame_callbacks, section
from services.analysis import abnormal_orders, channel_analysis, channel_skus, order_detail, product_orders
from services.runtime import get_runtime
from web.prop_kinds import ROW_ID, ROWS, TEXT, declare

PATH = "/channels"
dash.register_page(__name__, path=PATH, name="渠道分析", title="渠道分析 · 门店诊断看板", order=4)

PAGE = ids.CHANNELS
DRILL = {
    "channel": ids.CHANNELS_DRILL_CHANNEL,
    "product": ids.CHANNELS_DRILL_PRODUCT,
    "order": ids.CHANNELS_DRILL_ORDER,
}

CHANNEL_COLUMNS = [
    column("channel", "渠道", pinned="left"), column("rating", "健康度"), column("rating_score", "健康分", "score"),
    column("revenue", "实收", "money"), column("orders", "订单数", "count"),
    column("avg_order_value", "客单价", "money"), column("commission_rate", "佣金率", "percent"),
    column("marketing_rate", "营销成本率", "percent"), column("delivery_rate", "配送成本率", "percent"),
    column("actual_profit", "实际利润", "money"), column("profit_margin", "利润率", "percent"),
    column("loss_orders", "穿底订单", "count"),
]  # fmt: skip
SKU_COLUMNS = [
    column("name", "商品", pinned="left", minWidth=180), column("category", "一级分类"),
    column("quantity", "销量", "count"), column("revenue", "实收", "money"), column("profit", "利润", "money"),
    column("margin", "毛利率", "percent"), column("unit_price", "平均单价", "money"),
    column("stores", "门店数", "count"),
]  # fmt: skip
ORDER_COLUMNS = [
    column("platform_order_id", "订单ID", pinned="left", minWidth=170), column("store", "门店", minWidth=150),
    column("channel", "渠道"), column("ordered_at", "下单时间", "datetime", minWidth=160),
    column("line_count", "商品行", "count"),
    column("items_revenue", "实收", "money"), column("platform_fee", "平台服务费", "money"),
    column("delivery_fee", "物流配送费", "money"), column("marketing_cost", "营销成本", "money"),
    column("actual_profit", "实际利润", "money"), column("distance_km", "距离(km)", "number"),
]  # fmt: skip
LINE_COLUMNS = [
    column("line_no", "行", "count", maxWidth=80), column("name", "商品", minWidth=180), column("category", "一级分类"),
    column("quantity", "数量", "count"), column("list_price", "原价", "money"),
    column("received_price", "实收单价", "money"), column("cost", "成本", "money"), column("profit", "利润", "money"),
    column("item_discount", "商品减免", "money"),
]  # fmt: skip
FEES = (
    ("items_revenue", "商品实收"), ("items_profit", "商品利润"), ("platform_fee", "平台服务费（佣金）"),
    ("delivery_fee", "物流配送费"), ("user_delivery_fee", "用户支付配送费"), ("delivery_fee_discount", "配送费减免"),
    ("full_reduction", "满减"), ("merchant_voucher", "商家代金券"), ("merchant_coupon_share", "商家承担部分券"),
    ("gift_amount", "满赠"), ("other_discount", "商家其他优惠"), ("new_customer_discount", "新客减免"),
    ("packaging_fee", "打包袋金额"), ("corporate_rebate", "企客后返"), ("marketing_cost", "营销成本"),
    ("delivery_net_cost", "配送净成本"), ("actual_profit", "订单实际利润"),
)  # fmt: skip


def _int(text) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _read_drill(query: dict, options: dict) -> dict:
    """The drill-down path from the URL: a known channel, then a product and an order id."""
    channel = query.get("channel") if query.get("channel") in options["channels"] else None
    product = _int(query.get("product")) if channel else None
    order = _int(query.get("order"))  # an order alone is a link to its detail (今日必做)
    return {"channel": channel, "product": product, "order": order}


DRILL_PATH = UrlParams({key: (store, "data") for key, store in DRILL.items()}, _read_drill,
                       {"channel": TEXT, "product": ROW_ID, "order": ROW_ID})  # fmt: skip
register_frame_callbacks(PAGE, PATH, DRILL_PATH)
register_export(PAGE.page)


def layout(**query: str) -> html.Div:
    frame = frame_layout(PAGE, "渠道分析", query, params=DRILL_PATH)
    if frame.selection is None:
        return html.Div(frame.children)
    stores = [dcc.Store(id=store, data=frame.params[key]) for key, store in DRILL.items()]
    sections = [
        dcc.Loading(html.Div(id=i), type="dot")
        for i in (ids.CHANNELS_BODY, ids.CHANNELS_SKUS, ids.CHANNELS_ORDERS, ids.CHANNELS_ORDER, ids.CHANNELS_ABNORMAL)
    ]
    return html.Div([*frame.children, *stores, *sections, dcc.Store(id=ids.CHANNELS_ORDER_SHOWN)])  # fmt: skip


@dash.callback(Output(ids.CHANNELS_BODY, "children"), *PAGE.inputs())
def update_channels(*values):
    return filtered_section("channels", values, channel_analysis, _render_channels)


def _render_channels(result: dict) -> list:
    rows = result["channels"]
    if not rows:
        return [info_alert(NO_DATA)]
    rates = (("commission_rate", "佣金率"), ("marketing_rate", "营销成本率"), ("delivery_rate", "配送成本率"),
             ("profit_margin", "利润率"))  # fmt: skip
    series = {name: [r[field] for r in rows] for field, name in rates}
    chart = bar_chart([r["channel"] for r in rows], series, "各渠道成本率与利润率", "比率", y_kind=PERCENT)
    abnormal = result["abnormal"]
    note = (f"另有 {abnormal} 单异常订单（收费渠道但平台服务费和佣金均为 0）未计入以上指标，明细见页面底部。"
            if abnormal else "没有异常订单（收费渠道平台服务费和佣金均为 0）。")  # fmt: skip
    return [
        html.Div([note], className="small text-muted mb-2"),
        data_grid(PAGE.page, "channels", "渠道对比", rows, CHANNEL_COLUMNS, clickable=True,
                  hint="点击一行查看该渠道的商品"),
        graph(chart, "channels-chart"),
    ]  # fmt: skip


declare({"type": "grid"}, "selectedRows", ROWS)


@dash.callback(
    Output(DRILL["channel"], "data"), Output(DRILL["product"], "data"), Output(DRILL["order"], "data"),
    Input({"type": "grid", "page": PAGE.page, "table": ALL}, "selectedRows"),
    State(DRILL["channel"], "data"), State(DRILL["product"], "data"),
    prevent_initial_call=True,
)  # fmt: skip
def drill(_selections, channel, product):
    """A click on a row goes one level down; a click higher up resets the levels below it."""
    triggered = dash.ctx.triggered_id
    rows = dash.ctx.triggered[0]["value"] if dash.ctx.triggered else None
    if not isinstance(triggered, dict) or not rows:
        return dash.no_update, dash.no_update, dash.no_update
    row = rows[0]  # a row the page sent (a hand-made one may lack fields: nothing happens then)
    table = triggered.get("table")
    if table == "channels" and row.get("channel") is not None and row.get("channel") != channel:
        return row["channel"], None, None
    if table == "skus" and row.get("product_id") is not None and row.get("product_id") != product:
        return dash.no_update, row["product_id"], None
    if table == "orders" and row.get("id") is not None:
        return dash.no_update, dash.no_update, row["id"]
    return dash.no_update, dash.no_update, dash.no_update


@dash.callback(Output(ids.CHANNELS_SKUS, "children"), *PAGE.inputs(), Input(DRILL["channel"], "data"))
def update_skus(stores, start, end, channels, channel):
    if not channel:
        return info_alert("点击渠道对比表中的一行，查看该渠道的商品，再逐级查看订单。")

    def render(rows: list[dict]):
        if not rows:
            return info_alert(f"{channel} 在所选范围内没有商品销售。")
        return data_grid(PAGE.page, "skus", f"{channel} · 商品", rows, SKU_COLUMNS, height=360, clickable=True,
                         hint="点击查看含该商品的订单")  # fmt: skip

    return filtered_section("channel skus", (stores, start, end, channels), channel_skus, render, channel)


@dash.callback(Output(ids.CHANNELS_ORDERS, "children"), *PAGE.inputs(), Input(DRILL["channel"], "data"),
               Input(DRILL["product"], "data"))  # fmt: skip
def update_orders(stores, start, end, channels, channel, product):
    if not channel or product is None:
        return None

    def render(result: dict):
        if not result["total"]:
            return info_alert("所选范围内没有包含该商品的订单。")
        shown = len(result["orders"])
        return data_grid(
            PAGE.page,
            "orders",
            f"{channel} · 含该商品的订单",
            result["orders"],
            ORDER_COLUMNS,
            height=360,
            clickable=True,
            hint="点击查看订单明细",
            note=f"共 {result['total']} 单" + (f"，显示最新 {shown} 单" if shown < result["total"] else ""),
        )

    return filtered_section("product orders", (stores, start, end, channels), product_orders, render, channel,
                            int(product))  # fmt: skip


# An order's detail sits below the channel, SKU and order tables: once it has rendered, bring it
# into view (a 今日必做 link or a click in the order list asks for that order, not the page top).
dash.clientside_callback(
    """function (children) {
        if (children) {
            window.requestAnimationFrame(function () {
                var detail = document.getElementById("DETAIL_ID");
                if (detail) { detail.scrollIntoView({block: "start"}); }
            });
        }
        return window.dash_clientside.no_update;
    }""".replace("DETAIL_ID", ids.CHANNELS_ORDER),
    Output(ids.CHANNELS_ORDER_SHOWN, "data"),
    Input(ids.CHANNELS_ORDER, "children"),
)


@dash.callback(Output(ids.CHANNELS_ORDER, "children"), Input(DRILL["order"], "data"))
def update_order(order_id):
    if order_id is None:
        return None
    return section("order detail", lambda: order_detail(get_runtime(), int(order_id)), _render_order)


def _render_order(result: dict):
    if not result["found"]:
        return info_alert("订单不存在（可能已被重新导入），请重新选择。")
    order = result["order"]
    fees = dbc.Table(
        [html.Tbody([html.Tr([html.Th(label), html.Td(money(order.get(field)), className="text-end")])
                     for field, label in FEES])],
        size="sm", bordered=False, className="mb-0 small",
    )  # fmt: skip
    title = f"订单 {order['platform_order_id']} · {order['channel']} · {order['ordered_at'][:16].replace('T', ' ')}"
    return dbc.Card(dbc.CardBody([
        html.H6(title, className="card-title"),
        dbc.Row([dbc.Col(fees, lg=4), dbc.Col(data_grid(PAGE.page, "lines", "商品行", result["lines"], LINE_COLUMNS,
                                                        height=300), lg=8)]),
    ]), className="mb-4 shadow-sm")  # fmt: skip


@dash.callback(Output(ids.CHANNELS_ABNORMAL, "children"), *PAGE.inputs())
def update_abnormal(*values):
    def render(result: dict):
        if not result["total"]:
            return None
        shown = len(result["orders"])
        return data_grid(
            PAGE.page,
            "abnormal",
            "异常订单",
            result["orders"],
            ORDER_COLUMNS,
            height=320,
            hint="收费渠道但平台服务费和佣金均为 0，已从全部指标中排除",
            note=f"共 {result['total']} 单" + (f"，显示最新 {shown} 单" if shown < result["total"] else ""),
        )

    return filtered_section("abnormal orders", values, abnormal_orders, render)
