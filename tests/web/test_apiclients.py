"""The API-client page in a real browser: an administrator registers the 12345 hotline for an org
unit, copies the key shown once, the key works over the API, and revoking it from the page stops it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.factories import make_org_unit_committed, make_user_committed
from tests.web.conftest import ARTIFACTS
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser

CITY = "431100000000"


def _choose(page: Any, select: str, option: str) -> None:
    page.click(select)
    page.click(f'.el-select-dropdown__item:visible:has-text("{option}")')


def test_register_copy_the_key_and_revoke(page: Any, live_server: Any, yongzhou: Any, engine: Engine) -> None:
    unit_name = f"市12345热线中心{uuid.uuid4().hex[:4]}"
    make_org_unit_committed(engine, division_code=CITY, type_code="government_department", name=unit_name)
    user = make_user_committed(engine, role="admin", division_code=CITY)
    client_name = f"永州12345-{uuid.uuid4().hex[:4]}"

    _log_in(page, live_server.url, user.username)
    page.wait_for_url("**/grids")
    page.goto(f"{live_server.url}/system/api-clients")
    page.fill('input[data-test="client-name"], [data-test="client-name"] input', client_name)
    _choose(page, '[data-test="client-kind"]', "12345 政务服务便民热线")
    _choose(page, '[data-test="client-unit"]', unit_name)
    _choose(page, '[data-test="client-record-kinds"]', "12345 热线工单")
    page.keyboard.press("Escape")
    page.click('[data-test="client-create"]')
    page.wait_for_selector('[data-test="shown-key"] code')
    key = page.inner_text('[data-test="shown-key"] code').strip()
    assert key.startswith("cgk_")
    page.wait_for_selector(f'[data-test="client-list"] tr:has-text("{client_name}"):has-text("有效")')
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-api-clients.png"))
    returns = f"{live_server.url}/api/v1/hotline/returns"
    assert httpx.get(returns, headers={"X-API-Key": key}).status_code == 200

    page.click(f'[data-test="client-list"] tr:has-text("{client_name}") button:has-text("吊销")')
    page.click(".el-message-box button.el-button--primary")
    page.wait_for_selector(f'[data-test="client-list"] tr:has-text("{client_name}"):has-text("已吊销")')
    assert httpx.get(returns, headers={"X-API-Key": key}).status_code == 403
