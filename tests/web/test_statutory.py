"""The statutory-period calculator under 工作日历, in a real browser (same rules as
test_console.py: outside CI a missing Chromium or unbuilt console skips, in CI it fails)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer
from tests.factories import make_user_committed
from tests.web.conftest import ARTIFACTS
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser



def test_official_computes_a_statutory_deadline(page: Any, live_server: LiveServer, engine: Engine) -> None:
    """信访工作条例 (2022-02-25) Art. 22 counted per 刑事诉讼法 (2018) Art. 105: 15 days from
    2026-09-18 end at 24:00 on 10-08, after the National Day holiday."""
    admin = make_user_committed(engine, role="admin", division_code="431100000000")
    _log_in(page, live_server.url, admin.username)
    page.wait_for_url("**/grids")
    page.goto(f"{live_server.url}/system/calendar")
    panel = page.locator('[data-test="statutory"]')
    panel.wait_for()
    assert "法定期间计算" in panel.inner_text()

    panel.locator(".el-select").first.click()
    page.locator(".el-select-dropdown__item", has_text="信访部门登记转送交办").click()
    assert "《信访工作条例》（2022-02-25）第22条" in panel.inner_text()
    assert panel.locator('[data-test="statutory-unverified"]').count() == 1  # counting by analogy
    start = panel.locator(".el-date-editor input").first
    start.fill("2026-09-18 10:00")
    start.press("Enter")
    panel.locator(".el-card__header").click()  # close the picker
    panel.locator('[data-test="statutory-compute"]').click()
    page.wait_for_selector('[data-test="statutory-due"]')
    assert page.inner_text('[data-test="statutory-due"]') == "2026-10-08 24:00"
    assert page.inner_text('[data-test="statutory-explanation"]') == (
        "自 2026-09-19 起算 15 日，末日 10-03 为法定节假日，顺延至节后第一日 10-08 24:00")
    page.screenshot(path=str(ARTIFACTS / "worktime-statutory.png"), full_page=True)
