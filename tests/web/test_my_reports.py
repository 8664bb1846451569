"""The reporter's own reports on the phone page (issue 11 §5): the reporter rates a closed matter
(满意度 comes from the reporter, never the handler) and withdraws a fresh report (撤回). Same
rules as test_matters.py (Chromium via Playwright)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_user_committed
from tests.matters.conftest import place_in
from tests.web.test_console import _log_in
from tests.web.test_matters import PHONE, new_page  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


def test_the_reporter_rates_and_withdraws_on_the_phone(new_page: Callable[..., Any],  # noqa: F811
                                                       live_server: LiveServer, yongzhou: Yongzhou,
                                                       engine: Engine) -> None:
    spot = place_in(yongzhou, "431102", 17)
    volunteer = make_user_committed(engine, role="volunteer", division_code=spot.village)
    handler = make_user_committed(engine, role="village_officer", division_code=spot.village)
    colleague = make_user_committed(engine, role="village_officer", division_code=spot.village)
    url = live_server.url
    mine = auth_headers(login(url, volunteer.username))

    def report(title: str) -> str:
        created = httpx.post(f"{url}/api/v1/matters", headers=mine, timeout=30, json={
            "type_code": "SR01", "title": title, "lng": spot.lng, "lat": spot.lat, "channel": "volunteer"})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    closed_id = report(f"路灯不亮 {volunteer.username[-5:]}")
    steps = ((handler, "accept", {}), (handler, "dispatch", {}), (handler, "resolve", {"result": "已修"}),
             (colleague, "verify", {}), (handler, "close", {}))
    for who, action, extra in steps:
        answer = httpx.post(f"{url}/api/v1/matters/{closed_id}/transitions", timeout=30,
                            headers=auth_headers(login(url, who.username)), json={"action": action, **extra})
        assert answer.status_code == 200, (action, answer.text)
    fresh_id = report(f"井盖松动 {volunteer.username[-5:]}")

    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    _log_in(phone, url, volunteer.username)
    phone.wait_for_url("**/matters/report")
    rate = phone.wait_for_selector('[data-test="my-report"][data-status="closed"] [data-test="my-report-rate"]')
    rate.query_selector_all(".el-rate__item")[3].click()  # four stars
    phone.wait_for_selector('[data-test="my-report"][data-status="evaluated"]')
    phone.click('[data-test="my-report"][data-status="reported"] [data-test="my-report-withdraw"]')
    phone.wait_for_selector('[data-test="my-report"][data-status="cancelled"]')

    def read(matter_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{url}/api/v1/my-reports/{matter_id}", headers=mine, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    assert (read(closed_id)["status"], read(closed_id)["satisfaction"]) == ("evaluated", 4)
    assert read(fresh_id)["status"] == "cancelled"


def test_a_resident_rates_through_the_open311_link_on_a_phone(new_page: Callable[..., Any],  # noqa: F811
                                                              live_server: LiveServer, yongzhou: Yongzhou,
                                                              engine: Engine) -> None:
    """Issue 11 §5: a resident who reported through an Open311 app rates the closed matter on the
    page behind their link, without an account; the page shows no personal data."""
    from tests.matters.open311.test_open311 import make_client, post

    spot = place_in(yongzhou, "431102", 18)
    _, key = make_client(engine, spot.county)
    filed = post(live_server, key, service_code="SR01", lat=spot.lat, long=spot.lng, description="小区路灯不亮",
                 first_name="王", last_name="五", phone="13900139000")
    assert filed.status_code == 200, filed.text
    request = filed.json()[0]
    handler = make_user_committed(engine, role="village_officer", division_code=spot.village)
    colleague = make_user_committed(engine, role="village_officer", division_code=spot.village)
    url = live_server.url

    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    phone.goto(f"{url}{request['rating_url']}")
    phone.wait_for_selector('[data-test="resident-status"][data-status="reported"]')
    phone.wait_for_selector('[data-test="resident-waiting"]')
    for who, action, extra in ((handler, "accept", {}), (handler, "dispatch", {}),
                               (handler, "resolve", {"result": "路灯已修复"}), (colleague, "verify", {}),
                               (handler, "close", {})):
        answer = httpx.post(f"{url}/api/v1/matters/{request['service_request_id']}/transitions", timeout=30,
                            headers=auth_headers(login(url, who.username)), json={"action": action, **extra})
        assert answer.status_code == 200, (action, answer.text)
    phone.reload()
    phone.wait_for_selector('[data-test="resident-status"][data-status="closed"]')
    page_text = phone.inner_text('[data-test="resident-rating"]')
    assert "路灯已修复" in page_text and "13900139000" not in page_text and "王五" not in page_text
    rate = phone.wait_for_selector('[data-test="resident-rate"]')
    rate.query_selector_all(".el-rate__item")[3].click()  # four stars
    phone.fill('[data-test="resident-rate"] textarea[name="note"]', "修得及时")
    phone.click('[data-test="resident-submit"]')
    phone.wait_for_selector('[data-test="resident-rated"]')
    phone.wait_for_selector('[data-test="resident-status"][data-status="evaluated"]')
    widths = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the rating page scrolls sideways: {widths}"
    detail = httpx.get(f"{url}/api/v1/matters/{request['service_request_id']}", timeout=30,
                       headers=auth_headers(login(url, handler.username))).json()
    assert (detail["satisfaction"], detail["evaluation_note"]) == (4, "修得及时")
