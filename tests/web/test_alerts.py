"""预警中心 in a real browser: a county officer sees the open warnings counted by level, opens one,
reads its reasons and legal basis, and acknowledges it (issue 14 §3)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from civicgrid.alerts import service as alerts
from civicgrid.db import transaction
from civicgrid.kit.ids import new_id
from tests.factories import make_user_committed
from tests.web.conftest import ARTIFACTS
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser



def test_county_officer_acknowledges_a_warning(page: Any, live_server: Any, yongzhou: Any, engine: Engine) -> None:
    county = "431124000000"  # 道县: a county no other browser test writes warnings in
    village = yongzhou.village_in("431124")
    rule = alerts.Rule(f"test.browser_{new_id()[-6:]}", "重点人员失联预警", "person of concern out of contact",
                       "测试依据")
    with transaction(engine) as session:
        alert = alerts.raise_alert(session, rule=rule, level="red",
                                   reasons=[alerts.Reason("连续 48 小时未能联系", "no contact for 48 hours")],
                                   division_code=village, source_type="test", source_id=new_id())
        alert_id = alert.id
    user = make_user_committed(engine, role="county_plc_staff", division_code=county)
    _log_in(page, live_server.url, user.username)  # a reveal holder: password, then the TOTP code
    page.wait_for_url("**/grids")
    page.click("text=预警中心")
    page.wait_for_url("**/alerts")
    red = page.wait_for_selector('[data-test="alert-figures"] [data-level="red"]')
    assert int(red.inner_text()) >= 1
    page.click("text=重点人员失联预警")
    page.wait_for_selector(".el-drawer >> text=连续 48 小时未能联系")
    page.wait_for_selector(".el-drawer >> text=测试依据")
    page.click("button:has-text('确认收到')")
    page.wait_for_selector(".el-drawer >> text=处置中")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "alerts.png"))
    with transaction(engine, write=False) as session:
        from civicgrid.alerts.models import Alert

        assert session.get(Alert, alert_id).status == "acknowledged"  # type: ignore[union-attr]
