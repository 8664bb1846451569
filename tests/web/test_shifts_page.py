"""The shifts page in a browser (issue 12 §1: units have members and shifts): a county commander
plans a shift for an off-duty unit, naming the member on duty by name; the list shows it planned
with the unit's station and the member's name (never a code), and cancelling takes it off."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer
from tests.factories import make_org_unit_committed, make_user_committed
from tests.response.conftest import make_unit
from tests.web.conftest import ARTIFACTS
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser

COUNTY = "431126000000"  # 宁远县


def test_a_commander_plans_and_cancels_a_shift_on_the_page(page: Any, live_server: LiveServer,
                                                           engine: Engine) -> None:
    station = make_org_unit_committed(engine, division_code=COUNTY, name="宁远班次测试派出所")
    commander = make_user_committed(engine, role="county_commander", division_code=COUNTY)
    officer = make_user_committed(engine, role="patrol_officer", division_code=COUNTY, display_name="巡逻民警 覃山")
    resting = make_user_committed(engine, role="patrol_officer", division_code=COUNTY, display_name="巡逻民警 雷雨")
    make_unit(engine, org_unit_id=station, unit_type="patrol_car", members=[officer.id, resting.id],
              call_sign="宁远班次-B1", sign_on=False)

    _log_in(page, live_server.url, commander.username)
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{live_server.url}/dispatch/shifts")
    row = page.locator('[data-test="unit-list"] .el-table__row', has_text="宁远班次-B1")
    row.wait_for()
    assert row.locator('[data-test="unit-status"]').get_attribute("data-status") == "off_duty"
    assert "宁远班次测试派出所" in row.inner_text() and "巡逻民警 覃山" in row.inner_text()

    page.click('[data-test="shift-unit"]')
    page.locator(".el-select-dropdown__item:visible", has_text="宁远班次-B1").click()
    page.click('[data-test="shift-members"]')
    page.locator(".el-select-dropdown__item:visible", has_text="巡逻民警 覃山").click()
    page.keyboard.press("Escape")
    page.fill('[data-test="shift-note"]', "夜班")
    page.click('[data-test="shift-add"]')
    page.wait_for_selector('[data-test="shift-added"]')
    shift = page.locator('[data-test="shift-list"] .el-table__row', has_text="宁远班次-B1")
    shift.wait_for()
    text = shift.inner_text()
    assert "巡逻民警 覃山" in text and "巡逻民警 雷雨" not in text and "夜班" in text, text
    assert shift.locator('[data-test="shift-state"]').get_attribute("data-state") == "planned"
    page.screenshot(path=str(ARTIFACTS / "dispatch-shifts.png"), full_page=True)

    shift.locator('[data-test="shift-cancel"]').click()
    page.locator('[data-test="shift-list"] .el-table__row', has_text="宁远班次-B1").wait_for(state="detached")
