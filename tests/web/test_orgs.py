"""The org-unit page in a real browser: a county's staff opens 系统管理 → 机构与责任区, picks a unit,
chooses grids from a township's village, saves, and the API holds exactly those grids."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.factories import auth_headers, login, make_user_committed
from tests.web.conftest import ARTIFACTS
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser

LINGLING = "431102000000"



def _choose(page: Any, select: str, option: str) -> None:
    page.click(select)
    page.click(f'.el-select-dropdown__item:visible:has-text("{option}")')


def test_choose_a_units_area_grid_by_grid(page: Any, live_server: Any, yongzhou: Any, engine: Engine) -> None:
    with engine.connect() as conn:
        township, township_name = conn.execute(text(
            "SELECT code, name FROM divisions WHERE parent_code = :p AND level = 'township' ORDER BY code"),
            {"p": LINGLING}).first()
        village, village_name = conn.execute(text(
            "SELECT code, name FROM divisions WHERE parent_code = :p AND level = 'village' ORDER BY code"),
            {"p": township}).first()
        grids = [str(c) for c in conn.scalars(text("SELECT code FROM grids WHERE village_code = :v ORDER BY code"),
                                               {"v": village})]
    user = make_user_committed(engine, role="county_plc_staff", division_code=LINGLING)
    token = login(live_server.url, user.username)
    unit = httpx.post(f"{live_server.url}/api/v1/org-units", headers=auth_headers(token),
                      json={"name": "浏览器测试派出所", "type_code": "police_station", "division_code": LINGLING}
                      ).json()

    _log_in(page, live_server.url, user.username)
    page.wait_for_url("**/grids")
    page.goto(f"{live_server.url}/system/org-units")
    page.fill('[data-test="orgs"] input[placeholder="搜索机构名称"]', "浏览器测试派出所")
    page.keyboard.press("Enter")
    page.click('[data-test="orgs-table"] tr:has-text("浏览器测试派出所")')
    page.wait_for_selector('[data-test="orgs-detail"]:has-text("派出所")')
    assert "按所在区划" in page.inner_text('[data-test="orgs-area"]')

    detail = '[data-test="orgs-detail"]'
    _choose(page, f"{detail} .el-form-item:has-text('乡镇（街道）') .el-select", township_name)
    _choose(page, f"{detail} .el-form-item:has-text('村（社区）') .el-select", village_name)
    page.wait_for_selector(f'[data-test="orgs-grids"] label:has-text("{grids[0]}")')
    page.click(f'[data-test="orgs-grids"] label:has-text("{grids[0]}")')
    page.click('[data-test="orgs-save-area"]')
    page.wait_for_selector('[data-test="orgs-table"] tr:has-text("浏览器测试派出所"):has-text("1 个网格")')
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-org-units.png"))

    area = httpx.get(f"{live_server.url}/api/v1/org-units/{unit['id']}/area", headers=auth_headers(token)).json()
    assert area["grids"] == [grids[0]] and area["kind"] == "grids"
