"""Dash app factory and the WSGI ``server`` (built lazily on first access)."""

from __future__ import annotations

import atexit
import logging

import dash
import dash_bootstrap_components as dbc
from dash import Dash, html
from dash._pages import _path_to_page
from flask import Response, has_request_context, request

import web
from analytics import use_python_strings
from config import PROJECT_ROOT, Settings
from monitoring.endpoints import register_endpoints
from services.import_jobs import JobWorker
from services.runtime import EXTENSION_KEY, build_runtime, install
from services.warmup import CacheWarmer

APP_TITLE = "门店诊断看板"
NAVBAR = "main-navbar"
WARMER_KEY = "o2o_cache_warmer"
WORKER_KEY = "o2o_import_worker"


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


NOT_FOUND_MODULE = "not_found_404"


def _is_page(app: Dash, path: str) -> bool:
    """Whether Dash Pages' router shows a page of its own for ``path`` (the router's own lookup,
    so the status never disagrees with what the browser shows; 页面不存在 itself is no page)."""
    page, _ = _path_to_page(app.strip_relative_path(path))
    return bool(page) and page["module"].split(".")[-1] != NOT_FOUND_MODULE


def _not_found_title() -> str:
    return next((page["title"] for module, page in dash.page_registry.items()
                 if module.split(".")[-1] == NOT_FOUND_MODULE), "404")  # fmt: skip


def _serve_unknown_paths_as_404(app: Dash) -> None:
    """Dash Pages answers every path with its index and the router then shows 页面不存在, with
    status 200, so link checkers, monitors and crawlers saw a page. The same index (the browser
    still renders the 404 page) now goes out as 404, titled 页面不存在 for clients without
    JavaScript. Only the catch-all route is touched: Dash's own routes, the assets, /healthz and
    /metrics have rules of their own."""
    catch_all = app.config.routes_pathname_prefix + "<path:path>"
    interpolate = app.interpolate_index

    def interpolate_index(**parts) -> str:
        if has_request_context() and not _is_page(app, request.path):
            parts["title"] = f"{_not_found_title()} · {APP_TITLE}"
        return interpolate(**parts)

    app.interpolate_index = interpolate_index  # Dash's index() calls it through the instance

    @app.server.after_request
    def unknown_path_is_404(response: Response) -> Response:
        rule = request.url_rule
        served_index = rule is not None and rule.rule == catch_all and response.status_code == 200
        if served_index and not _is_page(app, request.path):
            response.status_code = 404
        return response


def create_app(
    settings: Settings | None = None,
    *,
    start_monitors: bool = True,
    start_worker: bool | None = None,
) -> Dash:
    """Build the Dash app for ``settings`` (default: from the environment). Starts the samplers
    (Redis health, psutil) and the cache warmer unless told not to; ``stop_app`` stops them.
    ``start_worker``: run the import worker thread (default: as ``start_monitors``; never when
    ``O2O_IMPORT_WORKER=0``). Process-wide settings (allocators, Dash's JSON encoder) are the
    serving process's: ``serving.worker.build_app``."""
    settings = settings or Settings.from_env()
    use_python_strings()
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
    _serve_unknown_paths_as_404(app)
    runtime = build_runtime(settings)
    install(app.server, runtime)
    register_endpoints(app.server, runtime, runtime.monitors)
    web.install(app, settings)  # body limits, callback request guard
    if start_monitors and runtime.monitors is not None:
        runtime.monitors.start()
        atexit.register(runtime.monitors.stop)
        logging.getLogger(__name__).info("系统监控面板组件已加载")
    if start_monitors and settings.cache_warm and runtime.cache is not None and runtime.cache.enabled:
        warmer = CacheWarmer(runtime)
        app.server.extensions[WARMER_KEY] = warmer
        warmer.start()
        atexit.register(warmer.stop)
    if (start_monitors if start_worker is None else start_worker) and settings.import_worker:
        worker = JobWorker(settings)
        app.server.extensions[WORKER_KEY] = worker
        worker.start()
        atexit.register(worker.stop)
    return app


def stop_app(app: Dash) -> None:
    """Stop the app's background threads and close its database pool."""
    runtime = app.server.extensions[EXTENSION_KEY]
    warmer = app.server.extensions.get(WARMER_KEY)
    if warmer is not None:
        warmer.stop()
    worker = app.server.extensions.pop(WORKER_KEY, None)
    if worker is not None:
        worker.stop()
    if runtime.monitors is not None:
        runtime.monitors.stop()
    runtime.engine.dispose()


_default_app: Dash | None = None


def __getattr__(name: str):
    """``app:server`` for WSGI servers without building an app at import time (the serving
    process's allocator and encoder settings: ``serving.wsgi:server``)."""
    global _default_app
    if name == "server":
        if _default_app is None:
            _default_app = create_app()
        return _default_app.server
    raise AttributeError(name)
