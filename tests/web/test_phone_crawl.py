"""Every field role on a phone (390×844), through every page of its drawer.

Field roles work from a phone (grid workers, village officers, volunteers, patrol officers:
``FIELD_ROLES``); a page added to their menu later is walked too, with nothing to write here. Each
signs in at phone size, opens the drawer, and visits every entry. The walk fails on a page that
scrolls sideways (the document or the console's main area wider than the screen), a failed API
answer, a JavaScript error, or the login name shown where a person's name belongs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from civicgrid.simulate.demo import ACCOUNTS
from tests.conftest import LiveServer, Yongzhou
from tests.factories import make_user_committed
from tests.web.conftest import TIMEOUT_MS
from tests.web.test_console import _log_in
from tests.web.test_crawl import Watch
from tests.web.test_phone import PHONE, _no_sideways_scroll

pytestmark = pytest.mark.browser

FIELD_ROLES = ("grid_worker", "village_officer", "volunteer", "patrol_officer")
ROLES = [role for _, role, _, _ in ACCOUNTS if role in FIELD_ROLES]


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_field_roles_are_the_demo_field_accounts() -> None:
    # The demo signs in at least the three field roles the matters loop needs.
    assert {"grid_worker", "village_officer", "volunteer"} <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_every_field_role_opens_every_page_of_its_drawer_on_a_phone(
        role: str, phone: Any, live_server: LiveServer, yongzhou: Yongzhou, engine: Engine) -> None:
    with_places = {r: (where, display) for _, r, where, display in ACCOUNTS}
    where, display = with_places[role]
    from civicgrid.db import transaction

    with transaction(engine, write=False) as session:
        code = where(session)
    user = make_user_committed(engine, role=role, division_code=code, display_name=display)
    watch = Watch(phone)
    _log_in(phone, live_server.url, user.username)
    landing = phone.wait_for_selector('[data-test="phone-menu"], [data-test="shell-menu"]')
    if landing.get_attribute("data-test") == "shell-menu":
        # Reporters land on the intake page, patrol officers on their unit's page: the phone
        # shell's menu button leads to the rest of their menu.
        phone.click('[data-test="shell-menu"]')
    phone.click('[data-test="phone-menu"]')
    phone.wait_for_selector('[data-test="phone-drawer"]')
    paths = phone.eval_on_selector_all('[data-test="phone-drawer"] [data-path]',
                                       "items => items.map(i => i.dataset.path)")
    assert paths, f"{role}: an empty drawer"
    phone.keyboard.press("Escape")
    failures: list[str] = []
    for path in paths:
        watch.problems.clear()
        phone.goto(f"{live_server.url}{path}")
        phone.wait_for_selector('[data-test="phone-menu"], [data-test="shell-menu"]')
        phone.wait_for_load_state("networkidle")
        phone.wait_for_timeout(300)
        where_ = f"{role} ({display}) on {path}"
        try:
            _no_sideways_scroll(phone, where_)
        except AssertionError as exc:
            failures.append(str(exc))
        failures += [f"{where_}: {problem}" for problem in watch.problems]
        if user.username in phone.inner_text("body"):
            failures.append(f"{where_}: shows the login name {user.username}")
    assert not failures, "\n".join(failures)
