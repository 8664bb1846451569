"""The inbox bell in a real browser (Chromium via Playwright; outside CI a missing Chromium or
unbuilt console skips, in CI it fails): a village officer dispatches a matter over the API, the
grid worker's bell count goes up without a reload; they open the item, which opens the matter
and marks it read, and acknowledge it (确认收到)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_user_committed
from tests.matters.conftest import place_in
from tests.web.conftest import ARTIFACTS
from tests.web.test_console import _log_in
from tests.web.test_matters import DESKTOP, new_page  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


def test_dispatch_rings_the_bell_live_and_opening_marks_it_read(
        new_page: Callable[..., Any], live_server: LiveServer, yongzhou: Yongzhou, engine: Engine) -> None:  # noqa: F811
    spot = place_in(yongzhou, "431103", 2)
    worker = make_user_committed(engine, role="grid_worker", division_code=spot.grid)
    officer = make_user_committed(engine, role="village_officer", division_code=spot.village)
    ARTIFACTS.mkdir(exist_ok=True)

    page = new_page(viewport=DESKTOP)
    _log_in(page, live_server.url, worker.username)
    page.wait_for_url("**/grids")
    page.wait_for_selector('[data-test="realtime-status"][data-live="true"]')
    page.wait_for_selector('[data-test="inbox-count"][data-count="0"]')
    page.evaluate("() => { window.__sameDocument = true }")  # gone if the page reloads

    worker_token = login(live_server.url, worker.username)
    officer_headers = auth_headers(login(live_server.url, officer.username))
    created = httpx.post(f"{live_server.url}/api/v1/matters", headers=auth_headers(worker_token), json={
        "type_code": "SR01", "title": "路口垃圾待清运", "lng": spot.lng, "lat": spot.lat, "channel": "grid_worker"})
    assert created.status_code == 201, created.text
    matter = created.json()
    for action in ("accept", "dispatch"):
        done = httpx.post(f"{live_server.url}/api/v1/matters/{matter['id']}/transitions", headers=officer_headers,
                          json={"action": action, "note": "交网格员处理"})
        assert done.status_code == 200, done.text

    # The bell goes up by push, in the same document.
    page.wait_for_selector('[data-test="inbox-count"][data-count="1"]')
    assert page.evaluate("() => window.__sameDocument === true")
    page.click('[data-test="inbox-bell"]')
    item = page.wait_for_selector('[data-test="inbox-item"][data-read="false"]')
    assert item.inner_text().count("派单") == 1 and matter["number"] in item.inner_text()
    assert "确认收到" in item.inner_text()
    page.wait_for_timeout(400)  # the drawer's slide-in
    page.screenshot(path=str(ARTIFACTS / "inbox-bell.png"))

    # Opening it opens the matter and marks the item read, on the server too.
    page.click('[data-test="inbox-item-title"]')
    page.wait_for_url(f"**/matters/{matter['id']}")
    page.wait_for_selector('[data-test="inbox-count"][data-count="0"]')
    listed = httpx.get(f"{live_server.url}/api/v1/inbox", headers=auth_headers(worker_token)).json()
    assert listed["unread"] == 0 and listed["pending_ack"] == 1
    assert listed["items"][0]["read_at"] is not None

    page.click('[data-test="inbox-bell"]')
    page.click('[data-test="inbox-ack"]')
    page.wait_for_selector('[data-test="inbox-item"] >> text=已确认')
    listed = httpx.get(f"{live_server.url}/api/v1/inbox/count", headers=auth_headers(worker_token)).json()
    assert listed == {"unread": 0, "pending_ack": 0}


def test_a_supervision_order_rings_the_owning_officers_bell_on_an_unrelated_page(
        new_page: Callable[..., Any], live_server: LiveServer, yongzhou: Yongzhou, engine: Engine) -> None:  # noqa: F811
    """Issue 11 acceptance: a supervision order (督办) on a matter makes the bell of the owning
    unit's officer count up on an unrelated page, without a reload."""
    spot = place_in(yongzhou, "431103", 3)
    worker = make_user_committed(engine, role="grid_worker", division_code=spot.grid)
    officer = make_user_committed(engine, role="village_officer", division_code=spot.village)
    county = make_user_committed(engine, role="county_plc_staff", division_code=spot.county)
    created = httpx.post(f"{live_server.url}/api/v1/matters",
                         headers=auth_headers(login(live_server.url, worker.username)),
                         json={"type_code": "SR01", "title": "积水路段", "lng": spot.lng, "lat": spot.lat,
                               "channel": "grid_worker"})
    assert created.status_code == 201, created.text
    matter = created.json()

    page = new_page(viewport=DESKTOP)
    _log_in(page, live_server.url, officer.username)
    page.wait_for_url("**/grids")  # the map of the officer's grids: nothing to do with the matter
    page.wait_for_selector('[data-test="realtime-status"][data-live="true"]')
    before = int(page.wait_for_selector('[data-test="inbox-count"]').get_attribute("data-count") or "0")
    page.evaluate("() => { window.__sameDocument = true }")
    ordered = httpx.post(f"{live_server.url}/api/v1/matters/{matter['id']}/transitions",
                         headers=auth_headers(login(live_server.url, county.username)),
                         json={"action": "supervise", "note": "请尽快处置积水", "days": 2})
    assert ordered.status_code == 200, ordered.text
    page.wait_for_selector(f'[data-test="inbox-count"][data-count="{before + 1}"]')
    assert page.evaluate("() => window.__sameDocument === true")
    page.click('[data-test="inbox-bell"]')
    item = page.wait_for_selector('[data-test="inbox-item"][data-read="false"] >> text=督办')
    assert matter["number"] in item.inner_text()
