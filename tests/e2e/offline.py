"""What every browser test shares: Debian chromium's path and flags, an offline tab (every
non-localhost request blocked and recorded, console errors collected), a demo served on SQLite
behind Waitress, and the wait for a section that has finished rendering."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlparse

from sqlalchemy import Engine

from app import create_app, stop_app
from config import PROJECT_ROOT, Settings
from db.engine import make_engine
from db.migrate import upgrade
from db.queries import data_date_bounds, stores
from db.seed import seed_demo
from tests.live_server import waitress_in_thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "e2e"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
VIEWPORT = {"width": 1400, "height": 900}
# The machine's Redis, as the app is deployed: the browser sees all four cache tiers and the
# monitor panel's Redis card online (keys are namespaced by database, so sites never collide)
REDIS_URL = "redis://127.0.0.1:6379/0"


class OfflineTab(NamedTuple):
    context: Any  # playwright BrowserContext (playwright is imported only when chromium is there)
    page: Any
    errors: list[str]  # uncaught page errors, and console errors unless the tab was opened without them
    blocked: list[str]  # every non-localhost URL the tab asked for (each one aborted)


def open_offline(browser, *, console_errors: bool = True, **options) -> OfflineTab:
    """A new context (1400 × 900, zh-CN, ``options`` on top) and page that reach localhost only.

    ``console_errors=False`` collects uncaught page errors alone, for the tests that never
    checked the console."""
    context = browser.new_context(**{"viewport": VIEWPORT, "locale": "zh-CN", **options})
    blocked: list[str] = []

    def guard(route) -> None:
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    errors: list[str] = []
    if console_errors:
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return OfflineTab(context, page, errors, blocked)


@dataclass(frozen=True)
class DemoSite:
    base: str  # http://127.0.0.1:<port>
    stores: list[dict]  # the stores table as records (id, name, city, …), in id order
    first_day: str  # ISO dates of the first and last day with orders
    last_day: str


def serve_demo(spec, root):
    """``spec`` (a DemoSpec) generated and imported into a new SQLite database under ``root``
    through the real pipeline, the app serving it from Waitress; yields a DemoSite."""
    return serve_data(root, lambda engine, settings: seed_demo(engine, settings, spec))


@contextmanager
def serve_data(root, load: Callable[[Engine, Settings], object], **overrides):
    """A new SQLite database under ``root`` filled by ``load(engine, settings)`` (the importer),
    the app serving it from Waitress with ``overrides`` on its settings; yields a DemoSite."""
    settings = Settings.from_env({}, database_url=f"sqlite:///{root / 'o2o.sqlite3'}", data_dir=root / "var",
                                 redis_url=REDIS_URL, **overrides)  # fmt: skip
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        load(engine, settings)
        with engine.connect() as conn:
            listed = stores(conn).to_dict("records")
            first, last = data_date_bounds(conn)
        app = create_app(settings)
        try:
            with waitress_in_thread(app.server) as server:
                yield DemoSite(f"http://127.0.0.1:{server.effective_port}", listed, first.isoformat(),
                               last.isoformat())  # fmt: skip
        finally:
            stop_app(app)
    finally:
        engine.dispose()


def settled(page, selector: str, ready: str | Iterable[str], unlike: str | None = None) -> str:
    """The section's text once one of ``ready`` (selectors) is inside it, it differs from
    ``unlike`` and has not changed for 1.5 s (a filter change may pass through intermediate
    renders, e.g. 全部门店 being dropped from the dropdown)."""
    inside = [ready] if isinstance(ready, str) else list(ready)
    page.wait_for_selector(", ".join(f"{selector} {r}" for r in inside), timeout=30000)
    history: list[str] = []
    for _ in range(120):
        page.wait_for_timeout(500)
        text = page.locator(selector).inner_text()
        history.append(text)
        if len(history) >= 4 and len(set(history[-4:])) == 1 and text.strip() and text != unlike:
            return text
    raise AssertionError(f"{selector} did not settle: {history[-1][:200]!r}")
