"""Browser-test fixtures: a live portal on SQLite and a headless Chromium (Debian's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from portal_harness import LivePortal, launch_args, start


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[LivePortal]:
    portal = start(database_url, tmp_path)
    try:
        yield portal
    finally:
        portal.stop()
    assert portal.errors == []


@pytest.fixture
def browser() -> Iterator[Browser]:
    # Per test: Playwright's sync API runs an event loop on this thread while it is open,
    # and the suite's asyncio tests need the thread free again afterwards.
    with sync_playwright() as p:
        chromium = p.chromium.launch(**launch_args())
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()
