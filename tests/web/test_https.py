"""The report page over HTTPS in a real browser (Chromium via Playwright; same rules as the
other browser tests: outside CI a missing Chromium or unbuilt console skips, in CI it fails).

Browsers give geolocation (a grid worker's GPS) and the microphone only to a secure origin
(W3C Secure Contexts, https://www.w3.org/TR/secure-contexts/; Geolocation API §6: "only in
secure contexts"). The app is served with a certificate generated in the test, the grid worker
logs in on a phone, and the page finds its grid from the browser's position.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou, free_port
from tests.factories import make_user_committed
from tests.matters.conftest import place_in
from tests.tls import self_signed_certificate
from tests.web.conftest import ARTIFACTS, TIMEOUT_MS
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def https_server(app: object, live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's app served over HTTPS too (uvicorn's ssl options, as ``civicgrid serve
    --certfile``). The plain live server owns the app's lifespan (hub, workers); this second
    listener must not start or stop it again."""
    import uvicorn

    cert, key = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",  # type: ignore[arg-type]
                            ws="websockets-sansio", lifespan="off", ssl_certfile=str(cert), ssl_keyfile=str(key))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the HTTPS server did not start"
        time.sleep(0.05)
    base = f"https://127.0.0.1:{port}"
    assert httpx.get(f"{base}/api/v1/health/live", verify=ssl.create_default_context(cafile=str(cert))).is_success
    yield base
    server.should_exit = True
    thread.join(timeout=10)


def test_the_report_page_over_https_is_a_secure_context_with_geolocation(
        browser: Any, https_server: str, yongzhou: Yongzhou, engine: Engine) -> None:
    spot = place_in(yongzhou, "431102")
    worker = make_user_committed(engine, role="grid_worker", division_code=spot.grid)
    context = browser.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True,
                                  ignore_https_errors=True)  # the test's own self-signed certificate
    errors: list[str] = []
    try:
        context.set_default_timeout(TIMEOUT_MS)
        context.grant_permissions(["geolocation"], origin=https_server)
        context.set_geolocation({"longitude": spot.lng, "latitude": spot.lat})
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        _log_in(page, https_server, worker.username)
        page.wait_for_url("**/matters/report")
        assert page.url.startswith("https://")
        assert page.evaluate("() => window.isSecureContext") is True
        position = page.evaluate("""() => new Promise((resolve, reject) =>
            navigator.geolocation.getCurrentPosition(
                (p) => resolve([p.coords.longitude, p.coords.latitude]), (e) => reject(e.message)))""")
        assert position == pytest.approx([spot.lng, spot.lat])
        # The page's own locate button: the browser's position, then the grid it lies in.
        page.click('[data-test="intake-locate"]')
        located = page.wait_for_selector(f'[data-test="intake-grid"][data-grid="{spot.grid}"]')
        assert "网格" in located.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "matters-report-https.png"))
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"
