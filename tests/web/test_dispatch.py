"""Rapid response in two browsers (issue 12, acceptance): a county operator receives an incident
at the command desk and dispatches the recommended unit with one click; the unit's patrol officer,
on the phone page in a second browser context (390 px, the phone's position granted), receives
the order over the push connection, sees the direction and distance to the scene, acknowledges
and sets off; the console shows the ring countdown running and the unit en route, with the units
and the incident on its map."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_org_unit_committed, make_user_committed
from tests.response.conftest import make_unit, places_in
from tests.web.conftest import ARTIFACTS, TIMEOUT_MS
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser

COUNTY = "431126000000"  # 宁远县
PHONE = {"width": 390, "height": 844}
M_PER_DEG_LAT = 111_195.0


@pytest.fixture
def officer_phone(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN",
                                  permissions=["geolocation"])
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page, errors
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the phone page: {errors}"


def _seconds_left(text: str) -> int:
    found = re.search(r"剩余 (\d+) 秒", text)
    assert found is not None, f"no running countdown: {text!r}"
    return int(found.group(1))


def _fill_number(page: Any, test: str, value: float) -> None:
    field = page.locator(f'[data-test="{test}"] input')
    field.fill(f"{value:.6f}")
    field.press("Tab")


def test_operator_dispatches_the_recommended_unit_and_the_phone_acknowledges(
        page: Any, officer_phone: tuple[Any, list[str]], live_server: LiveServer, engine: Engine,
        yongzhou: Yongzhou) -> None:
    phone, _errors = officer_phone
    place = places_in(yongzhou, COUNTY[:6], None, 1, skip=3)[0]
    station = make_org_unit_committed(engine, division_code=COUNTY, name="宁远浏览器测试派出所", area=[place.grid])
    operator = make_user_committed(engine, role="command_operator", division_code=COUNTY)
    officer = make_user_committed(engine, role="patrol_officer", division_code=COUNTY,
                                  display_name="巡逻民警 欧阳明")
    other = make_user_committed(engine, role="patrol_officer", division_code=COUNTY)
    car = make_unit(engine, org_unit_id=station, unit_type="patrol_car", members=[officer.id],
                    call_sign="宁远快警-B1")
    foot = make_unit(engine, org_unit_id=station, unit_type="foot_patrol", members=[other.id],
                     call_sign="宁远步巡-B2")
    # The car 600 m north of the scene; the foot patrol 900 m south (slower: ranked second).
    car_at = {"lng": place.lng, "lat": place.lat + 600 / M_PER_DEG_LAT}
    for user, unit, point in ((officer, car, car_at),
                              (other, foot, {"lng": place.lng, "lat": place.lat - 900 / M_PER_DEG_LAT})):
        token = login(live_server.url, user.username)
        answer = httpx.post(f"{live_server.url}/api/v1/response/units/{unit}/positions",
                            headers=auth_headers(token), json={"points": [point]}, timeout=30)
        assert answer.status_code == 202, answer.text

    # The officer's phone, at the car: lands on the phone page, signed on, no order yet.
    phone.context.set_geolocation({"latitude": car_at["lat"], "longitude": car_at["lng"]})
    _log_in(phone, live_server.url, officer.username)
    phone.wait_for_url("**/dispatch/phone")
    phone.wait_for_selector('[data-test="my-unit"][data-status="available"]')
    assert "宁远快警-B1" in phone.inner_text('[data-test="my-unit"]')
    phone.wait_for_selector('[data-test="no-orders"]')

    # The operator receives the incident at the desk: the car is recommended first (by ETA).
    _log_in(page, live_server.url, operator.username)
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{live_server.url}/dispatch")
    page.wait_for_selector('[data-test="dispatch-map"][data-status="ready"]')
    _fill_number(page, "lng", place.lng)
    _fill_number(page, "lat", place.lat)
    page.fill('[data-test="summary"]', "浏览器验收：商铺门前有人打架")
    page.click('[data-test="create"]')
    page.wait_for_selector('[data-test="recommendations"] .el-table__row')
    first = page.locator('[data-test="recommendations"] .el-table__row').first.inner_text()
    assert "宁远快警-B1" in first, first
    page.wait_for_selector('[data-test="dispatch-best"]')
    page.click('[data-test="dispatch-best"]')
    page.wait_for_selector('[data-test="assignment-status"][data-status="ordered"]')
    assert "宁远快警-B1" in page.inner_text('[data-test="assignments"]')
    card = page.inner_text('[data-test="incident-place"]')
    assert "宁远县" in card and not re.search(r"\d{12,15}", card), card

    # The order reaches the phone over the push connection (no reload): direction and distance.
    order = phone.wait_for_selector('[data-test="order"][data-status="ordered"]')
    assert "浏览器验收" in order.inner_text()
    # The scene by its names (county, township, village, grid), never by its codes.
    scene = phone.inner_text('[data-test="order-place"]')
    assert "宁远县" in scene and not re.search(r"\d{12,15}", scene), scene
    phone.wait_for_function(
        "() => /南方.*（1[78][0-9]°），直线 [56][0-9]{2} m/.test("
        "document.querySelector('[data-test=\"direction\"]').innerText)")
    phone.click('[data-test="acknowledge"]')
    phone.wait_for_selector('[data-test="order"][data-status="acknowledged"]')
    phone.click('[data-test="depart"]')
    phone.wait_for_selector('[data-test="order"][data-status="en_route"]')
    widths = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the phone page scrolls sideways: {widths}"
    phone.screenshot(path=str(ARTIFACTS / "dispatch-phone.png"), full_page=True)

    # The console: the unit en route (pushed), the countdown running, units and incident on the map.
    page.wait_for_selector('[data-test="assignment-status"][data-status="en_route"]')
    countdown = '[data-test="countdown"]'
    before = page.inner_text(countdown)
    time.sleep(2.2)
    after = page.inner_text(countdown)
    assert _seconds_left(after) < _seconds_left(before), (before, after)
    page.wait_for_selector('[data-test="dispatch-map"]:not([data-units="0"]):not([data-incidents="0"])')
    page.screenshot(path=str(ARTIFACTS / "dispatch-console.png"), full_page=True)
