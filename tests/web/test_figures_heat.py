"""The figures page's heat map (issue 11 §7): a county official's map of its townships coloured
by matters received, drilled down division → village → grid → the grid's matters, and on to a
matter. Same rules as test_matters.py (Chromium via Playwright)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_user_committed
from tests.matters.conftest import place_in
from tests.web.conftest import ARTIFACTS
from tests.web.test_console import _log_in
from tests.web.test_matters import DESKTOP, new_page  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


def test_county_heat_map_drills_down_to_the_matters_of_a_grid(new_page: Callable[..., Any],  # noqa: F811
                                                              live_server: LiveServer, yongzhou: Yongzhou,
                                                              engine: Engine) -> None:
    spot = place_in(yongzhou, "431102", 16)
    worker = make_user_committed(engine, role="grid_worker", division_code=spot.grid)
    county = make_user_committed(engine, role="county_plc_staff", division_code=spot.county)
    token = login(live_server.url, worker.username)
    created = httpx.post(f"{live_server.url}/api/v1/matters", headers=auth_headers(token),
                         json={"type_code": "SR01", "title": f"热力图测试 {worker.username[-5:]}", "lng": spot.lng,
                               "lat": spot.lat, "channel": "grid_worker"}, timeout=30)
    assert created.status_code == 201, created.text
    matter = created.json()

    page = new_page(viewport=DESKTOP)
    _log_in(page, live_server.url, county.username)
    page.wait_for_url("**/grids")
    page.goto(f"{live_server.url}/matters/figures")
    page.wait_for_selector(f'[data-test="heat-map"][data-code="{spot.county}"][data-status="ready"]')
    assert int(page.get_attribute('[data-test="heat-map"]', "data-drawn") or 0) > 1
    # Township → village → grid, by the named regions under the map (the map's own clicks do the same).
    for code in (spot.township, spot.village):
        page.click(f'[data-test="heat-region"][data-code="{code}"]')
        page.wait_for_selector(f'[data-test="heat-map"][data-code="{code}"]')
    page.click(f'[data-test="heat-region"][data-code="{spot.grid}"]')
    row = page.wait_for_selector(f'[data-test="grid-matters"][data-grid="{spot.grid}"] '
                                 f'[data-test="grid-matter"][data-id="{matter["id"]}"]')
    assert matter["title"] in row.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "figures-heat-grid.png"), full_page=True)
    row.click()
    page.wait_for_url(f"**/matters/{matter['id']}")
