"""The 12345 desk finds the place (issue 11 §2): the operator types what the caller says, the
gazetteer lists every match with its chain, the chosen place puts the pin, and a pin that
disagrees with the typed address blocks filing until the operator confirms."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_user_committed
from tests.web.conftest import ARTIFACTS
from tests.web.test_console import _log_in
from tests.web.test_matters import new_page  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def _desk(new_page: Callable[..., Any], live_server: LiveServer, engine: Engine) -> Any:  # noqa: F811
    operator = make_user_committed(engine, role="hotline_operator", division_code="431100000000")
    page = new_page(viewport={"width": 1440, "height": 900})
    _log_in(page, live_server.url, operator.username)
    page.wait_for_url("**/grids")
    page.goto(f"{live_server.url}/matters/hotline")
    page.wait_for_selector('[data-test="hotline"]')
    page.click('.el-select')  # the first matter type of the catalogue
    page.click('.el-select-dropdown__item >> nth=0')
    page.fill("input[name=title]", "楼道堆放杂物")
    return page, operator


def test_typed_address_finds_the_community_and_files_it_there(new_page: Callable[..., Any],  # noqa: F811
                                                              live_server: LiveServer, engine: Engine,
                                                              yongzhou: Yongzhou) -> None:
    page, operator = _desk(new_page, live_server, engine)
    page.fill('input[name=address]', "朝阳街道东岳宫社区")
    first = page.wait_for_selector('[data-test="address-suggestion"] >> nth=0')
    chain = first.inner_text().strip()
    assert chain.startswith("零陵区 › 朝阳街道 › 东岳宫社区")  # the official name ends 居委会
    first.click()
    page.wait_for_selector(f'[data-test="address-place"]:text-is("{chain}")')
    grid = page.wait_for_selector('[data-test="hotline-grid"]')
    assert "东岳宫社区" in grid.inner_text()
    assert page.query_selector('[data-test="place-mismatch"]') is None
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    page.fill("input[name=reporter_phone]", phone)
    page.press("input[name=reporter_phone]", "Tab")
    assert "没有反映过" in page.wait_for_selector('[data-test="caller-history"]').inner_text()
    page.screenshot(path=str(ARTIFACTS / "hotline-address.png"))
    page.click('button[type="submit"]')
    page.wait_for_selector(".el-result")
    number = page.inner_text(".el-result__title").split()[-1]
    # The next call from the same number shows the caller's history, masked.
    page.click(".el-result__extra button")
    page.fill("input[name=reporter_phone]", phone)
    page.press("input[name=reporter_phone]", "Tab")
    history = page.wait_for_selector('[data-test="caller-history"]:has-text("1 件")').inner_text()
    assert "楼道堆放杂物" in history and phone not in history

    # The matter is the community's: its owner (or the grid inside it) is under 东岳宫社区.
    token = login(live_server.url, operator.username)
    found = httpx.get(f"{live_server.url}/api/v1/matters", params={"queue": "division", "limit": "200"},
                      headers=auth_headers(token)).json()["items"]
    ours = [m for m in found if number.endswith(m["number"]) or m["number"] in number]
    assert ours, number
    from sqlalchemy.orm import Session

    from civicgrid.geo.service import name_of

    with Session(engine) as session:
        assert (name_of(session, ours[0]["grid_code"][:12]) or "").startswith("东岳宫社区")


def test_a_pin_in_another_county_blocks_filing_until_confirmed(new_page: Callable[..., Any],  # noqa: F811
                                                                live_server: LiveServer, engine: Engine,
                                                                yongzhou: Yongzhou) -> None:
    from tests.matters.conftest import place_in

    elsewhere = place_in(yongzhou, "431123", 0)  # 双牌县
    page, _operator = _desk(new_page, live_server, engine)
    page.fill('input[name=address]', "零陵区朝阳街道")
    page.wait_for_selector('[data-test="address-place"]')  # the words name one place: taken without a click
    page.keyboard.press("Escape")
    # The operator then puts the pin in 双牌县 by coordinates.
    inputs = page.locator(".coords input")
    inputs.nth(0).fill(str(elsewhere.lng))
    inputs.nth(1).fill(str(elsewhere.lat))
    page.click('.coords button')
    page.wait_for_selector('[data-test="place-mismatch"]')
    page.click('button[type="submit"]')
    assert "不一致" in page.inner_text(".el-alert--error")
    assert page.query_selector(".el-result") is None  # not filed
    page.screenshot(path=str(ARTIFACTS / "hotline-mismatch.png"))
    page.click('[data-test="confirm-place"]')
    page.click('button[type="submit"]')
    page.wait_for_selector(".el-result")


def test_the_operator_corrects_a_matters_place_from_the_matter_page(new_page: Callable[..., Any],  # noqa: F811
                                                                    live_server: LiveServer, engine: Engine,
                                                                    yongzhou: Yongzhou) -> None:
    """Issue 11 §2: the operator (before acceptance) corrects the place with a reason, choosing it
    from the gazetteer's suggestions; the matter is re-routed and the correction is on the timeline."""
    from sqlalchemy.orm import Session

    from civicgrid.geo.service import name_of
    from tests.matters.conftest import place_in

    wrong = place_in(yongzhou, "431123", 1)  # 双牌县
    operator = make_user_committed(engine, role="hotline_operator", division_code="431100000000",
                                   display_name="12345热线话务员 秦雪")
    token = login(live_server.url, operator.username)
    created = httpx.post(f"{live_server.url}/api/v1/matters", headers=auth_headers(token), timeout=30, json={
        "type_code": "SR01", "title": "路灯不亮", "lng": wrong.lng, "lat": wrong.lat, "channel": "hotline",
        "reporter_name": "王芳", "reporter_phone": "13900139001"})
    assert created.status_code == 201, created.text
    matter_id = created.json()["id"]

    page = new_page(viewport={"width": 1440, "height": 900})
    _log_in(page, live_server.url, operator.username)
    page.wait_for_url("**/grids")
    page.goto(f"{live_server.url}/matters/{matter_id}")
    page.wait_for_selector('[data-test="matter-status"][data-status="reported"]')
    page.click('[data-test="matter-actions"] [data-action="correct_place"]')
    page.wait_for_selector('[data-test="place-form"]')
    page.fill('[data-test="place-form"] input[name=address]', "朝阳街道东岳宫社区")
    first = page.wait_for_selector('[data-test="address-suggestion"] >> nth=0')
    assert first.inner_text().strip().startswith("零陵区 › 朝阳街道 › 东岳宫社区")
    first.click()
    page.wait_for_selector('[data-test="place-chosen"]:has-text("东岳宫社区")')
    page.click('[data-test="place-submit"]')
    assert "更正原因" in page.wait_for_selector('[data-test="place-error"]').inner_text()  # a reason is required
    page.fill('[data-test="place-form"] textarea[name=reason]', "来电人所述地址在朝阳街道，地图选点有误")
    page.click('[data-test="place-submit"]')
    page.wait_for_selector('[data-test="matter-timeline"]:has-text("更正位置")')
    assert "地图选点有误" in page.inner_text('[data-test="matter-timeline"]')
    page.screenshot(path=str(ARTIFACTS / "matter-place-corrected.png"), full_page=True)

    moved = httpx.get(f"{live_server.url}/api/v1/matters/{matter_id}", headers=auth_headers(token), timeout=30).json()
    assert moved["status"] == "reported" and moved["grid_code"].startswith("431102")
    with Session(engine) as session:
        assert (name_of(session, moved["grid_code"][:12]) or "").startswith("东岳宫社区")
    last = moved["timeline"][-1]
    assert (last["action"], last["data"]["from_grid"]) == ("correct_place", wrong.grid)


def test_an_extension_request_on_a_12345_matter_shows_on_the_desk(new_page: Callable[..., Any],  # noqa: F811
                                                                  live_server: LiveServer, engine: Engine,
                                                                  yongzhou: Yongzhou) -> None:
    """Issue 11 §2: when the owning unit asks for an extension on a 12345 matter, the 12345 desk
    lists it (ticket, unit, days, reason) for the operator to tell the caller — pushed live."""
    from tests.matters.conftest import place_in

    spot = place_in(yongzhou, "431102", 21)
    operator = make_user_committed(engine, role="hotline_operator", division_code="431100000000")
    village = make_user_committed(engine, role="village_officer", division_code=spot.village)
    url = live_server.url
    created = httpx.post(f"{url}/api/v1/matters", headers=auth_headers(login(url, operator.username)), timeout=30,
                         json={"type_code": "SR01", "title": f"井盖缺失 {operator.username[-5:]}", "lng": spot.lng,
                               "lat": spot.lat, "channel": "hotline", "reporter_name": "赵六",
                               "reporter_phone": "13900139002"})
    assert created.status_code == 201, created.text
    matter_id = created.json()["id"]
    officer = auth_headers(login(url, village.username))
    for action, extra in (("accept", {}), ("dispatch", {}), ("start", {})):
        answer = httpx.post(f"{url}/api/v1/matters/{matter_id}/transitions", headers=officer, timeout=30,
                            json={"action": action, **extra})
        assert answer.status_code == 200, (action, answer.text)

    page = new_page(viewport={"width": 1440, "height": 900})
    _log_in(page, url, operator.username)
    page.wait_for_url("**/grids")
    page.goto(f"{url}/matters/hotline")
    page.wait_for_selector('[data-test="hotline-extensions"]')
    assert page.query_selector(f'[data-test="hotline-extension"][data-id="{matter_id}"]') is None
    asked = httpx.post(f"{url}/api/v1/matters/{matter_id}/transitions", headers=officer, timeout=30,
                       json={"action": "request_extension", "days": 5, "note": "需更换井盖，材料待采购"})
    assert asked.status_code == 200, asked.text
    row = page.wait_for_selector(f'[data-test="hotline-extension"][data-id="{matter_id}"]')  # no reload
    text = row.inner_text()
    assert "需更换井盖，材料待采购" in text and "5 个工作日" in text and spot.village not in text


def test_a_ticket_returned_to_the_hotline_leaves_the_units_queue(new_page: Callable[..., Any],  # noqa: F811
                                                                 live_server: LiveServer, engine: Engine,
                                                                 yongzhou: Yongzhou) -> None:
    """Issue 11 acceptance (§2): a 12345 ticket the unit returns to the hotline (退回热线, with a
    reason) leaves the unit's queue."""
    from tests.apiclients.conftest import make_client
    from tests.apiclients.test_hotline import TICKETS, ticket
    from tests.matters.conftest import place_in

    spot = place_in(yongzhou, "431102", 22)
    hotline = make_client(live_server, engine, yongzhou.city, name=f"12345 {uuid.uuid4().hex[:4]}")
    sent = ticket(spot, title=f"噪音扰民 {uuid.uuid4().hex[:4]}")
    matter_id = hotline.post(TICKETS, {"tickets": [sent]}).json()["items"][0]["result_id"]
    officer = make_user_committed(engine, role="village_officer", division_code=spot.village)

    page = new_page(viewport={"width": 1440, "height": 900})
    _log_in(page, live_server.url, officer.username)
    page.wait_for_url("**/grids")
    page.goto(f"{live_server.url}/matters/queue")
    page.wait_for_selector(f'[data-test="matter-row"][data-id="{matter_id}"]').click()
    page.wait_for_url(f"**/matters/{matter_id}")
    page.click('[data-test="matter-actions"] [data-action="return_to_hotline"]')
    page.wait_for_selector('[data-test="action-form"][data-action="return_to_hotline"]')
    page.fill('[data-test="action-form"] textarea[name="note"]', "不属于本社区职责：应由区住建局处理")
    page.click('[data-test="action-submit"]')
    page.wait_for_selector('[data-test="matter-status"][data-status="handed_back"]')
    assert "退回热线" in page.inner_text('[data-test="matter-timeline"]')
    page.goto(f"{live_server.url}/matters/queue")
    page.wait_for_selector('[data-test="matter-queue"]')
    page.wait_for_load_state("networkidle")
    assert page.query_selector(f'[data-test="matter-row"][data-id="{matter_id}"]') is None
    queue = httpx.get(f"{live_server.url}/api/v1/matters", params={"queue": "mine", "limit": "200"},
                      headers=auth_headers(login(live_server.url, officer.username)), timeout=30).json()["items"]
    assert matter_id not in [m["id"] for m in queue]
