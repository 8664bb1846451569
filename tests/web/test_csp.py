"""The built console works under its Content-Security-Policy (issue 9 §3.5): a real Chromium loads
it, signs in, draws the map (ECharts), opens the realtime socket, and no CSP violation is
reported."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.factories import DEFAULT_PASSWORD, make_user_committed
from tests.web.conftest import TIMEOUT_MS
from tests.web.test_console import _enter_code

pytestmark = pytest.mark.browser

LINGLING = "431102000000"
MAP = '[data-test="division-map"]'
# Recorded before any page script runs, so a violation during start-up is seen too.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def test_console_runs_without_csp_violations(browser: Any, live_server: Any, yongzhou: Any,
                                             engine: Engine) -> None:
    user = make_user_committed(engine, role="county_plc_staff", division_code=LINGLING)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        response = page.goto(f"{live_server.url}/login")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click('[data-test="login-submit"]')
        _enter_code(page, user.username)  # a reveal holder: the second factor
        page.wait_for_url("**/grids")
        page.wait_for_selector(f'{MAP}[data-code="{LINGLING}"][data-status="ready"]:not([data-region-count="0"])')
        page.wait_for_timeout(500)
    except Exception as exc:  # name what the policy blocked, if that is why the console failed
        raise AssertionError(f"the console failed; CSP violations: {page.evaluate('window.__cspViolations')}, "
                             f"console: {console}") from exc
    else:
        violations = page.evaluate("window.__cspViolations")
    finally:
        context.close()
    refused = [text for text in console if "Content Security Policy" in text]
    assert violations == [] and refused == [], (violations, refused)
    # The realtime socket opened (connect-src allows it), without the token in its address.
    assert sockets and all("token=" not in url for url in sockets), sockets
