"""The queue's filter bar in a real browser (issue 11 §3): a search over the server-side filters
finds a matter by its number, a filter saved under a name comes back after a reload (per user,
in the browser), and a row pushed into the open queue is highlighted. Same rules as
test_matters.py (Chromium via Playwright; a missing Chromium or unbuilt console skips outside CI)."""

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


def _report(live_server: LiveServer, token: str, lng: float, lat: float, title: str) -> dict[str, Any]:
    response = httpx.post(f"{live_server.url}/api/v1/matters", headers=auth_headers(token), timeout=30, json={
        "type_code": "SR01", "title": title, "description": "筛选测试", "lng": lng, "lat": lat,
        "channel": "grid_worker"})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _visible_ids(page: Any) -> set[str]:
    return set(page.eval_on_selector_all('[data-test="matter-row"]', "rows => rows.map(r => r.dataset.id)"))


def test_search_saved_filters_and_pushed_rows(new_page: Callable[..., Any], live_server: LiveServer,  # noqa: F811
                                              yongzhou: Yongzhou, engine: Engine) -> None:
    spot = place_in(yongzhou, "431102", 13)
    worker = make_user_committed(engine, role="grid_worker", division_code=spot.grid)
    officer = make_user_committed(engine, role="village_officer", division_code=spot.village)
    token = login(live_server.url, worker.username)
    first = _report(live_server, token, spot.lng, spot.lat, f"路灯不亮 {worker.username[-5:]}")
    second = _report(live_server, token, spot.lng, spot.lat, f"井盖破损 {worker.username[-5:]}")

    desk = new_page(viewport=DESKTOP)
    _log_in(desk, live_server.url, officer.username)
    desk.wait_for_url("**/grids")
    desk.goto(f"{live_server.url}/matters/queue")
    desk.wait_for_selector('[data-test="matter-queue"]:not([data-loads="0"])')
    assert {first["id"], second["id"]} <= _visible_ids(desk)

    # One search by number finds the one matter (the server filters, the page shows what it sends).
    desk.fill('[data-test="queue-search"]', first["number"])
    desk.press('[data-test="queue-search"]', "Enter")
    desk.wait_for_function(
        "(id) => [...document.querySelectorAll('[data-test=matter-row]')].map(r => r.dataset.id).join() === id",
        arg=first["id"])

    # Saved under a name, it comes back after a reload.
    desk.fill('[data-test="save-filter-name"]', "我存的筛选")
    desk.click('[data-test="save-filter"]')
    desk.reload()
    desk.wait_for_selector('[data-test="matter-queue"]:not([data-loads="0"])')
    assert second["id"] in _visible_ids(desk)  # a fresh page: no search
    desk.click('[data-test="saved-filters"]')
    desk.locator(".el-select-dropdown__item:visible", has_text="我存的筛选").first.click()
    desk.wait_for_function(
        "(id) => [...document.querySelectorAll('[data-test=matter-row]')].map(r => r.dataset.id).join() === id",
        arg=first["id"])
    assert desk.input_value('[data-test="queue-search"]') == first["number"]

    # Cleared, the queue is live: a new report arrives by push, highlighted.
    desk.fill('[data-test="queue-search"]', "")
    desk.press('[data-test="queue-search"]', "Enter")
    desk.wait_for_selector(f'[data-test="matter-row"][data-id="{second["id"]}"]')
    desk.wait_for_selector('[data-test="realtime-status"][data-live="true"]')
    third = _report(live_server, token, spot.lng, spot.lat, f"垃圾满溢 {worker.username[-5:]}")
    desk.wait_for_selector(f'tr.row-new [data-test="matter-row"][data-id="{third["id"]}"]')
    assert desk.locator(f'tr.row-new [data-test="matter-row"][data-id="{first["id"]}"]').count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    desk.screenshot(path=str(ARTIFACTS / "matters-queue-filters.png"), full_page=True)
