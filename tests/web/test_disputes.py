"""The disputes console in a real browser, as the roles would use it (same rules as
test_console.py: outside CI a missing Chromium or unbuilt console skips, in CI it fails).

A grid worker registers a neighbour dispute on the phone page (390 px, the position from the
phone; a resident ID with a wrong check digit is refused in Chinese first); the village officer
routes it to the village mediation committee from the dispute's file page; the five-elders
mediator finds it on the workbench, accepts it, records a session (a photo attached through the
file store), drafts the written agreement,
records every signature and applies the seal — the dispute is settled at the village level, and
its early warning is withdrawn. The warning board draws the open warnings on the grid outlines;
a return visit and a court referral's extension are done from the file page.
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


def _heat_pixels(page: Any) -> int:
    """Pixels of the heat map's canvas in the warm end of the warning colours (red well above
    blue: the yellow-to-red ramp), which no outline or empty region is drawn in."""
    return int(
        page.evaluate(
            """() => {
            const canvas = document.querySelector('[data-test=heat-map] canvas');
            if (!canvas) return 0;
            const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
            let warm = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (data[i + 3] > 200 && data[i] > 180 && data[i] - data[i + 2] > 60) warm++;
            }
            return warm;
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

    # Settled: the many-people early warning raised at registration has been withdrawn with it.
    warned = httpx.get(
        f"{live_server.url}/api/v1/alerts",
        headers=auth_headers(token),
        params={"source_type": "dispute", "source_id": ours[0]["id"]},
    ).json()["items"]
    assert warned and all(w["status"] == "withdrawn" for w in warned if w["rule_code"].startswith("disputes.ew_"))


def _open_file(page: Any, url: str, dispute_id: str, status: str) -> None:
    page.goto(f"{url}/disputes/{dispute_id}")
    page.wait_for_selector(f'[data-test="dispute-file"][data-status="{status}"]')


def test_the_warning_board_draws_the_warnings_on_the_grid_outlines(
    new_page: Callable[..., Any], live_server: LiveServer, yongzhou: Yongzhou, engine: Engine
) -> None:
    """Open early warnings counted on the outlines one level down (county → townships → villages →
    grids), drilled down by the regions' buttons; the counts are the server's heat cells."""
    from tests.disputes.test_early_warning import citizen_id, person

    spot = place_in(yongzhou, "431127", 7)  # 蓝山县: no other test raises dispute warnings here
    officer = make_user_committed(engine, role="village_officer", division_code=spot.village)
    county = make_user_committed(engine, role="county_plc_staff", division_code="431127000000")
    headers = auth_headers(login(live_server.url, officer.username))
    ids = []
    for n in range(2):
        body = {
            "title": f"土地边界纠纷 {n}",
            "happened_on": "2026-12-01",
            "lng": spot.lng,
            "lat": spot.lat,
            "category": "land_forest",
            "source": "screening",
            "people_involved": 9,  # many people: a yellow warning each
            "parties": [person("applicant", citizen_id(n)), person("respondent", citizen_id(n + 10), "李四")],
        }
        created = httpx.post(f"{live_server.url}/api/v1/disputes", headers=headers, json=body)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    threat = {"action": "record_threat", "note": "扬言要毁掉对方庄稼"}
    recorded = httpx.post(f"{live_server.url}/api/v1/disputes/{ids[1]}/transitions", headers=headers, json=threat)
    assert recorded.status_code == 200, recorded.text
    heat = httpx.get(f"{live_server.url}/api/v1/dispute-warnings/heat", headers=headers).json()
    cell = next(c for c in heat if c["code"] == spot.grid)
    assert (cell["warnings"], cell["disputes"]) == (3, 2)

    page = new_page(viewport=DESKTOP)
    _log_in(page, live_server.url, county.username)
    page.wait_for_selector('[data-test="nav"]')
    page.goto(f"{live_server.url}/disputes/warnings")
    steps = [spot.township, spot.village, spot.grid]
    page.wait_for_selector('[data-test="heat-map"][data-code="431127000000"][data-status="ready"]')
    for here, child in zip(["431127000000", spot.township, spot.village], steps, strict=True):
        page.wait_for_selector(f'[data-test="heat-map"][data-code="{here}"][data-status="ready"]')
        assert int(page.get_attribute('[data-test="heat-map"]', "data-drawn") or 0) >= 1  # outlines drawn
        assert page.get_attribute('[data-test="heat-map"]', "data-counted") == "1"
        chip = page.wait_for_selector(f'[data-test="heat-region"][data-code="{child}"]')
        assert chip.inner_text().split()[-1] == "3"  # the three warnings, counted on the way down
        if child != spot.grid:
            chip.click()
    table = page.inner_text('[data-test="heat-table"]')
    assert cell["name"] in table
    page.wait_for_timeout(800)  # the map animates its colours in
    page.screenshot(path=str(ARTIFACTS / "disputes-warnings.png"), full_page=True)
    assert _heat_pixels(page) > 50  # the township's area in the heat colours


def test_a_return_visit_and_an_extension_from_the_file_page(
    new_page: Callable[..., Any], live_server: LiveServer, yongzhou: Yongzhou, engine: Engine
) -> None:
    """履行回访 (人民调解法 2010 Art. 31: the committee supervises performance) and 延期 (最高人民法院
    特邀调解规定 2016 Art. 27: a court referral's limit extended only with both parties' consent,
    before it ends) as a mediator does them on the dispute's file page."""
    from datetime import datetime

    from civicgrid.kit.clock import CHINA_TZ
    from tests.disputes.conftest import dispute_body

    spot = place_in(yongzhou, "431128", 22)
    village = make_org_unit_committed(
        engine, division_code=spot.village, type_code="village_mediation", name="村人民调解委员会"
    )
    centre = make_org_unit_committed(
        engine, division_code=spot.county, type_code="joint_mediation_centre", name="县矛盾纠纷多元化解中心"
    )
    officer = make_user_committed(engine, role="village_officer", division_code=spot.village)
    county = make_user_committed(engine, role="county_plc_staff", division_code=spot.county)
    village_headers = auth_headers(login(live_server.url, officer.username))
    county_headers = auth_headers(login(live_server.url, county.username))

    def post(headers: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = httpx.post(f"{live_server.url}/api/v1{path}", headers=headers, json=body)
        assert answer.status_code in (200, 201), answer.text
        return dict(answer.json())

    settled = post(village_headers, "/disputes", dispute_body(spot, unit_id=village))
    post(village_headers, f"/disputes/{settled['id']}/transitions", {"action": "accept"})
    post(
        village_headers,
        f"/disputes/{settled['id']}/transitions",
        {"action": "settle_oral", "note": "当场和解", "terms": "李四三日内疏通排水沟"},
    )
    receipt = datetime.now(CHINA_TZ).replace(microsecond=0)
    court = post(
        county_headers,
        "/disputes",
        dispute_body(
            spot,
            source="court",
            court_mode="entrusted_summary",
            court_receipt_at=receipt.isoformat(),
            category="contract",
            unit_id=centre,
        ),
    )
    post(county_headers, f"/disputes/{court['id']}/transitions", {"action": "accept"})

    # The return visit, by the village officer.
    page = new_page(viewport=DESKTOP)
    _log_in(page, live_server.url, officer.username)
    page.wait_for_selector('[data-test="nav"]')
    _open_file(page, live_server.url, settled["id"], "settled")
    page.click('[data-test="return-visit"]')
    page.wait_for_selector('[data-test="visit-dialog"]')
    page.click('[data-test="visit-dialog"] .el-select')
    page.locator(".el-select-dropdown__item:visible", has_text="部分履行").click()
    page.fill('[data-test="visit-dialog"] textarea[name=visit-note]', "回访：排水沟已疏通一半")
    page.click('[data-test="visit-save"]')
    visited = page.wait_for_selector('[data-test="agreement-visited"]').inner_text()
    assert "部分履行" in visited
    assert "回访：排水沟已疏通一半" in page.inner_text('[data-test="file-timeline"]')

    # The extension, by the county centre: refused without both parties' consent, then granted.
    desk = new_page(viewport=DESKTOP)
    _log_in(desk, live_server.url, county.username)
    desk.wait_for_selector('[data-test="nav"]')
    _open_file(desk, live_server.url, court["id"], "mediating")
    before = httpx.get(f"{live_server.url}/api/v1/disputes/{court['id']}", headers=county_headers).json()["due_at"]
    desk.click('[data-test="file-actions"] [data-action="extend_limit"]')
    desk.wait_for_selector('[data-test="action-dialog"]')
    desk.fill('[data-test="action-dialog"] input[name=days]', "5")
    desk.fill('[data-test="action-dialog"] textarea[name=note]', "双方当事人同意延长五日")
    desk.click('[data-test="action-confirm"]')
    refused = desk.wait_for_selector('[data-test="file-error"]').inner_text()
    assert "同意" in refused  # consent is required (Art. 27), said in Chinese first
    desk.click('[data-test="file-actions"] [data-action="extend_limit"]')
    desk.wait_for_selector('[data-test="action-dialog"]')
    desk.fill('[data-test="action-dialog"] input[name=days]', "5")
    desk.click('[data-test="action-consent"]')
    desk.fill('[data-test="action-dialog"] textarea[name=note]', "双方当事人同意延长五日")
    desk.click('[data-test="action-confirm"]')
    desk.wait_for_selector('[data-test="file-timeline"] >> text=延长期限')
    after = httpx.get(f"{live_server.url}/api/v1/disputes/{court['id']}", headers=county_headers).json()["due_at"]
    gained = datetime.fromisoformat(after) - datetime.fromisoformat(before)
    assert gained.days == 5


def test_the_figures_page_shows_the_four_in_place_with_security_prevention(
    new_page: Callable[..., Any], live_server: LiveServer, yongzhou: Yongzhou, engine: Engine
) -> None:
    """纠纷统计: the four "in place" (四个到位) on one page; security prevention counts the disputes
    received that were recorded as turned criminal (民转刑), here one of two (50.0%)."""
    from tests.disputes.conftest import dispute_body

    spot = place_in(yongzhou, "431181", 30)  # 祁阳市: a village no other test files disputes in
    officer = make_user_committed(engine, role="village_officer", division_code=spot.village)
    headers = auth_headers(login(live_server.url, officer.username))
    ids = []
    for _ in range(2):
        created = httpx.post(f"{live_server.url}/api/v1/disputes", headers=headers, json=dispute_body(spot))
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])

    page = new_page(viewport=DESKTOP)
    _log_in(page, live_server.url, officer.username)
    page.wait_for_selector('[data-test="nav"]')
    _open_file(page, live_server.url, ids[0], "registered")
    page.click('[data-test="file-actions"] [data-action="record_turned"]')
    page.wait_for_selector('[data-test="action-dialog"]')
    page.fill('[data-test="action-dialog"] textarea[name=note]', "一方持械伤人，公安机关已立案")
    page.click('[data-test="action-confirm"]')
    page.wait_for_selector('[data-test="file-turned"] >> text=民转刑')

    page.goto(f"{live_server.url}/disputes/figures")
    card = page.wait_for_selector('[data-test="in-place-security"]')
    page.wait_for_selector('[data-test="turned-rate"] >> text=50.0%')
    assert "民转刑 1 起" in card.inner_text()
    page.screenshot(path=str(ARTIFACTS / "disputes-figures.png"), full_page=True)
    for other in ("information", "resolved", "service"):
        assert page.is_visible(f'[data-test="in-place-{other}"]'), other
