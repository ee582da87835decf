"""KPI card: big value, then one line per comparison (环比, 同比) labelled with what it compares,
coloured by direction, or 上期数据不足 when the imported data does not cover its periods."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from analytics.kpis import BASE_SHORT, CURRENT_SHORT
from components import format as fmt

SHORT_TEXT = {BASE_SHORT: "上期数据不足", CURRENT_SHORT: "本期数据不足"}


def _dates(period: dict, year: bool = True) -> str:
    """'2026-11-14~2026-11-20' (or '11-14~11-20' without ``year``)."""
    start, end = (period["start"], period["end"]) if year else (period["start"][5:], period["end"][5:])
    return f"{start}~{end}"


def comparison_label(name: str, comparison: dict) -> str:
    """'环比 11-14~11-20' or '同比4周前'."""
    if name == "previous":
        return f"环比 {_dates(comparison['period'], year=False)}"
    return f"同比{comparison['weeks']}周前"


def shortfall(side: str, coverage: dict) -> str:
    """'上期 2026-09-03~2026-09-29 仅 2/27 天有数据' (several stores: how many fall short)."""
    head = f"{side} {_dates(coverage)}"
    ratio = f"{coverage['covered_days']}/{coverage['days']} 天有数据"
    if coverage["stores"] > 1 and coverage["short_stores"] < coverage["stores"]:
        return f"{head}：{coverage['short_stores']}/{coverage['stores']} 家门店数据不全（最少仅 {ratio}）"
    return f"{head} 仅 {ratio}"


def comparison_tooltip(comparison: dict) -> str:
    """The exact dates compared, and when withheld the coverage that falls short."""
    compared = f"本期 {_dates(comparison['current'])} 对比 {_dates(comparison['period'])}"
    if comparison["withheld"] == BASE_SHORT:
        return f"{shortfall('上期', comparison['period'])}；{compared}"
    if comparison["withheld"] == CURRENT_SHORT:
        return f"{shortfall('本期', comparison['current'])}；{compared}"
    return compared


def _delta(name: str, comparison: dict, value: float | None, rate: bool) -> html.Div:
    withheld = comparison["withheld"]
    if withheld:
        text, colour = SHORT_TEXT[withheld], "text-muted"
    else:
        text = fmt.change(value, rate)
        colour = "text-muted" if value is None else ("text-success" if value >= 0 else "text-danger")
    return html.Div(
        [
            html.Span(f"{comparison_label(name, comparison)} ", className="text-muted"),
            html.Span(text, className=colour),
        ],
        className="small kpi-delta",
        title=comparison_tooltip(comparison),
        **{"data-comparison": name},
    )


def kpi_card(card: dict, comparisons: dict[str, dict]) -> dbc.Card:
    """Render one card dict of analytics.kpis.kpi_cards with the result's ``comparisons``."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(card["label"], className="text-muted small"),
                html.H4(
                    fmt.kpi_value(card["value"], card["unit"]),
                    className="my-1 kpi-value",
                    **{"data-kpi": card["key"]},
                ),
                *[_delta(name, comparisons[name], card[f"vs_{name}"], card["rate"]) for name in comparisons],
            ]
        ),
        className="h-100 shadow-sm",
    )


def kpi_row(result: dict) -> dbc.Row:
    """The cards of ``services.diagnosis.store_kpis``' result in one row."""
    cards = [kpi_card(c, result["comparisons"]) for c in result["cards"]]
    return dbc.Row([dbc.Col(card, xs=6, md=4, xl=2, className="mb-3") for card in cards], className="g-3")
