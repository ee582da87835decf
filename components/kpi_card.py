"""KPI card: big value, 环比 and 同比上周 lines coloured by direction."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components import format as fmt


def _delta(label: str, value: float | None, rate: bool) -> html.Div:
    colour = "text-muted" if value is None else ("text-success" if value >= 0 else "text-danger")
    return html.Div(
        [
            html.Span(f"{label} ", className="text-muted"),
            html.Span(fmt.change(value, rate), className=colour),
        ],
        className="small",
    )


def kpi_card(card: dict) -> dbc.Card:
    """Render one card dict from analytics.kpis.kpi_cards."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(card["label"], className="text-muted small"),
                html.H4(
                    fmt.kpi_value(card["value"], card["unit"]),
                    className="my-1 kpi-value",
                    **{"data-kpi": card["key"]},
                ),
                _delta("环比", card["vs_previous"], card["rate"]),
                _delta("同比上周", card["vs_last_week"], card["rate"]),
            ]
        ),
        className="h-100 shadow-sm",
    )


def kpi_row(cards: list[dict]) -> dbc.Row:
    return dbc.Row([dbc.Col(kpi_card(c), xs=6, md=4, xl=2, className="mb-3") for c in cards], className="g-3")
