"""Fixtures of the browser tests: one chromium for the whole run and the demo most tests browse.

Both are session-scoped, so the tests only read: they browse, filter and download, and none of
them writes to the demo's database or data directory (each opens its own context with
open_offline, so cookies and history do not leak between tests either)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from db.demo_data import DemoSpec
from tests.conftest import service_missing
from tests.e2e.offline import CHROMIUM, CHROMIUM_ARGS, serve_demo

# 4 stores × 21 days ending 2026-11-27: small enough to seed in seconds, with a default week,
# the week before it for 环比, and urgent 今日必做 items with their evidence.
DEMO = DemoSpec(stores=4, days=21, seed=11)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        service_missing("Debian chromium not installed (apt-get install chromium fonts-noto-cjk)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory):
    """DEMO on SQLite behind Waitress (a DemoSite: base URL, stores, first and last day)."""
    with serve_demo(DEMO, tmp_path_factory.mktemp("demo")) as site:
        yield site
