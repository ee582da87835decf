"""商品分析 — ABC, 动销 × 利润率 quadrant, price bands, basket depth, category trends, loss-making
and slow-moving SKUs (耗材 left out)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from components import ids
from components.charts import COUNT, DATE_AXIS, MONEY, PERCENT, bar_chart, figure, graph
from components.format import count, money, percent
from components.grid import column, data_grid
from components.messages import NO_DATA, info_alert
from config.rules import RuleSettings
from pages._downloads import register_export
from pages._frame import UrlParams, filtered_section, frame_layout, register_frame_callbacks
from services.analysis import product_analysis, product_focus
from services.runtime import get_runtime
from web.prop_kinds import NUMBER, ROW_ID

PATH = "/products"
dash.register_page(__name__, path=PATH, name="商品分析", title="商品分析 · 门店诊断看板", order=2)

PAGE = ids.PRODUCTS

PRODUCT_COLUMNS = [
    column("name", "商品", pinned="left", minWidth=180), column("category", "一级分类"), column("abc", "ABC"),
    column("quadrant", "象限"), column("price_band", "价格带"), column("quantity", "销量", "count"),
    column("revenue", "实收", "money"), column("revenue_share", "实收占比", "percent"),
    column("profit", "利润", "money"), column("margin", "毛利率", "percent"),
    column("unit_price", "平均单价", "money"), column("sell_through", "动销率", "percent"),
    column("stores", "动销门店", "count"),
]  # fmt: skip
SLOW_COLUMNS = [
    column("store", "门店", minWidth=160), column("name", "商品", minWidth=180), column("bucket", "滞销档"),
    column("idle_days", "无销售天数", "count"), column("last_sale", "最后销售日"),
    column("selling_days", "此前动销天数", "count"),
]  # fmt: skip
QUADRANT_COLOURS = {"明星": "#198754", "引流": "#0d6efd", "潜力": "#fd7e14", "问题": "#dc3545"}


def _percent_input(label: str, component_id: str, value: float) -> dbc.Col:
    return dbc.Col(
        [dbc.Label(label, html_for=component_id, className="small mb-1"),
         dbc.InputGroup([dbc.Input(id=component_id, type="number", min=0, max=100, step=1, value=value,
                                   debounce=True), dbc.InputGroupText("%")], size="sm")],
        md=3,
    )  # fmt: skip


def _split(query: dict, key: str, default: float) -> float:
    try:
        value = float(query.get(key, ""))
    except (TypeError, ValueError):
        return default * 100
    return value if 0 <= value <= 100 else default * 100


def _rules() -> RuleSettings:
    return get_runtime().settings.rules


def _read_params(query: dict, _options: dict) -> dict:
    """The quadrant splits (in %) from the URL, the configured default for anything else; the
    SKU a 今日必做 link names (``?sku=``), or none."""
    rules = _rules().products
    return {"sell": _split(query, "sell", rules.quadrant_sell_through_split),
            "margin": _split(query, "margin", rules.quadrant_margin_split),
            "sku": _int(query.get("sku"))}  # fmt: skip


PARAMS = UrlParams({"sell": (ids.PRODUCTS_SELL_SPLIT, "value"), "margin": (ids.PRODUCTS_MARGIN_SPLIT, "value"),
                    "sku": (ids.PRODUCTS_SKU, "data")}, _read_params,
                   {"sell": NUMBER, "margin": NUMBER, "sku": ROW_ID})  # fmt: skip
register_frame_callbacks(PAGE, PATH, PARAMS)
register_export(PAGE.page)


def layout(**query: str) -> html.Div:
    frame = frame_layout(PAGE, "商品分析", query, params=PARAMS)
    if frame.selection is None:
        return html.Div(frame.children)
    controls = dbc.Row(
        [
            _percent_input("象限分界：动销率", ids.PRODUCTS_SELL_SPLIT, frame.params["sell"]),
            _percent_input("象限分界：毛利率", ids.PRODUCTS_MARGIN_SPLIT, frame.params["margin"]),
        ],
        className="g-3 mb-3",
    )  # fmt: skip
    sku = dcc.Store(id=ids.PRODUCTS_SKU, data=frame.params["sku"])
    return html.Div([*frame.children, sku, controls, dcc.Loading(html.Div(id=ids.PRODUCTS_FOCUS), type="dot"),
                     dcc.Loading(html.Div(id=ids.PRODUCTS_BODY), type="dot")])  # fmt: skip


def _int(text) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


@dash.callback(Output(ids.PRODUCTS_FOCUS, "children"), *PAGE.inputs(), Input(ids.PRODUCTS_SKU, "data"))
def update_focus(stores, start, end, channels, sku):
    """The SKU a link names (``?sku=``): its totals and every day of the period."""
    if sku is None:
        return None
    return filtered_section("product focus", (stores, start, end, channels), product_focus, _render_focus, int(sku))


def _render_focus(result: dict):
    if not result["found"]:
        return info_alert("链接中的商品不存在（可能已被重新导入）。")
    s, daily = result["summary"], result["daily"]
    facts = [("销量", f"{count(s['quantity'])} 件"), ("动销天数", f"{s['selling_days']} 天"),
             ("实收", money(s["revenue"])), ("成本", money(s["cost"])),
             ("利润", money(s["profit"])), ("实收单价", money(s["unit_price"])),
             ("成本单价", money(s["unit_cost"]))]  # fmt: skip
    days = [r["day"] for r in daily]
    chart = figure([
        {"type": "bar", "x": days, "y": [r["quantity"] for r in daily], "name": "销量", "yaxis": "y2", "opacity": 0.4},
        {"type": "scatter", "mode": "lines+markers", "x": days, "y": [r["revenue"] for r in daily], "name": "实收"},
        {"type": "scatter", "mode": "lines+markers", "x": days, "y": [r["cost"] for r in daily], "name": "成本"},
    ], f"{s['name']} · 每日销售", "金额", y_kind=MONEY, y2_kind=COUNT, y2_title="销量", xaxis=DATE_AXIS)  # fmt: skip
    return dbc.Card(dbc.CardBody([
        html.H5(f"商品：{s['name']}", className="card-title", id="products-focus-title"),
        html.Div("，".join(f"{label} {value}" for label, value in facts), className="small mb-2"),
        graph(chart),
    ]), className="mb-3 shadow-sm border-primary")  # fmt: skip


@dash.callback(Output(ids.PRODUCTS_BODY, "children"), *PAGE.inputs(),
               Input(ids.PRODUCTS_SELL_SPLIT, "value"), Input(ids.PRODUCTS_MARGIN_SPLIT, "value"))  # fmt: skip
def update_products(stores, start, end, channels, sell, margin):
    rules = _rules()
    sell_split = (sell if sell is not None else rules.products.quadrant_sell_through_split * 100) / 100
    margin_split = (margin if margin is not None else rules.products.quadrant_margin_split * 100) / 100
    return filtered_section("products", (stores, start, end, channels), product_analysis,
                            lambda result: _render(result, rules), round(sell_split, 4),
                            round(margin_split, 4))  # fmt: skip


def _render(result: dict, rules: RuleSettings) -> list:
    if result["empty"]:
        return [info_alert(NO_DATA)]
    abc = result["abc"]
    a, b = rules.products.abc_shares
    abc_title = f"ABC 分类（按实收：A {percent(a, 0)} / B {percent(b - a, 0)} / C {percent(1 - b, 0)}）"
    abc_chart = bar_chart([f"{r['abc']} 类（{r['skus']} 个）" for r in abc], {"实收": [r["revenue"] for r in abc]},
                          abc_title, "实收", y_kind=MONEY)  # fmt: skip
    bands = result["price_bands"]
    band_chart = bar_chart([f"{r['band']}（{r['group']}）" for r in bands], {"实收": [r["revenue"] for r in bands]},
                           "价格带", "实收", y_kind=MONEY)  # fmt: skip
    depth = result["depth"]
    depth_chart = bar_chart([f"{r['bucket']} 件" for r in depth], {"订单数": [r["orders"] for r in depth]},
                            "购物篮深度（每单商品数，不含耗材）", "订单数", y_kind=COUNT)  # fmt: skip
    products = result["products"]
    quadrant_counts = "，".join(f"{q['quadrant']} {q['skus']} 个" for q in result["quadrants"])
    return [
        html.Div(f"共 {result['skus']} 个动销商品（不含耗材）；象限：{quadrant_counts}。",
                 className="small text-muted mb-2"),
        dbc.Row([dbc.Col(graph(_quadrant_chart(products)), lg=7), dbc.Col(graph(abc_chart), lg=5)]),
        dbc.Row([dbc.Col(graph(band_chart), lg=6), dbc.Col(graph(depth_chart), lg=6)]),
        graph(_category_chart(result["category_trend"])),
        data_grid(PAGE.page, "products", "商品明细", products, PRODUCT_COLUMNS,
                  note=f"按实收排序，最多 {rules.products.product_rows} 个商品。"),
        data_grid(PAGE.page, "losing", "亏损商品", result["losing"], PRODUCT_COLUMNS, height=300, hint="利润为负"),
        _slow(result["slow"], rules),
    ]  # fmt: skip


def _quadrant_chart(products: list[dict]) -> dict:
    traces = []
    for name, colour in QUADRANT_COLOURS.items():
        rows = [p for p in products if p["quadrant"] == name]
        traces.append({
            "type": "scatter", "mode": "markers", "name": name, "x": [p["sell_through"] for p in rows],
            "y": [p["margin"] for p in rows], "text": [p["name"] for p in rows],
            "marker": {"color": colour, "size": 8, "opacity": 0.7},
            "hovertemplate": "%{text}<br>动销率 %{x:.0%}<br>毛利率 %{y:.1%}<extra></extra>",
        })  # fmt: skip
    return figure(traces, "动销 × 毛利率 象限", "毛利率", y_kind=PERCENT, x_kind=PERCENT, xaxis={"title": "动销率"})


def _category_chart(rows: list[dict]) -> dict:
    traces = []
    for category in dict.fromkeys(r["category"] for r in rows):
        points = [r for r in rows if r["category"] == category]
        traces.append({"type": "scatter", "mode": "lines", "name": category, "x": [r["day"] for r in points],
                       "y": [r["revenue"] for r in points]})  # fmt: skip
    return figure(traces, "品类趋势（每日实收）", "实收", y_kind=MONEY, xaxis=DATE_AXIS)


def _slow(rows: list[dict] | None, rules: RuleSettings):
    days = (rules.todo.slow_min_idle_days, *rules.todo.slow_bucket_days)
    if rows is None:
        return info_alert(f"滞销商品（{' / '.join(map(str, days))} 天以上无销售）请选择不超过 "
                          f"{rules.todo.sku_rules_max_stores} 家门店查看。")  # fmt: skip
    return data_grid(PAGE.page, "slow", "滞销商品", rows, SLOW_COLUMNS, height=300,
                     hint=f"{'、'.join(map(str, days))} 天以上无销售")  # fmt: skip
