"""Unknown paths answer 404 over real Waitress HTTP with the 页面不存在 page, while every page,
asset, script of the index and endpoint of the app still answers 200."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import dash
import pytest

from app import create_app, stop_app
from config import PROJECT_ROOT, Settings
from db.engine import make_engine
from db.migrate import upgrade
from tests.live_server import waitress_in_thread

UNKNOWN = ("/no-such-page", "/products/extra", "/404", "/门店", "/assets", "/overview/x/y")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The app on an empty SQLite database (the status of a path does not depend on data)."""
    root = tmp_path_factory.mktemp("not-found")
    settings = Settings.from_env({}, database_url=f"sqlite:///{root / 'o2o.sqlite3'}", data_dir=root / "var",
                                 redis_url="redis://127.0.0.1:1/0")  # fmt: skip
    engine = make_engine(settings.database_url)
    upgrade(engine)
    app = create_app(settings, start_monitors=False)
    with waitress_in_thread(app.server) as server:
        yield f"http://127.0.0.1:{server.effective_port}"
    stop_app(app)
    engine.dispose()


@pytest.mark.parametrize("path", UNKNOWN)
def test_nf001_unknown_path_is_404_with_the_chinese_page(base, path):
    status, body = _get(base + urllib.request.quote(path))
    assert status == 404
    assert "<title>页面不存在" in body  # for clients without JavaScript
    assert "_dash-renderer" in body or "dash_renderer" in body  # the browser still renders the 404 page


def test_nf002_pages_assets_scripts_and_endpoints_still_200(base):
    pages = [p["path"] for p in dash.page_registry.values() if not p["module"].endswith("not_found_404")]
    assert {"/", "/overview", "/products", "/time", "/channels", "/distance", "/system"} <= set(pages)
    for path in [*pages, "/products/", "/?stores=1&start=2026-11-01"]:
        status, body = _get(base + path)
        assert status == 200, path
        assert "页面不存在" not in body, path
    assets = [p.relative_to(PROJECT_ROOT / "assets").as_posix() for p in (PROJECT_ROOT / "assets").rglob("*")
              if p.is_file()]  # fmt: skip
    assert assets
    for asset in assets:
        assert _get(f"{base}/assets/{urllib.request.quote(asset)}")[0] == 200, asset
    _, index = _get(base + "/")
    resources = re.findall(r'(?:src|href)="(/[^"]+)"', index)
    assert any("_dash-component-suites" in r for r in resources)
    for resource in resources:
        assert _get(base + resource)[0] == 200, resource
    for endpoint in ("/healthz", "/metrics", "/_dash-layout", "/_dash-dependencies"):
        assert _get(base + endpoint)[0] == 200, endpoint
    assert _get(base + "/assets/no-such-file.css")[0] == 404  # Flask's own 404, untouched
