"""Every demo role visits every page of its menu in a real browser (issue 11 §1, §6).

One account per demo role (``civicgrid.simulate.demo.ACCOUNTS``: the same role, the same place and
display name), created the way the other browser tests create theirs. Each signs in at desktop
size, opens every entry of the side navigation it is shown, and — where it may read matters — the
page of a matter reported in the demo village. The walk fails on:

- any API answer 4xx/5xx and any console error or uncaught JavaScript error;
- a raw 12–15-digit code in the visible text (people read grid and division names), unless the
  page is allow-listed below with its reason;
- the login name of any demo account in the visible text (people read display names).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from civicgrid.db import transaction
from civicgrid.simulate.demo import ACCOUNTS
from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_user_committed
from tests.matters.conftest import place_in
from tests.web.conftest import TIMEOUT_MS, Traffic
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser

# A raw division or grid code standing alone; digits inside a record's number (JQ2031060200001,
# JF2026120300007, YZ-20261203-000001) are the number a person reads, not a code.
CODE = re.compile(r"(?<![\dA-Za-z.\-])\d{12,15}(?![\d.])")
# Pages where a code is the thing shown, and why. None so far: every page names places.
CODES_ALLOWED: dict[str, str] = {}


def _accounts(engine: Engine) -> list[tuple[str, str, str, str]]:
    """(role, division code, display name, username) for every demo account, created fresh."""
    out = []
    with transaction(engine, write=False) as session:
        places = [(role, where(session), display) for _, role, where, display in ACCOUNTS]
    for role, code, display in places:
        user = make_user_committed(engine, role=role, division_code=code, display_name=display)
        out.append((role, code, display, user.username))
    return out


def _a_matter(server: LiveServer, yongzhou: Yongzhou, accounts: list[tuple[str, str, str, str]]) -> str:
    """A matter in the demo village: reported by its grid worker, accepted by its village officer."""
    worker = next(a for a in accounts if a[0] == "grid_worker")
    officer = next(a for a in accounts if a[0] == "village_officer")
    spot = place_in(yongzhou, worker[1])
    body = {
        "type_code": "SR01",
        "title": "路口垃圾堆积",
        "description": "三天未清运",
        "lng": spot.lng,
        "lat": spot.lat,
        "channel": "grid_worker",
    }
    created = httpx.post(
        f"{server.url}/api/v1/matters", json=body, headers=auth_headers(login(server.url, worker[3])), timeout=30
    )
    assert created.status_code == 201, created.text
    matter_id = str(created.json()["id"])
    accepted = httpx.post(
        f"{server.url}/api/v1/matters/{matter_id}/transitions",
        json={"action": "accept"},
        headers=auth_headers(login(server.url, officer[3])),
        timeout=30,
    )
    assert accepted.status_code == 200, accepted.text
    return matter_id


class Watch:
    """What went wrong on a page while it was watched: failed API answers, console errors."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        self.traffic = Traffic(page)
        page.on("response", self._response)
        page.on(
            "console",
            lambda msg: self.problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.problems.append(f"JavaScript error: {exc}"))

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status} {response.request.method} {response.url}")


@pytest.fixture
def watched(browser: Any) -> Iterator[Callable[[], tuple[Any, Watch]]]:
    contexts: list[Any] = []

    def open_page() -> tuple[Any, Watch]:
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        return page, Watch(page)

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()


def _settle(watch: Watch) -> None:
    """Wait until the page has loaded what it asks for and drawn the answers (tests/web/conftest.py
    Traffic: event-driven, about 0.15 s after the last answer instead of networkidle's 0.5 s + 0.2 s)."""
    watch.traffic.settle()


def _menu_paths(page: Any) -> list[str]:
    """The paths of every entry in the side navigation (sub-menus opened first)."""
    menus = page.locator('[data-test="nav"] .el-sub-menu')
    for index in range(menus.count()):
        if "is-opened" not in (menus.nth(index).get_attribute("class") or ""):
            menus.nth(index).locator("> .el-sub-menu__title").click()
    return list(page.eval_on_selector_all('[data-test="nav"] [data-path]', "items => items.map(i => i.dataset.path)"))


SUPERVISING = ("city_plc_staff", "county_plc_staff", "governance_centre_staff")
"""The supervising roles: city and county 政法委, 综治中心."""


@dataclass(frozen=True)
class Demo:
    accounts: list[tuple[str, str, str, str]]
    matter_id: str


@pytest.fixture(scope="module")
def demo(live_server: LiveServer, yongzhou: Yongzhou, engine: Engine) -> Demo:
    """Every demo account, and a matter of the demo village (once for the module); a response
    unit of 零陵 with a shift and the station commander as its member, sent to an incident in the
    demo village, so the response pages have rows with places and names to show."""
    accounts = _accounts(engine)
    matter_id = _a_matter(live_server, yongzhou, accounts)
    _an_incident(engine, yongzhou, accounts)
    return Demo(accounts, matter_id)


def _an_incident(engine: Engine, yongzhou: Yongzhou, accounts: list[tuple[str, str, str, str]]) -> None:
    import uuid
    from datetime import timedelta

    from civicgrid.kit.clock import utcnow
    from civicgrid.response import service as response
    from civicgrid.response.index import index_for
    from civicgrid.response.telemetry import Point, accept
    from tests.factories import make_org_unit_committed
    from tests.response.conftest import CITY

    worker = next(a for a in accounts if a[0] == "grid_worker")
    commander = next(a for a in accounts if a[0] == "station_commander")
    spot = place_in(yongzhou, worker[1])
    station = make_org_unit_committed(engine, division_code=commander[1][:6] + "000000", name="走查派出所")
    with transaction(engine) as session:
        user_id = session.scalar(_user_id_query(commander[3]))
        unit = response.create_unit(session, CITY, call_sign=f"走查班次-{uuid.uuid4().hex[:6]}",
                                    unit_type="patrol_car", org_unit_id=station, members=[user_id])
        now = utcnow()
        response.create_shift(session, CITY, unit.id, starts_at=now - timedelta(hours=1),
                              ends_at=now + timedelta(hours=7), members=[user_id], note="走查白班")
        unit_id = unit.id
    with transaction(engine, write=False) as session:
        index = index_for(session)
    accept(index, str(engine.url), [Point(unit_id, utcnow(), spot.lng, spot.lat + 0.002)])
    with transaction(engine) as session:
        created = response.create_incident(session, CITY, category="public_order", priority=2, lng=spot.lng,
                                           lat=spot.lat, summary="走查警情")
        response.dispatch(session, CITY, created.incident.id, [unit_id])


def _user_id_query(username: str) -> Any:
    from sqlalchemy import select

    from civicgrid.authz.scoping import unscoped
    from civicgrid.people.models import User

    return select(User.id).where(User.username == username, unscoped("the crawl's own account"))


@pytest.mark.parametrize("role", [role for _, role, _, _ in ACCOUNTS])
def test_every_demo_role_opens_every_page_of_its_menu(
    role: str, demo: Demo, watched: Callable[[], tuple[Any, Watch]], live_server: LiveServer
) -> None:
    logins = [a[3] for a in demo.accounts]
    _, _, display, username = next(a for a in demo.accounts if a[0] == role)
    failures: list[str] = []
    page, watch = watched()
    _log_in(page, live_server.url, username)
    page.wait_for_selector('[data-test="nav"]')
    _settle(watch)
    paths = _menu_paths(page)
    permissions = page.evaluate(
        "() => fetch('/api/v1/auth/me', {headers: {Authorization: 'Bearer ' + "
        "sessionStorage.getItem('civicgrid.token')}}).then(r => r.json())"
        ".then(me => me.permissions)"
    )
    if role in SUPERVISING:  # issue 11 §7: every supervising role reaches the queue and the figures
        assert {"/matters/queue", "/matters/figures"} <= set(paths), f"{role}: {paths}"
    if role == "sysadmin":  # …and the system administrator no business data
        assert not [p for p in paths if p.startswith(("/matters", "/disputes", "/alerts"))], paths
    if "matters.read" in permissions:
        paths.append(f"/matters/{demo.matter_id}")
    assert paths, f"{role}: an empty menu"
    for path in paths:
        watch.problems.clear()
        page.goto(f"{live_server.url}{path}")
        # The console layout, or a phone shell of its own (common/PhoneShell.vue): the intake pages,
        # the unit's phone page.
        page.wait_for_selector('[data-test="nav"], [data-test="shell-menu"]')
        _settle(watch)
        if path == "/dispatch" and page.locator('[data-test="queue"] .el-table__row').count():
            # The incident card names its place (county, township, village, grid), not its codes.
            page.locator('[data-test="queue"] .el-table__row').first.click()
            page.wait_for_selector('[data-test="incident-place"]')
            _settle(watch)
        where = f"{role} ({display}) on {path}"
        failures += [f"{where}: {problem}" for problem in watch.problems]
        text = page.inner_text("body")
        if path not in CODES_ALLOWED:
            failures += [f"{where}: shows the raw code {code}" for code in sorted(set(CODE.findall(text)))]
        failures += [f"{where}: shows the login name {name}" for name in logins if name in text]
    assert not failures, "\n".join(failures)
