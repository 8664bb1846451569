"""Forced password change and second-factor enrolment in a real browser (issue 9 §2): a new
account signs in, is taken to the change page, changes the password, reaches the console; a
holder of pii.reveal then enrols an authenticator from the QR page's key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from civicgrid.kit.clock import utcnow
from civicgrid.people import totp
from tests.factories import DEFAULT_PASSWORD, make_user_committed
from tests.web.conftest import ARTIFACTS
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser

LINGLING = "431102000000"  # 零陵区
NEW_PASSWORD = "Lingling#Grid2027"



def _change_password(page: Any, current: str, new: str, confirm: str | None = None) -> None:
    page.fill('[data-test="current-password"]', current)
    page.fill('[data-test="new-password"]', new)
    page.fill('[data-test="confirm-password"]', confirm or new)
    page.click('[data-test="password-submit"]')


def test_new_account_changes_its_password_then_reaches_the_console(browser: Any, page: Any, live_server: Any,
                                                                   yongzhou: Any, engine: Engine) -> None:
    user = make_user_committed(engine, role="township_officer", division_code="431102001000",
                               must_change_password=True)
    _log_in(page, live_server.url, user.username)
    page.wait_for_url("**/account/password")
    assert page.inner_text(".account-title") == "修改密码"
    # Straight to a module: still the change page (the API answers 403 there anyway).
    page.goto(f"{live_server.url}/grids")
    page.wait_for_url("**/account/password")

    _change_password(page, DEFAULT_PASSWORD, "Password1")  # common: refused with the API's Chinese words
    assert "过于常见" in page.wait_for_selector('[data-test="password-error"]').inner_text()
    _change_password(page, DEFAULT_PASSWORD, NEW_PASSWORD)
    page.wait_for_url("**/grids")
    assert page.inner_text('[data-test="user-division"]') == "朝阳街道"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "account-changed.png"))

    old = httpx.post(f"{live_server.url}/api/v1/auth/login",
                     json={"username": user.username, "password": DEFAULT_PASSWORD})
    assert old.status_code == 401


def test_reveal_holder_enrols_an_authenticator_after_the_password(browser: Any, page: Any, live_server: Any,
                                                                   yongzhou: Any, engine: Engine) -> None:
    user = make_user_committed(engine, role="county_plc_staff", division_code=LINGLING,
                               must_change_password=True, enrol_totp=False)
    _log_in(page, live_server.url, user.username)
    page.wait_for_url("**/account/password")
    _change_password(page, DEFAULT_PASSWORD, NEW_PASSWORD)
    page.wait_for_url("**/account/totp")
    page.wait_for_selector('[data-test="totp-qr"]')
    secret = page.inner_text('[data-test="totp-secret"]').strip()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "account-totp.png"))
    page.fill('[data-test="totp-confirm-code"]', "123456" if totp.code_at(secret, utcnow()) != "123456"
              else "654321")
    page.click('[data-test="totp-submit"]')
    assert "动态验证码错误" in page.wait_for_selector('[data-test="totp-error"]').inner_text()
    page.fill('[data-test="totp-confirm-code"]', totp.code_at(secret, utcnow()))
    page.click('[data-test="totp-submit"]')
    page.wait_for_url("**/grids")
    assert page.inner_text('[data-test="user-division"]') == "零陵区"

    # Signing in again now asks for a code.
    page.click('[data-test="logout"]')
    page.wait_for_url("**/login")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", NEW_PASSWORD)
    page.click('[data-test="login-submit"]')
    assert "动态验证码" in page.wait_for_selector('[data-test="login-error"]').inner_text()
    page.wait_for_selector('[data-test="totp-code"]')
