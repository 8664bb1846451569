"""Personal data in the console (Chromium via Playwright; same rules as test_console.py): the
matter page shows the reporter masked; 打印 asks for the purpose and opens the report sheet with
the reporter in clear under the viewer's watermark, on screen and in print media."""

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


def test_print_asks_the_purpose_and_opens_the_watermarked_sheet(new_page: Callable[..., Any],  # noqa: F811
                                                                live_server: LiveServer, yongzhou: Yongzhou,
                                                                engine: Engine) -> None:
    spot = place_in(yongzhou, "431102")
    worker = make_user_committed(engine, role="grid_worker", division_code=spot.grid)
    created = httpx.post(f"{live_server.url}/api/v1/matters", headers=auth_headers(login(live_server.url,
                                                                                         worker.username)),
                         json={"type_code": "SR01", "title": "热线：垃圾未清运", "lng": spot.lng, "lat": spot.lat,
                               "channel": "hotline", "reporter_name": "周桂兰", "reporter_phone": "13907461234"})
    assert created.status_code == 201, created.text
    matter = created.json()
    staff = make_user_committed(engine, role="county_plc_staff", division_code="431102000000")  # holds pii.reveal

    page = new_page(viewport=DESKTOP)
    _log_in(page, live_server.url, staff.username)
    page.wait_for_url("**/grids")
    page.goto(f"{live_server.url}/matters/{matter['id']}")
    page.wait_for_selector('[data-test="matter-number"]')
    assert page.inner_text('[data-test="reporter-phone"]') == "139****1234"
    assert page.inner_text('[data-test="reporter-name"]') == "周**"

    page.click('[data-test="matter-print"]')
    box = page.wait_for_selector(".purpose-box")
    box.wait_for_element_state("visible")
    page.click(".purpose-box .el-button--primary")  # no purpose: refused in the dialog
    page.wait_for_selector(".purpose-box .el-message-box__errormsg")
    page.fill(".purpose-box input", "归档备查")
    with page.context.expect_page() as opened:
        page.click(".purpose-box .el-button--primary")
    sheet = opened.value
    sheet.wait_for_selector(".watermark span")
    assert "事项登记表" in sheet.inner_text("h1")
    text = sheet.inner_text("main")
    assert "周桂兰" in text and "13907461234" in text and matter["number"] in text
    mark = sheet.get_attribute(".watermark", "data-watermark") or ""
    assert staff.username in mark
    sheet.emulate_media(media="print")
    assert sheet.locator(".watermark span").first.is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    sheet.screenshot(path=str(ARTIFACTS / "matters-report-sheet-print.png"), full_page=True)
