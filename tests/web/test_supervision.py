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
