"""The console on a phone (390×844): the layout follows the screen width (issue 11 §1).

A village officer works a matter from the queue to its close without a desktop — the queue as
cards, the matter page with its actions, each action's dialog — then opens the other pages of the
menu from the drawer and signs out there. No page may scroll sideways: neither the document nor
the console's scrolling main area is wider than the screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_user_committed
from tests.matters.conftest import place_in
from tests.matters.test_intake import png
from tests.web.conftest import ARTIFACTS, TIMEOUT_MS
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


def _no_sideways_scroll(page: Any, where: str) -> None:
    widths = page.evaluate("""() => {
        const main = document.querySelector('.main');
        return {
            doc: document.documentElement.scrollWidth, inner: window.innerWidth,
            main: main ? main.scrollWidth : 0, mainClient: main ? main.clientWidth : 0,
        };
    }""")
    assert widths["doc"] <= widths["inner"], f"{where} scrolls sideways: {widths}"
    assert widths["main"] <= widths["mainClient"], f"{where}: the main area scrolls sideways: {widths}"


def _phone_of(browser: Any) -> tuple[Any, list[str]]:
    """A second phone (the grid worker's), beside the officer's, and its JavaScript errors."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


ONE_CLICK = ("accept", "start", "close")  # no input: committed at once, with a 撤回 (issue 11 §5)


def _act(page: Any, action: str, status: str, **fields: str) -> None:
    page.click(f'[data-test="matter-actions"] [data-action="{action}"]')
    if action in ONE_CLICK:
        page.wait_for_selector(f'[data-test="matter-status"][data-status="{status}"]')
        assert page.locator('[data-test="action-form"]').count() == 0
        page.wait_for_selector('[data-test="matter-actions"] [data-action="undo"]')
        _no_sideways_scroll(page, f"the matter page after {action}")
        return
    page.wait_for_selector(f'[data-test="action-form"][data-action="{action}"]')
    for name, value in fields.items():
        page.fill(f'[data-test="action-form"] textarea[name="{name}"]', value)
    page.click('[data-test="action-submit"]')
    page.wait_for_selector(f'[data-test="matter-status"][data-status="{status}"]')
    _no_sideways_scroll(page, f"the matter page after {action}")


def test_village_officer_works_a_matter_to_its_close_on_a_phone(
    phone: Any, browser: Any, live_server: LiveServer, yongzhou: Yongzhou, engine: Engine
) -> None:
    """Issue 11 acceptance, phone size: a grid worker reports, a village officer accepts and handles
    on the phone, the grid worker verifies on site with a photo (GB/T 30428: the handler may not),
    the reporter rates it; no page scrolls sideways."""
    spot = place_in(yongzhou, "431102", 1)
    worker = make_user_committed(engine, role="grid_worker", division_code=spot.grid, display_name="网格员 蒋小燕")
    officer = make_user_committed(
        engine, role="village_officer", division_code=spot.village, display_name="社区书记 黄丽"
    )
    title = f"楼道堆放杂物 {worker.username[-6:]}"
    created = httpx.post(
        f"{live_server.url}/api/v1/matters",
        headers=auth_headers(login(live_server.url, worker.username)),
        json={
            "type_code": "SR01",
            "title": title,
            "description": "楼道堆放杂物",
            "lng": spot.lng,
            "lat": spot.lat,
            "channel": "grid_worker",
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    matter_id = created.json()["id"]
    ARTIFACTS.mkdir(exist_ok=True)

    # Signed in on a phone, the officer lands on the queue: cards, not a table.
    _log_in(phone, live_server.url, officer.username)
    phone.wait_for_url("**/matters/queue")
    card = phone.wait_for_selector(f'[data-test="matter-card"][data-id="{matter_id}"]')
    assert title in card.inner_text()
    assert phone.locator(".el-table").count() == 0
    _no_sideways_scroll(phone, "the queue")
    phone.screenshot(path=str(ARTIFACTS / "phone-queue.png"), full_page=True)

    # The matter page, with its actions; every step on the phone.
    card.click()
    phone.wait_for_url(f"**/matters/{matter_id}")
    phone.wait_for_selector('[data-test="matter-status"][data-status="reported"]')
    _no_sideways_scroll(phone, "the matter page")
    assert "社区书记" not in phone.inner_text('[data-test="matter-timeline"]')
    assert "网格员 蒋小燕" in phone.inner_text('[data-test="matter-timeline"]')  # a name, not a login
    _act(phone, "accept", "accepted")
    _act(phone, "dispatch", "dispatched", note="交保洁员清理")
    _act(phone, "start", "handling")
    _act(phone, "resolve", "handled", result="杂物已清理，楼道畅通")
    # Whoever handled it may not verify it (GB/T 30428): no verify button for the officer; the
    # page names the grid's worker as the verifier, who verifies on site, on their own phone, with
    # a photo; the officer closes it.
    assert phone.locator('[data-test="matter-actions"] [data-action="verify"]').count() == 0
    verifier = phone.wait_for_selector('[data-test="matter-verifier"][data-kind="grid_worker"]')
    assert "网格员 蒋小燕" in verifier.inner_text()
    worker_phone, worker_errors = _phone_of(browser)
    try:
        _log_in(worker_phone, live_server.url, worker.username)
        worker_phone.wait_for_url("**/matters/report")  # a grid worker starts on the report page
        worker_phone.goto(f"{live_server.url}/matters/queue")
        worker_phone.wait_for_selector(f'[data-test="matter-card"][data-id="{matter_id}"]').click()
        worker_phone.wait_for_selector('[data-test="matter-status"][data-status="handled"]')
        worker_phone.click('[data-test="matter-actions"] [data-action="verify"]')
        worker_phone.wait_for_selector('[data-test="action-form"][data-action="verify"]')
        worker_phone.set_input_files('[data-test="action-form"] input[name="verify-photo"]',
                                     files=[{"name": "site.png", "mimeType": "image/png", "buffer": png()}])
        worker_phone.fill('[data-test="action-form"] textarea[name="note"]', "现场查看，楼道已畅通")
        worker_phone.click('[data-test="action-submit"]')
        worker_phone.wait_for_selector('[data-test="matter-status"][data-status="verified"]')
        _no_sideways_scroll(worker_phone, "the grid worker's matter page")
        phone.reload()
        phone.wait_for_selector('[data-test="matter-status"][data-status="verified"]')
        _act(phone, "close", "closed")
        assert "社区书记 黄丽" in phone.inner_text('[data-test="matter-timeline"]')
        # The reporter (the grid worker) rates it from their reports; nobody else types it in.
        worker_phone.goto(f"{live_server.url}/matters/report")
        rate = worker_phone.wait_for_selector(
            '[data-test="my-report"][data-status="closed"] [data-test="my-report-rate"]')
        rate.query_selector_all(".el-rate__item")[4].click()  # five stars
        worker_phone.wait_for_selector('[data-test="my-report"][data-status="evaluated"]')
        _no_sideways_scroll(worker_phone, "the grid worker's report page")
    finally:
        worker_phone.context.close()
    assert not worker_errors, f"JavaScript errors on the grid worker's phone: {worker_errors}"
    phone.screenshot(path=str(ARTIFACTS / "phone-matter-closed.png"), full_page=True)
    token = login(live_server.url, officer.username)
    closed = httpx.get(f"{live_server.url}/api/v1/matters/{matter_id}", headers=auth_headers(token)).json()
    assert (closed["status"], closed["settled_level"], closed["satisfaction"]) == ("evaluated", "village", 5)
    verify = next(e for e in closed["timeline"] if e["action"] == "verify")
    assert verify["actor_name"] == worker.username and [p["stage"] for p in closed["photos"]] == ["verify"]

    # Every page of the menu through the drawer; none scrolls sideways.
    phone.click('[data-test="phone-menu"]')
    drawer = phone.wait_for_selector('[data-test="phone-drawer"]')
    assert "社区书记 黄丽" in drawer.inner_text()
    paths = phone.eval_on_selector_all(
        '[data-test="phone-drawer"] [data-path]', "items => items.map(i => i.dataset.path)"
    )
    assert "/matters/queue" in paths and "/grids" in paths
    phone.keyboard.press("Escape")
    for path in paths:
        phone.goto(f"{live_server.url}{path}")
        phone.wait_for_selector('[data-test="phone-menu"], [data-test="report-mobile"], [data-test="dispute-intake"]')
        phone.wait_for_load_state("networkidle")
        phone.wait_for_timeout(300)
        _no_sideways_scroll(phone, path)
        phone.screenshot(path=str(ARTIFACTS / f"phone{path.replace('/', '-')}.png"))

    # The language switch and the logout live in the drawer.
    phone.goto(f"{live_server.url}/matters/queue")
    phone.click('[data-test="phone-menu"]')
    phone.click('[data-test="phone-drawer"] [data-test="language-switch"] >> text=English')
    phone.wait_for_selector('[data-test="phone-drawer"] [data-test="logout"]:has-text("Sign out")')
    phone.click('[data-test="phone-drawer"] [data-test="logout"]')
    phone.wait_for_url("**/login")


def test_an_on_the_spot_settlement_goes_to_the_village_officer_on_the_phone(
    phone: Any, browser: Any, live_server: LiveServer, yongzhou: Yongzhou, engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11 acceptance, phone size (GB/T 30428 as §5 reads it): a grid worker settles a matter on
    the spot (就地办结) with a result photo on the phone; the village officer, named as its verifier,
    verifies it on theirs; the worker who settled it may not."""
    from civicgrid.matters import service

    monkeypatch.setenv("CIVICGRID_MATTER_SPOT_CHECK_SHARE", "0")  # no spot check drawn
    service.settings.cache_clear()
    # A grid no other test staffs: another grid worker of the same grid would be the default
    # verifier (the worker who settled it may not), and the tests share one database.
    spot = place_in(yongzhou, "431102", 29)
    worker = make_user_committed(engine, role="grid_worker", division_code=spot.grid)
    officer = make_user_committed(engine, role="village_officer", division_code=spot.village,
                                  display_name="社区书记 黄丽")
    created = httpx.post(f"{live_server.url}/api/v1/matters", timeout=30,
                         headers=auth_headers(login(live_server.url, worker.username)),
                         json={"type_code": "SR01", "title": f"楼道杂物 {worker.username[-5:]}", "lng": spot.lng,
                               "lat": spot.lat, "channel": "grid_worker"})
    assert created.status_code == 201, created.text
    matter_id = created.json()["id"]

    worker_phone, worker_errors = _phone_of(browser)
    try:
        _log_in(worker_phone, live_server.url, worker.username)
        worker_phone.wait_for_url("**/matters/report")
        worker_phone.goto(f"{live_server.url}/matters/{matter_id}")
        worker_phone.wait_for_selector('[data-test="matter-status"][data-status="reported"]')
        worker_phone.click('[data-test="matter-actions"] [data-action="settle_on_spot"]')
        worker_phone.wait_for_selector('[data-test="action-form"][data-action="settle_on_spot"]')
        worker_phone.fill('[data-test="action-form"] textarea[name="result"]', "杂物已当场清走")
        worker_phone.set_input_files('[data-test="action-form"] input[type=file]',
                                     files=[{"name": "done.png", "mimeType": "image/png", "buffer": png()}])
        worker_phone.click('[data-test="action-submit"]')
        worker_phone.wait_for_selector('[data-test="matter-status"][data-status="handled"]')
        verifier = worker_phone.wait_for_selector('[data-test="matter-verifier"][data-kind="owner"]')
        assert "社区书记 黄丽" in verifier.inner_text()
        assert worker_phone.locator('[data-test="matter-actions"] [data-action="verify"]').count() == 0
        _no_sideways_scroll(worker_phone, "the grid worker's settled matter")
    finally:
        worker_phone.context.close()
        service.settings.cache_clear()
    assert not worker_errors, f"JavaScript errors on the grid worker's phone: {worker_errors}"

    _log_in(phone, live_server.url, officer.username)
    phone.wait_for_url("**/matters/queue")
    phone.goto(f"{live_server.url}/matters/{matter_id}")
    phone.wait_for_selector('[data-test="matter-status"][data-status="handled"]')
    _act(phone, "verify", "verified", note="现场查看属实")
    detail = httpx.get(f"{live_server.url}/api/v1/matters/{matter_id}", timeout=30,
                       headers=auth_headers(login(live_server.url, officer.username))).json()
    assert (detail["on_spot"], detail["spot_check"]) == (True, False)
    assert next(e for e in detail["timeline"] if e["action"] == "verify")["actor_name"] == officer.username
