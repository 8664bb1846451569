"""The case officer on a phone (390×844, issue 15 §4): a station's case officer opens the centre's
pages they may use — the board, the cases and a case page, the case-handling area's room board,
the property ledger, the rule catalogue and the warnings — and none of them scrolls sideways
(neither the document nor the console's scrolling main area is wider than the screen)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from civicgrid.kit.clock import utcnow
from tests.conftest import LiveServer, Yongzhou
from tests.factories import make_org_unit_committed, make_user_committed
from tests.supervision.helpers import ev, ingester, send
from tests.web.conftest import ARTIFACTS
from tests.web.test_console import _log_in
from tests.web.test_phone import _no_sideways_scroll, phone  # noqa: F401 - the phone page fixture

pytestmark = pytest.mark.browser


def test_case_officer_pages_fit_a_phone(phone: Any, live_server: LiveServer,  # noqa: F811
                                        yongzhou: Yongzhou, engine: Engine) -> None:
    township = yongzhou.village_in("431125")[:9] + "000"  # a county no other browser test writes in
    unit = make_org_unit_committed(engine, division_code=township, name="手机测试派出所")
    now = utcnow()
    answer = send(engine, ingester(township), [
        ev("case.opened", now - timedelta(hours=14), case="PH1", kind="criminal", unit_id=unit,
           title="手机页面测试盗窃案（涉案人员较多、案件名称较长的一起案件）",
           persons=[{"id": "P1", "role": "suspect", "name": "钱七"}]),
        ev("measure.started", now - timedelta(hours=13), case="PH1", measure="S1", kind="summons", person="P1"),
        ev("person.entered", now - timedelta(hours=13), case="PH1", person="P1", area="BA", area_title="手机办案区",
           room="XW1", room_title="讯问室一", room_type="interview"),
        ev("property.moved", now - timedelta(hours=12), case="PH1", item="I1", action="seize",
           description="黑色智能手机一部（含充电器及保护壳）", measure="seized", value_fen=150000, to_holder="民警 刘"),
    ])
    assert answer.refused == 0, answer
    officer = make_user_committed(engine, role="case_officer", division_code=township)
    _log_in(phone, live_server.url, officer.username)
    phone.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(exist_ok=True)
    pages = {
        "/supervision": '[data-testid="count-yellow"]',
        "/supervision/cases": '[data-testid="case-list"] >> text=手机页面测试盗窃案',
        "/supervision/rooms": '[data-room="讯问室一"] [data-testid="occupant"]',
        "/supervision/property": '[data-testid="property-ledger"] >> text=黑色智能手机',
        "/supervision/rules": '[data-testid="rule-catalogue"] >> text=拘留后送看守所羁押',
        "/alerts": "text=传唤",
    }
    for path, ready in pages.items():
        phone.goto(f"{live_server.url}{path}")
        phone.wait_for_selector(ready, timeout=30_000)
        phone.wait_for_load_state("networkidle")
        _no_sideways_scroll(phone, path)
        phone.screenshot(path=str(ARTIFACTS / f"supervision-phone{path.replace('/', '-')}.png"), full_page=True)
    # The two lists are cards on a phone, not tables that scroll inside themselves.
    phone.goto(f"{live_server.url}/supervision/property")
    phone.click('[data-testid="property-ledger"] >> text=黑色智能手机')
    phone.wait_for_selector('[data-testid="custody-chain"] >> text=民警 刘')
    assert phone.locator('[data-testid="property-ledger"].el-table, [data-testid="property-ledger"] .el-table'
                         ).count() == 0
    _no_sideways_scroll(phone, "the custody chain")
    phone.goto(f"{live_server.url}/supervision/cases")
    phone.wait_for_selector('[data-testid="case-list"] >> text=手机页面测试盗窃案')
    assert phone.locator('[data-testid="case-list"].el-table, [data-testid="case-list"] .el-table').count() == 0
    phone.click('[data-testid="case-list"] >> text=手机页面测试盗窃案')
    phone.wait_for_selector('[data-testid="case-timeline"]')
    phone.wait_for_load_state("networkidle")
    _no_sideways_scroll(phone, "the case page")
    phone.screenshot(path=str(ARTIFACTS / "supervision-phone-case.png"), full_page=True)
