"""Browser-test fixtures shared by every module in tests/web: ONE headless Chromium per test
session (a second sync Playwright in the same thread fails, so the fixture must live here)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from civicgrid.config import get_settings

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = Path(os.environ.get("CIVICGRID_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 45_000  # generous: the SQLite and PostgreSQL passes and the fuzzer share two cores


class Traffic:
    """The requests a page has in flight (documents, scripts, API calls, map tiles; not its
    WebSocket), so a test waits for exactly those instead of Playwright's "networkidle" (no
    request for 500 ms, however early the last one ended) plus a fixed pause."""

    QUIET_MS = 100  # after the page's own tasks ran: the time a response may take to start another

    def __init__(self, page: Any) -> None:
        self._page = page
        self._open: set[Any] = set()
        self._started = 0
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    def _start(self, request: Any) -> None:
        self._open.add(request)
        self._started += 1

    def _end(self, request: Any) -> None:
        self._open.discard(request)

    def settle(self, timeout_ms: int = TIMEOUT_MS) -> None:
        """Return once no request is in flight, the page has run what the last answers queued
        (an animation frame, then its task queue) and nothing new started for QUIET_MS."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            while self._open:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"requests still open after {timeout_ms} ms: "
                                       f"{sorted(r.url for r in self._open)}")
                self._page.wait_for_timeout(20)
            started = self._started
            self._page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))")
            self._page.wait_for_timeout(self.QUIET_MS)
            if not self._open and self._started == started:
                return


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (requested first, so a skip costs no data load)."""
    if not CHROMIUM.is_file():
        _unavailable(f"Chromium not found at {CHROMIUM}: apt-get install chromium fonts-wqy-microhei")
    index = Path(get_settings().static_dir) / "index.html"
    if not index.is_file():
        _unavailable(f"web console not built ({index} missing): "
                     "run `make web` (cd web && npm ci && npm run build)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop page (1440×900, zh-CN) in a context of its own; the test fails on any JavaScript
    error the console raised. Tests that need another size or a phone make their own context."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"
