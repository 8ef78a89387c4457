"""The browser tier: Debian's Chromium driven by Playwright, on the real app served over HTTP (CSRF
on), with the real stack behind it (tests/stack.py), checked before the first test. Every test
here is marked `browser`.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session", autouse=True)
def real_stack(run_database):
    """Every browser test runs on the real stack, checked before the first (or the run ends)."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def live_server(db):
    """The real app (CSRF on, as in production) served by werkzeug on a free local port."""
    from werkzeug.serving import make_server

    from parentalites.app import create_app
    from parentalites.catcher import free_port
    app = create_app({"RATELIMIT_ENABLED": False})
    assert app.config.get("WTF_CSRF_ENABLED", True) is not False
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
