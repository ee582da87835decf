"""404 page in Chinese (Dash Pages picks up ``not_found_404`` by name)."""

import dash
from dash import html

dash.register_page(__name__, path="/404", name="页面不存在", title="页面不存在")

layout = html.Div(
    [
        html.H3("页面不存在", className="mt-4"),
        html.P("您访问的页面不存在或已被移动。"),
        html.A("返回门店诊断", href="/"),
    ]
)
