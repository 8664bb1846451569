"""执法监管看板 in a real browser (issue 15 acceptance): a person enters a case-handling area on a
12-hour 传唤; at 11 hours the station's board turns yellow without a reload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from civicgrid.kit.clock import Clock, FakeClock, set_clock, utcnow
from civicgrid.supervision.workflow import DUE_KIND, WARN_KIND
from civicgrid.timers.worker import TimerWorker
from tests.factories import make_user_committed
from tests.supervision.helpers import ev, ingester, send, station
from tests.web.conftest import ARTIFACTS
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser


def test_board_turns_yellow_at_eleven_hours(page: Any, live_server: Any, yongzhou: Any, engine: Engine) -> None:
    """The server's clock (shared with the live server) moves 21 s on instead of the test sleeping
    them; the page's clock is held at the start (Date.now() fixed, its timers still run), so
    the yellow can only come from the warning the timer pushes, not from the board's own ticker."""
    now = datetime.now(UTC).replace(microsecond=0)
    fake = FakeClock(now)
    set_clock(fake)
    try:
        _board_turns_yellow(page, live_server, yongzhou, engine, fake)
    finally:
        set_clock(Clock())


def _board_turns_yellow(page: Any, live_server: Any, yongzhou: Any, engine: Engine, fake: FakeClock) -> None:
    page.clock.set_fixed_time(fake.now())
    township = yongzhou.village_in("431127")[:9] + "000"  # a county no other browser test writes in
    unit = station(engine, township)
    who = ingester(township)
    start = utcnow() - timedelta(hours=11) + timedelta(seconds=20)  # the warning (1 h before) falls due in 20 s
    send(engine, who, [ev("case.opened", start - timedelta(minutes=5), case="WEB1", kind="criminal", unit_id=unit,
                          title="看板测试案件"),
                       ev("measure.started", start, case="WEB1", measure="S1", kind="summons",
                          person={"id": "P1", "name": "赵六"}),
                       ev("person.entered", start, case="WEB1", person="P1", area="BA", room="R1")])
    officer = make_user_committed(engine, role="case_officer", division_code=township)
    _log_in(page, live_server.url, officer.username)
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/supervision")
    page.wait_for_selector(".el-table__body-wrapper >> text=看板测试案件", timeout=30_000)
    assert page.locator('[data-tone="success"]').count() >= 1
    fake.advance(timedelta(seconds=21))
    worker = TimerWorker(engine, kinds=[WARN_KIND, DUE_KIND])
    assert worker.run_due() >= 1  # the warning timer raises the yellow warning, pushed on the division channel
    page.wait_for_selector('[data-tone="warning"]', timeout=15_000)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=\"count-yellow\"] strong')?.textContent) >= 1")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "supervision-board.png"))


def test_case_page_rooms_ledger_rules_and_map(page: Any, live_server: Any, yongzhou: Any, engine: Engine) -> None:
    """The centre's pages in a browser: the case page's one timeline across person, case, property
    and place; the area's room board with the person in the interview room and a countdown; the
    property ledger and an item's chain of custody; the rule catalogue with its articles and the
    disabled 2025 rules; the breach map listing the station with its open breach."""
    from tests.factories import make_org_unit_committed

    township = yongzhou.village_in("431126")[:9] + "000"  # a county no other browser test writes in
    unit = make_org_unit_committed(engine, division_code=township, name="浏览器测试派出所")
    who = ingester(township)
    now = utcnow()
    answer = send(engine, who, [
        ev("case.opened", now - timedelta(hours=2), case="WEB2", kind="criminal", unit_id=unit, title="浏览器盗窃案",
           persons=[{"id": "P1", "role": "suspect", "name": "钱七"}]),
        ev("measure.started", now - timedelta(hours=1), case="WEB2", measure="S1", kind="summons", person="P1"),
        ev("person.entered", now - timedelta(hours=1), case="WEB2", person="P1", area="BA", area_title="浏览器办案区",
           room="XW1", room_title="讯问室一", room_type="interview"),
        ev("property.moved", now - timedelta(minutes=50), case="WEB2", item="I1", action="seize", description="手机",
           measure="seized", value_fen=150000, to_holder="民警 刘"),
        ev("property.moved", now - timedelta(minutes=30), case="WEB2", item="I1", action="transfer",
           from_holder="民警 刘", to_holder="保管员 赵", place="涉案财物管理中心"),
        # A 传唤 of 13 hours elsewhere in the station: a breach, still open.
        ev("case.opened", now - timedelta(hours=14), case="WEB3", kind="criminal", unit_id=unit, title="浏览器诈骗案"),
        ev("measure.started", now - timedelta(hours=13.5), case="WEB3", measure="S2", kind="summons",
           person={"id": "Q"}),
        ev("measure.ended", now - timedelta(hours=0.5), case="WEB3", measure="S2"),
    ])
    assert answer.refused == 0, answer
    staff = make_user_committed(engine, role="supervision_centre_staff", division_code=township[:6] + "000000")
    _log_in(page, live_server.url, staff.username)
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{live_server.url}/supervision/cases")
    page.click('[data-testid="case-list"] >> text=浏览器盗窃案')
    page.wait_for_selector('[data-testid="case-timeline"]')
    for strand in ("person", "case", "property", "place"):
        assert page.locator(f'[data-testid="case-timeline"] [data-strand="{strand}"]').count() >= 1, strand
    page.wait_for_selector('[data-testid="case-timeline"] >> text=进入办案区')
    page.wait_for_selector('[data-testid="case-visits"] >> text=浏览器办案区 · 讯问室一')
    page.screenshot(path=str(ARTIFACTS / "supervision-case.png"), full_page=True)

    page.goto(f"{live_server.url}/supervision/rooms")
    occupant = page.locator('[data-room="讯问室一"] [data-testid="occupant"]')
    occupant.wait_for(timeout=30_000)
    assert "浏览器盗窃案" in occupant.inner_text()
    assert occupant.locator('[data-tone="success"]').count() == 1  # 11 h left on the 12-hour 传唤
    # Moving to another room is pushed: the board shows it without a reload, well inside its 30 s refresh.
    assert send(engine, who, [ev("person.entered", utcnow(), case="WEB2", person="P1", area="BA", room="XW2",
                                 room_title="询问室二", room_type="interview")]).applied == 1
    page.locator('[data-room="询问室二"] [data-testid="occupant"]').wait_for(timeout=10_000)
    assert page.locator('[data-room="讯问室一"] [data-testid="occupant"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "supervision-rooms.png"), full_page=True)

    page.goto(f"{live_server.url}/supervision/property")
    page.click('[data-testid="property-ledger"] >> text=手机')
    chain = page.locator('[data-testid="custody-chain"]')
    chain.wait_for()
    assert "保管员 赵" in chain.inner_text() and "涉案财物管理中心" in chain.inner_text()

    page.goto(f"{live_server.url}/supervision/rules")
    page.wait_for_selector('[data-testid="rule-catalogue"] >> text=拘留后送看守所羁押')
    assert page.locator('[data-testid="disabled"]').count() >= 1  # the 2025 治安管理处罚法 rules
    page.locator('[data-testid="rule-catalogue"] .el-table__expand-icon').first.click()
    page.wait_for_selector('[data-testid="article"] >> text=中华人民共和国刑事诉讼法')

    page.goto(f"{live_server.url}/supervision/map")
    page.wait_for_selector('[data-test="division-map"][data-status="ready"]', timeout=30_000)
    row = page.locator('[data-testid="breach-units"] tr', has_text="浏览器测试派出所")
    row.wait_for()
    assert row.locator('[data-open="1"]').count() == 1
    page.screenshot(path=str(ARTIFACTS / "supervision-map.png"), full_page=True)
