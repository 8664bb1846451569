"""The disputes console in a real browser, as the roles would use it (same rules as
test_console.py: outside CI a missing Chromium or unbuilt console skips, in CI it fails).

A grid worker registers a neighbour dispute on the phone page (390 px, the position from the
phone; a resident ID with a wrong check digit is refused in Chinese first); the village officer
routes it to the village mediation committee from the dispute's file page; the five-elders
mediator finds it on the workbench, accepts it, records a session (a photo attached through the
file store), drafts the written agreement,
records every signature and applies the seal — the dispute is settled at the village level. The
warning board draws the heat map.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.disputes.conftest import VALID_ID, WRONG_ID
from tests.factories import auth_headers, login, make_org_unit_committed, make_user_committed
from tests.matters.conftest import place_in
from tests.matters.test_intake import png
from tests.web.conftest import ARTIFACTS, TIMEOUT_MS
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Pages in separate browser contexts (separate people); no JavaScript error allowed."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(**options: Any) -> Any:
        context = browser.new_context(locale="zh-CN", **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


def _yellow_pixels(page: Any) -> int:
    """Pixels of the yellow level's colour (#f1c40f) on the heat map's canvas."""
    return int(
        page.evaluate(
            """() => {
            const canvas = document.querySelector('[data-test=heat-map] canvas');
            if (!canvas) return 0;
            const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
            const near = (value, target) => Math.abs(value - target) < 16;
            let yellow = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (near(data[i], 0xf1) && near(data[i + 1], 0xc4) && near(data[i + 2], 0x0f)) yellow++;
            }
            return yellow;
        }"""
        )
    )


def _act(page: Any, action: str, status: str, note: str | None = None) -> None:
    page.click(f'[data-test="file-actions"] [data-action="{action}"]')
    page.wait_for_selector('[data-test="action-dialog"]')
    if note:
        page.fill('[data-test="action-dialog"] textarea[name=note]', note)
    page.click('[data-test="action-confirm"]')
    page.wait_for_selector(f'[data-test="dispute-file"][data-status="{status}"]')


def test_intake_on_the_phone_then_mediation_to_an_effective_agreement(
    new_page: Callable[..., Any], live_server: LiveServer, yongzhou: Yongzhou, engine: Engine
) -> None:
    spot = place_in(yongzhou, "431128", 20)
    committee = make_org_unit_committed(
        engine, division_code=spot.village, type_code="village_mediation", name="村人民调解委员会"
    )
    worker = make_user_committed(engine, role="grid_worker", division_code=spot.grid)
    officer = make_user_committed(engine, role="village_officer", division_code=spot.village)
    elder = make_user_committed(engine, role="elder_mediator", division_code=spot.village)
    ARTIFACTS.mkdir(exist_ok=True)
    title = f"邻里排水沟纠纷 {worker.username[-6:]}"

    # The grid worker, on a phone with the position allowed.
    phone = new_page(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        permissions=["geolocation"],
        geolocation={"longitude": spot.lng, "latitude": spot.lat},
    )
    _log_in(phone, live_server.url, worker.username)
    phone.wait_for_url("**/matters/report")
    phone.goto(f"{live_server.url}/disputes/intake")
    phone.wait_for_selector('[data-test="intake-form"]')
    phone.fill("input[name=title]", title)
    phone.click('[data-test="intake-category"]')
    phone.locator(".dispute-category-popper .el-select-dropdown__item", has_text="邻里纠纷").first.click()
    phone.fill("textarea[name=summary]", "两户因院墙排水沟发生争执，一方堵沟")
    phone.fill("input[name=people]", "6")  # many people: the early warning speaks up
    phone.click('[data-test="intake-locate"]')
    phone.wait_for_selector('[data-test="intake-point"]')
    phone.fill("input[name=party-0-name]", "张三")
    phone.fill("input[name=party-0-id]", WRONG_ID)
    phone.fill("input[name=party-1-name]", "李四")
    phone.fill("input[name=party-1-id]", VALID_ID)
    box = phone.locator('[data-test="intake-submit"]').bounding_box()
    assert box["height"] >= 44 and box["width"] >= PHONE["width"] * 0.75, box
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the intake page scrolls sideways: {width}px"
    phone.click('[data-test="intake-submit"]')
    refused = phone.wait_for_selector('[data-test="intake-error"]')
    assert "校验" in refused.inner_text()  # GB 11643 check character, in Chinese first
    phone.fill("input[name=party-0-id]", "431128198810131854")  # the right check character
    phone.screenshot(path=str(ARTIFACTS / "disputes-intake-phone.png"), full_page=True)
    phone.click('[data-test="intake-submit"]')
    number = phone.wait_for_selector('[data-test="intake-number"]').inner_text().strip()
    assert number.startswith("JF")

    # The village officer routes it from the file page to the village committee.
    desk = new_page(viewport=DESKTOP)
    _log_in(desk, live_server.url, officer.username)
    desk.wait_for_selector('[data-test="nav"]')
    desk.goto(f"{live_server.url}/disputes/files")
    desk.locator('[data-test="dispute-list"] .el-table__row', has_text=number).click()
    desk.wait_for_selector('[data-test="dispute-file"][data-status="registered"]')
    assert "张*" in desk.inner_text('[data-test="dispute-file"]')  # parties masked
    desk.click('[data-test="file-actions"] [data-action="route"]')
    desk.wait_for_selector('[data-test="action-dialog"]')
    desk.wait_for_selector('[data-test="action-unit"]:has-text("村人民调解委员会")')  # the lowest level first
    desk.click('[data-test="action-confirm"]')
    desk.wait_for_selector('[data-test="dispute-file"][data-status="routed"]')

    # The five-elders mediator finds it on the workbench and mediates it to an effective agreement.
    mediator = new_page(viewport=DESKTOP)
    _log_in(mediator, live_server.url, elder.username)
    mediator.wait_for_selector('[data-test="nav"]')
    mediator.goto(f"{live_server.url}/disputes/workbench")
    mediator.locator('[data-test="workbench-files"] .el-table__row', has_text=number).click()
    mediator.wait_for_selector('[data-test="dispute-file"][data-status="routed"]')
    _act(mediator, "accept", "mediating")
    mediator.click('[data-test="new-session"]')
    mediator.fill("input[name=participants]", "张三、李四、调解员")
    mediator.fill("textarea[name=session-notes]", "双方同意疏通排水沟")
    mediator.click('[data-test="session-save"]')
    mediator.wait_for_selector('[data-test="file-session"]')
    # A photo of the scene attached to the session goes to the file store.
    mediator.set_input_files(
        '[data-test="attach-input"]', files=[{"name": "scene.png", "mimeType": "image/png", "buffer": png()}]
    )
    assert "scene.png" in mediator.wait_for_selector('[data-test="attachment"]').inner_text()
    mediator.click('[data-test="draft-agreement"]')
    mediator.fill("textarea[name=facts]", "两户排水沟堵塞")
    mediator.fill("input[name=issues]", "排水沟疏通")
    mediator.fill("textarea[name=agreement-terms]", "李四三日内疏通排水沟，张三承担一半费用")
    mediator.fill("input[name=performance]", "双方现场确认")
    mediator.click('[data-test="agreement-save"]')
    mediator.wait_for_selector('[data-test="file-agreement"][data-status="drafted"]')
    for left in (1, 0):  # each party's signature, one at a time
        mediator.locator('[data-test="sign-party"]').first.click()
        mediator.wait_for_function("n => document.querySelectorAll('[data-test=sign-party]').length === n", arg=left)
    mediator.click('[data-test="sign-mediator"]')
    mediator.wait_for_selector('[data-test="sign-mediator"]', state="detached")
    mediator.click('[data-test="seal"]')
    mediator.wait_for_selector('[data-test="dispute-file"][data-status="settled"]')
    mediator.wait_for_selector('[data-test="agreement-effective"]')
    assert "村（社区）级" in mediator.inner_text('[data-test="file-settled-level"]')
    timeline = mediator.inner_text('[data-test="file-timeline"]')
    for step in ("登记", "分流", "受理", "制作协议书", "盖章生效", "书面协议结案"):
        assert step in timeline, step
    mediator.screenshot(path=str(ARTIFACTS / "disputes-file-settled.png"), full_page=True)

    token = login(live_server.url, officer.username)
    found = httpx.get(
        f"{live_server.url}/api/v1/disputes", headers=auth_headers(token), params={"status": "settled", "limit": 200}
    ).json()["items"]
    ours = [d for d in found if d["number"] == number]
    assert len(ours) == 1 and ours[0]["settled_level"] == "village" and ours[0]["handler_unit_id"] == committee

    # The warning board: the many-people warning raised at registration, on the heat map by grid.
    desk.goto(f"{live_server.url}/disputes/warnings")
    desk.wait_for_selector('[data-test="heat-map"]:not([data-cells="0"])')
    # The list loads apart from the map: wait for the row rather than read an empty list.
    desk.wait_for_selector('[data-test="warning-list"] >> text=涉及人数多或金额大')
    assert "涉及 6 人" in desk.inner_text('[data-test="warning-list"]')
    desk.wait_for_timeout(1500)  # the chart animates its circles in
    desk.screenshot(path=str(ARTIFACTS / "disputes-warnings.png"), full_page=True)
    assert _yellow_pixels(desk) > 50  # the grid's circle, in the colour of its gravest warning
