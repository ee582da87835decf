"""Dash app factory and the WSGI ``server`` (built lazily on first access)."""

from __future__ import annotations

import logging

import dash
import dash_bootstrap_components as dbc
from dash import Dash, html

from config import PROJECT_ROOT, Settings
from services.runtime import build_runtime, install

APP_TITLE = "门店诊断看板"
NAVBAR = "main-navbar"


def _navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
        for page in dash.page_registry.values()
        if page["path"] != "/404"
    ]
    return dbc.Navbar(
        dbc.Container([dbc.NavbarBrand(APP_TITLE, href="/"), dbc.Nav(links, navbar=True)], fluid=True),
        color="dark",
        dark=True,
        id=NAVBAR,
    )


def create_app(settings: Settings | None = None) -> Dash:
    """Build the Dash app for ``settings`` (default: from the environment). No I/O happens here."""
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder=str(PROJECT_ROOT / "pages"),
        assets_folder=str(PROJECT_ROOT / "assets"),
        external_stylesheets=[],  # Bootstrap is served from assets/ (no CDN)
        serve_locally=True,
        title=APP_TITLE,
        suppress_callback_exceptions=True,
        update_title=None,
    )
    app.layout = html.Div([_navbar(), dbc.Container(dash.page_container, fluid=True)])
    install(app.server, build_runtime(settings))
    app.server.config["O2O_SETTINGS"] = settings
    return app


_default_app: Dash | None = None


def __getattr__(name: str):
    """``app:server`` for WSGI servers without building an app at import time."""
    global _default_app
    if name == "server":
        if _default_app is None:
            _default_app = create_app()
        return _default_app.server
    raise AttributeError(name)
