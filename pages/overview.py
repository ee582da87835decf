"""经营总览 — every store in one sortable grid, city comparison and the health-score distribution."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Output, html

from components import ids
from components.charts import COUNT, MONEY, bar_chart, figure, graph
from components.export import TEXT_FIELD
from components.grid import column, data_grid
from components.kpi_card import SHORT_TEXT, shortfall
from components.messages import NO_DATA, info_alert
from pages._downloads import register_export
from pages._frame import register_frame_callbacks, selection_section, single_body_layout
from pages._links import store_href
from readmodel.selection import Selection
from services.analysis import store_overview

PATH = "/overview"
dash.register_page(__name__, path=PATH, name="经营总览", title="经营总览 · 门店诊断看板", order=1)

PAGE = ids.OVERVIEW
register_frame_callbacks(PAGE, PATH)
register_export(PAGE.page)



def _change_column(field: str, header: str, kind: str) -> dict:
    """A 环比 column that reads 上期数据不足 / 本期数据不足 (the coverage as its tooltip) where the
    store's data does not cover both periods (the service leaves the change empty there)."""
    spec = column(field, header, kind, tooltipField="change_note", context={TEXT_FIELD: "change_withheld"},
                  minWidth=130)  # 上期数据不足 in full
    shown = spec["valueFormatter"]["function"]
    spec["valueFormatter"] = {"function": f"params.data && params.data.change_withheld ? "
                                          f"params.data.change_withheld : ({shown})"}  # fmt: skip
    return spec


STORE_COLUMNS = [
    column("store", "门店", "link", pinned="left", minWidth=200),
    column("city", "城市"),
    column("score", "健康分", "score", sort="asc"),
    column("orders", "订单数", "count"),
    _change_column("orders_change", "单量环比", "change"),
    column("revenue", "实收", "money"),
    _change_column("revenue_change", "实收环比", "change"),
    column("actual_profit", "实际利润", "money"),
    column("profit_margin", "利润率", "percent"),
    _change_column("margin_change", "利润率环比", "points"),
    column("avg_order_value", "客单价", "money"),
    column("marketing_rate", "营销成本率", "percent"),
    column("delivery_rate", "配送成本率", "percent"),
    column("loss_orders", "穿底订单", "count"),
]
CITY_COLUMNS = [
    column("city", "城市"), column("stores", "门店数", "count"), column("orders", "订单数", "count"),
    column("revenue", "实收", "money"), column("actual_profit", "实际利润", "money"),
    column("profit_margin", "利润率", "percent"), column("avg_order_value", "客单价", "money"),
    column("score", "平均健康分", "score"),
]  # fmt: skip


def layout(**query: str) -> html.Div:
    return single_body_layout(PAGE, "经营总览", query, ids.OVERVIEW_BODY)


@dash.callback(Output(ids.OVERVIEW_BODY, "children"), *PAGE.inputs())
def update_overview(*values):
    return selection_section("overview", values, store_overview, _render)


# change_withheld (analytics.kpis BASE_SHORT / CURRENT_SHORT) → the period's name, key and covered days
SHORT_SIDES = {"base": ("上期", "previous", "base_days"), "current": ("本期", "current", "current_days")}


def _explain_withheld(row: dict, periods: dict) -> None:
    """Word the service's ``change_withheld`` (which period the store's data falls short of)."""
    why = row["change_withheld"]
    row["change_note"] = None
    if why is not None:
        side, name, days = SHORT_SIDES[why]
        covered = {**periods[name], "covered_days": row[days], "stores": 1, "short_stores": 1}
        row["change_note"] = shortfall(side, covered)
        row["change_withheld"] = SHORT_TEXT[why]


def _render(result: dict, selection: Selection) -> list:
    stores = result["stores"]
    if not result["with_data"]:
        return [info_alert(NO_DATA)]
    for row in stores:  # a store's row opens its diagnosis with the same period and channels
        row["store_href"] = store_href(selection, row["store_id"])
        _explain_withheld(row, result["periods"])
    scored = [r["score"] for r in stores if r["score"] is not None]
    summary = html.Div(
        f"共 {len(stores)} 家门店，{result['with_data']} 家有订单；健康分低的排在前面，点击门店名查看诊断。",
        className="small text-muted mb-2",
    )
    cities = result["cities"]
    city_chart = bar_chart([c["city"] for c in cities], {"实收": [c["revenue"] for c in cities],
                                                        "实际利润": [c["actual_profit"] for c in cities]},
                           "城市对比", "金额", y_kind=MONEY)  # fmt: skip
    histogram = figure([{"type": "histogram", "x": scored, "xbins": {"start": 0, "end": 100, "size": 10},
                         "name": "门店数"}], "健康分分布", "门店数", y_kind=COUNT,
                       xaxis={"title": "健康分", "range": [0, 100]})  # fmt: skip
    return [
        summary,
        data_grid(PAGE.page, "stores", "门店一览", stores, STORE_COLUMNS, height=520),
        dbc.Row(
            [
                dbc.Col(graph(city_chart, "overview-cities"), lg=7),
                dbc.Col(graph(histogram, "overview-scores"), lg=5),
            ]
        ),
        data_grid(PAGE.page, "cities", "城市对比", cities, CITY_COLUMNS, height=300),
    ]
