"""The web console in a real browser: Debian's Chromium driven by Playwright, against the live
server with the Yongzhou geography loaded.

Outside CI a missing Chromium or an unbuilt console (``make web``) skips with a message; in CI
(``CI=true``) both fail the run. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.factories import DEFAULT_PASSWORD, TOTP_SECRETS, auth_headers, make_user_committed, totp_code
from tests.web.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

LINGLING = "431102000000"  # 零陵区
CITY = "431100000000"  # 永州市
MAP = '[data-test="division-map"]'



def _children(engine: Engine, parent: str, level: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT code, name FROM divisions WHERE parent_code = :p AND level = :l ORDER BY code"),
            {"p": parent, "l": level},
        ).all()
    return [(str(code), str(name)) for code, name in rows]


def _log_in(page: Any, base_url: str, username: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click('[data-test="login-submit"]')
    if password == DEFAULT_PASSWORD:
        _enter_code(page, username)


def _enter_code(page: Any, username: str) -> None:
    """A factory user with an authenticator (holders of pii.reveal): the form asks for the code."""
    if username in TOTP_SECRETS:
        page.wait_for_selector('[data-test="totp-code"]')
        page.fill('[data-test="totp-code"]', totp_code(username))
        page.click('[data-test="login-submit"]')


def _wait_for_map(page: Any, code: str) -> int:
    """Wait until the map of ``code`` has rendered; return its drawn region count."""
    page.wait_for_selector(f'{MAP}[data-code="{code}"][data-status="ready"]:not([data-region-count="0"])')
    return int(page.get_attribute(MAP, "data-region-count"))


def _painted_pixels(page: Any) -> dict[str, int]:
    """Count the map canvas' painted pixels, and those in the region fill colour (#dce9f7)."""
    return page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector + ' canvas');
            const ctx = canvas.getContext('2d');
            const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
            let painted = 0, fill = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (data[i + 3] === 0) continue;
                painted++;
                const near = (value, target) => Math.abs(value - target) < 4;
                if (near(data[i], 0xdc) && near(data[i + 1], 0xe9) && near(data[i + 2], 0xf7)) fill++;
            }
            return { painted, fill, total: canvas.width * canvas.height };
        }""",
        MAP,
    )


def test_county_user_sees_only_their_county(browser: Any, page: Any, live_server: Any, yongzhou: Any,
                                            engine: Engine) -> None:
    townships = _children(engine, LINGLING, "township")
    assert townships, "the Yongzhou data should give 零陵区 its townships"
    user = make_user_committed(engine, role="county_plc_staff", division_code=LINGLING)

    # A wrong password shows the API's own message, in Chinese by default.
    _log_in(page, live_server.url, user.username, "Wrong#Pass2026")
    error = page.wait_for_selector('[data-test="login-error"]')
    assert "密码" in error.inner_text() or "用户名" in error.inner_text()

    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click('[data-test="login-submit"]')
    _enter_code(page, user.username)
    page.wait_for_url("**/grids")
    page.wait_for_selector('[data-test="platform-name"]:text-is("永州市域社会治理平台")')  # named by city.json
    assert page.inner_text('[data-test="user-division"]') == "零陵区"

    # The tree's one root is the user's county, expanded to its townships, and nothing else.
    tree = '[data-test="division-tree"]'
    page.wait_for_selector(f'{tree} .tree-node[data-level="township"]')
    roots = page.locator(f"{tree} > .el-tree-node")
    assert roots.count() == 1
    assert "零陵区" in roots.first.locator(".tree-node").first.inner_text()
    codes = page.eval_on_selector_all(f"{tree} .tree-node", "nodes => nodes.map(n => n.dataset.code)")
    assert codes[0] == LINGLING
    assert all(code.startswith("431102") for code in codes), codes
    shown_townships = page.eval_on_selector_all(
        f'{tree} .tree-node[data-level="township"]', "nodes => nodes.map(n => n.dataset.code)")
    assert sorted(shown_townships) == [code for code, _ in townships]
    other_counties = [name for code, name in _children(engine, CITY, "county") if code != LINGLING]
    tree_text = page.inner_text(tree)
    assert not [name for name in other_counties if name in tree_text]

    # The map draws one region per township, on a canvas that is really painted.
    assert _wait_for_map(page, LINGLING) == len(townships)
    pixels = _painted_pixels(page)
    assert pixels["painted"] > pixels["total"] * 0.05, pixels
    assert pixels["fill"] > pixels["total"] * 0.02, pixels
    page.wait_for_timeout(400)  # let the tree's expand animation finish before the picture
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-county.png"))

    # A tree click drills the map into that township; the breadcrumb leads back up.
    first_code, first_name = townships[0]
    villages = _children(engine, first_code, "village")
    page.click(f'{tree} .tree-node[data-code="{first_code}"]')
    assert _wait_for_map(page, first_code) == len(villages)
    crumbs = page.locator('[data-test="map-breadcrumb"] .el-breadcrumb__item')
    assert crumbs.count() == 2
    assert first_name in crumbs.nth(1).inner_text()
    page.click(f'[data-test="map-breadcrumb"] a[data-code="{LINGLING}"]')
    assert _wait_for_map(page, LINGLING) == len(townships)

    # Clicking a region on the canvas drills down to it.
    box = page.locator(MAP).bounding_box()
    for fx, fy in ((0.5, 0.5), (0.45, 0.4), (0.55, 0.6), (0.4, 0.55), (0.6, 0.45)):
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        page.wait_for_timeout(300)
        if page.get_attribute(MAP, "data-code") != LINGLING:
            break
    drilled = page.get_attribute(MAP, "data-code")
    assert drilled in {code for code, _ in townships}, drilled
    assert _wait_for_map(page, drilled) == len(_children(engine, drilled, "village"))

    # The dispute files page (built) lists the county's disputes.
    page.click('[data-test="nav"] .el-sub-menu__title:has-text("矛盾纠纷")')  # the module's sub-menu opens
    page.click('[data-test="nav"] [data-path="/disputes/files"]')
    page.wait_for_selector('text=矛盾纠纷档案')
    # A module not built yet says so, with no figures; the language switch turns labels English.
    page.click('[data-test="nav"] [data-module="dashboard"]')
    assert "建设中" in page.inner_text('[data-test="under-construction"]')
    page.click('[data-test="language-switch"] >> text=English')
    page.wait_for_selector('[data-test="logout"]:has-text("Sign out")')
    assert "under construction" in page.inner_text('[data-test="under-construction"]')
    # Names the API words (the role) follow too: requests now carry Accept-Language: en.
    page.wait_for_selector('[data-test="user-role"]:has-text("County political-legal commission staff")')

    page.click('[data-test="logout"]')
    page.wait_for_url("**/login")


def test_city_admin_sees_eleven_counties(browser: Any, page: Any, live_server: Any, yongzhou: Any,
                                         engine: Engine) -> None:
    user = make_user_committed(engine, role="admin", division_code=CITY)
    _log_in(page, live_server.url, user.username)
    page.wait_for_url("**/grids")
    # 2 districts, 1 county-level city and 8 counties have territory; the two statistical-only
    # units (开发区, 管理区) have none of their own and are not drawn.
    assert _wait_for_map(page, CITY) == 11
    pixels = _painted_pixels(page)
    assert pixels["fill"] > pixels["total"] * 0.02, pixels
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-city.png"))

    # A reload keeps the session (the token is in sessionStorage; the user is fetched again).
    page.reload()
    assert _wait_for_map(page, CITY) == 11
    assert page.inner_text('[data-test="user-division"]') == "永州市"

    # A token revoked behind the console's back: the next API call lands on the login page,
    # which brings the user back to where they were after signing in again.
    token = page.evaluate("() => sessionStorage.getItem('civicgrid.token')")
    assert httpx.post(f"{live_server.url}/api/v1/auth/logout", headers=auth_headers(token)).status_code < 300
    page.click(f'[data-test="division-tree"] .tree-node[data-code="{LINGLING}"]')
    page.wait_for_url("**/login?redirect=/grids")
    assert page.evaluate("() => sessionStorage.getItem('civicgrid.token')") is None
