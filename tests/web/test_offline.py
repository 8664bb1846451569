"""Served the way an offline government network needs it (issue 11 §8): the API docs load with
every request off 127.0.0.1 aborted, the console's JavaScript goes out compressed, hashed assets
are cached, and the console has a favicon."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from tests.web.conftest import TIMEOUT_MS

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def test_api_docs_load_with_no_internet(page: Any, live_server: Any) -> None:
    outside: list[str] = []

    def only_local(route: Any) -> None:
        host = urlparse(route.request.url).hostname
        if host == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{live_server.url}/api/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "civicgrid" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-tag")  # the operations rendered from /api/openapi.json
    assert outside == [], f"the docs page asked the Internet for {outside}"


def _index_asset(base: str, suffix: str) -> str:
    html = httpx.get(base + "/").text
    start = html.index("/assets/index-")
    return html[start:html.index(suffix, start) + len(suffix)]


def test_console_assets_are_compressed_and_cached(live_server: Any) -> None:
    script = _index_asset(live_server.url, ".js")
    raw = httpx.get(live_server.url + script, headers={"Accept-Encoding": "identity"})
    assert raw.status_code == 200 and "content-encoding" not in raw.headers
    for encoding in ("br", "gzip"):
        with httpx.stream("GET", live_server.url + script, headers={"Accept-Encoding": encoding}) as packed:
            body = b"".join(packed.iter_raw())
        assert packed.headers["content-encoding"] == encoding
        assert packed.headers["vary"] == "Accept-Encoding"
        assert packed.headers["content-type"].startswith(("text/javascript", "application/javascript"))
        assert len(body) == int(packed.headers["content-length"]) < len(raw.content) / 2
        if encoding == "gzip":
            assert gzip.decompress(body) == raw.content  # the same script
    assert "immutable" in raw.headers["cache-control"]
    index = httpx.get(live_server.url + "/", headers={"Accept-Encoding": "br"})
    assert index.headers["cache-control"] == "no-cache"
    icon = httpx.get(live_server.url + "/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")
    assert 'rel="icon"' in index.text
