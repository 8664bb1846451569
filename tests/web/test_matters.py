"""The matters console in a real browser (Chromium via Playwright, same rules as
test_console.py: outside CI a missing Chromium or unbuilt console skips, in CI it fails).

A grid worker reports a matter on the mobile page — phone-sized viewport, the position from the
phone's geolocation — and the village officer, already on the work queue in another browser,
sees it arrive without reloading; the officer then opens it (photo fetched with the token, map,
timeline) and accepts it. A county user's figures page draws its charts from the API's numbers.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_user_committed
from tests.matters.conftest import place_in
from tests.web.conftest import ARTIFACTS, TIMEOUT_MS
from tests.web.test_console import _log_in

pytestmark = pytest.mark.browser

VILLAGE_TYPE = ("SR01", "暴露垃圾")  # 暴露垃圾: owned by the village (catalogue.json)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def _png(width: int = 8, height: int = 8) -> bytes:
    """A small real PNG (the API sniffs magic bytes and refuses anything that is not an image)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes([200, 60, 40]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open pages in separate browser contexts (separate people); no JavaScript error allowed."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(**options: Any) -> Any:
        context = browser.new_context(locale="zh-CN", **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


def _canvas_painted(page: Any, selector: str) -> int:
    """Non-transparent pixels on the canvas inside ``selector``."""
    return int(page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector + ' canvas');
            if (!canvas) return 0;
            const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
            return painted;
        }""",
        selector,
    ))


def _pin_pixels(page: Any) -> int:
    """Pixels of the pin colour (#d9363e) on the matter map."""
    return int(page.evaluate(
        """() => {
            const canvas = document.querySelector('[data-test=matter-map] canvas');
            const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
            let red = 0;
            for (let i = 0; i < data.length; i += 4) {
                const near = (value, target) => Math.abs(value - target) < 12;
                if (near(data[i], 0xd9) && near(data[i + 1], 0x36) && near(data[i + 2], 0x3e)) red++;
            }
            return red;
        }"""
    ))


def test_grid_worker_report_reaches_the_village_queue_live(new_page: Callable[..., Any], live_server: LiveServer,
                                                          yongzhou: Yongzhou, engine: Engine) -> None:
    spot = place_in(yongzhou, "431102")
    worker = make_user_committed(engine, role="grid_worker", division_code=spot.grid)
    officer = make_user_committed(engine, role="village_officer", division_code=spot.village)
    title = f"路口垃圾堆积 {worker.username[-6:]}"
    ARTIFACTS.mkdir(exist_ok=True)

    # The village officer opens the work queue and stays on it.
    desk = new_page(viewport=DESKTOP)
    _log_in(desk, live_server.url, officer.username)
    desk.wait_for_url("**/grids")
    desk.click('[data-test="nav"] >> text=事项办理')  # the module's sub-menu opens
    desk.click('[data-test="nav"] >> text=我的工作台')
    desk.wait_for_url("**/matters/queue")
    desk.wait_for_selector('[data-test="matter-queue"]:not([data-loads="0"])')
    desk.wait_for_selector('[data-test="realtime-status"][data-live="true"]')
    assert title not in desk.inner_text('[data-test="matter-queue"]')
    desk.evaluate("() => { window.__sameDocument = true }")  # gone if the page reloads

    # The grid worker, on a phone with the position allowed, lands on the intake page.
    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True, permissions=["geolocation"],
                     geolocation={"longitude": spot.lng, "latitude": spot.lat})
    _log_in(phone, live_server.url, worker.username)
    phone.wait_for_url("**/matters/report")
    phone.click('[data-test="intake-type"]')
    phone.locator(".intake-type-popper .el-select-dropdown__item", has_text=VILLAGE_TYPE[1]).first.click()
    phone.fill("input[name=title]", title)
    phone.fill("textarea[name=description]", "村口路边垃圾堆积三天未清运")
    phone.set_input_files('[data-test="intake-photo"]',
                          files=[{"name": "scene.png", "mimeType": "image/png", "buffer": _png()}])
    phone.click('[data-test="intake-locate"]')
    located = phone.wait_for_selector(f'[data-test="intake-grid"][data-grid="{spot.grid}"]')
    assert "网格" in located.inner_text()
    # Big touch targets: the submit button spans the phone's width and is at least 44 px high.
    box = phone.locator('[data-test="intake-submit"]').bounding_box()
    assert box["height"] >= 44 and box["width"] >= PHONE["width"] * 0.75, box
    phone.screenshot(path=str(ARTIFACTS / "matters-report-mobile.png"), full_page=True)
    phone.click('[data-test="intake-submit"]')
    number = phone.wait_for_selector('[data-test="report-number"]').inner_text().strip()
    assert number, "the page shows the new matter's number"
    phone.screenshot(path=str(ARTIFACTS / "matters-report-done.png"))

    # The matter was routed to the village, with its photo, exactly once.
    token = login(live_server.url, officer.username)
    queue = httpx.get(f"{live_server.url}/api/v1/matters", params={"queue": "mine", "limit": 200},
                      headers=auth_headers(token)).json()
    ours = [m for m in queue["items"] if m["title"] == title]
    assert len(ours) == 1 and ours[0]["number"] == number
    assert (ours[0]["division_code"], ours[0]["grid_code"], ours[0]["type_code"]) == (
        spot.village, spot.grid, VILLAGE_TYPE[0])

    # …and it appears on the officer's queue by push, in the same document (no reload).
    row = desk.wait_for_selector(f'[data-test="matter-row"][data-id="{ours[0]["id"]}"]')
    assert row.inner_text() == title
    assert desk.evaluate("() => window.__sameDocument === true")
    desk.screenshot(path=str(ARTIFACTS / "matters-queue-live.png"))

    # The matter page: the photo comes through the token (an object URL), the map is drawn.
    row.click()
    desk.wait_for_url(f"**/matters/{ours[0]['id']}")
    assert desk.inner_text('[data-test="matter-number"]') == number
    thumb = desk.wait_for_selector('[data-test="photo-thumb"] img')
    assert (thumb.get_attribute("src") or "").startswith("blob:")
    desk.wait_for_function("() => document.querySelector('[data-test=photo-thumb] img').naturalWidth === 8")
    desk.wait_for_selector(f'[data-test="matter-map"][data-code="{spot.village}"][data-status="ready"]')
    assert _canvas_painted(desk, '[data-test="matter-map"]') > 1000
    desk.wait_for_timeout(800)  # the pin's entry animation
    assert _pin_pixels(desk) > 50, "the matter's point is marked on the map"
    assert "上报" in desk.inner_text('[data-test="matter-timeline"]')
    desk.screenshot(path=str(ARTIFACTS / "matters-detail.png"), full_page=True)

    # The officer accepts it with the action the API allows: one click, no dialog (issue 11 §5),
    # and a 撤回 for the same user; undone, it is back to reported, and accepted again.
    desk.click('[data-test="matter-actions"] [data-action="accept"]')
    desk.wait_for_selector('[data-test="matter-status"][data-status="accepted"]')
    assert desk.locator('[data-test="action-form"]').count() == 0
    desk.click('[data-test="matter-actions"] [data-action="undo"]')
    desk.wait_for_selector('[data-test="matter-status"][data-status="reported"]')
    assert "撤回上一步" in desk.inner_text('[data-test="matter-timeline"]')
    desk.click('[data-test="matter-actions"] [data-action="accept"]')
    desk.wait_for_selector('[data-test="matter-status"][data-status="accepted"]')

    # The 12345 desk: a click on the map picks the point, snapped to a grid of the village.
    desk.goto(f"{live_server.url}/matters/hotline")
    desk.wait_for_selector(f'[data-test="matter-map"][data-code="{spot.village}"][data-status="ready"]')
    box = desk.locator('[data-test="matter-map"]').bounding_box()
    desk.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    picked = desk.wait_for_selector('[data-test="hotline-grid"]')
    assert "网格" in picked.inner_text()
    desk.screenshot(path=str(ARTIFACTS / "matters-hotline.png"))


def test_county_figures_page_draws_its_charts(new_page: Callable[..., Any], live_server: LiveServer,
                                              yongzhou: Yongzhou, engine: Engine) -> None:
    county = yongzhou.lingling
    user = make_user_committed(engine, role="county_plc_staff", division_code=county)
    page = new_page(viewport=DESKTOP)
    _log_in(page, live_server.url, user.username)
    page.wait_for_url("**/grids")
    page.goto(f"{live_server.url}/matters/figures")
    # One bar group per township of the county, and the settled-level pie.
    page.wait_for_selector('[data-test="chart-children"]:not([data-drawn="0"])')
    page.wait_for_selector('[data-test="chart-settled"][data-drawn="4"]')
    page.wait_for_timeout(600)  # ECharts' entry animation
    assert _canvas_painted(page, '[data-test="chart-children"]') > 2000
    assert _canvas_painted(page, '[data-test="chart-settled"]') > 500

    # The cards show the API's own figures for the same division and range.
    frm, to = page.evaluate("""() => Array.from(document.querySelectorAll('.el-range-input')).map(i => i.value)""")
    token = login(live_server.url, user.username)
    figures = httpx.get(f"{live_server.url}/api/v1/figures/matters",
                        params={"division": county, "from": frm, "to": to, "by": "children"},
                        headers=auth_headers(token)).json()
    drawn = int(page.get_attribute('[data-test="chart-children"]', "data-drawn") or 0)
    assert drawn == len(figures["children"]) > 0
    cards = page.locator('[data-test="figures-cards"]')
    assert cards.locator('[data-card="received"] .card-value').inner_text() == str(figures["division"]["received"])
    assert cards.locator('[data-card="closed"] .card-value').inner_text() == str(figures["division"]["closed"])
    assert "受理数" in page.inner_text('[data-test="figures-cards"]')
    # The three rates as the API gives them; 矛盾不上交 says it is not yet available.
    rates = {r["key"]: r for r in figures["division"]["rates"]}
    village = page.locator('[data-rate="in_village"]').inner_text()
    share = rates["in_village"]
    assert "小事不出村" in village and f"{share['numerator']} / {share['denominator']}" in village
    assert "暂不提供" in page.inner_text('[data-rate="not_escalated"]')
    page.wait_for_selector('[data-test="chart-trend"]:not([data-drawn="0"])')
    if figures["division"]["received"]:
        page.wait_for_selector('[data-test="figures-breakdown"] .el-table__row')
    page.screenshot(path=str(ARTIFACTS / "matters-figures-county.png"), full_page=True)


def test_city_admin_sees_catalogue_and_calendar(new_page: Callable[..., Any], live_server: LiveServer,
                                                yongzhou: Yongzhou, engine: Engine) -> None:
    admin = make_user_committed(engine, role="admin", division_code=yongzhou.city)
    token = login(live_server.url, admin.username)
    types = httpx.get(f"{live_server.url}/api/v1/matter-types", params={"include_inactive": "true"},
                      headers=auth_headers(token)).json()
    years = httpx.get(f"{live_server.url}/api/v1/calendar/years", headers=auth_headers(token)).json()
    page = new_page(viewport=DESKTOP)
    _log_in(page, live_server.url, admin.username)
    page.wait_for_url("**/grids")

    # 三张清单: every type of the current version, with its owning level and limits.
    page.goto(f"{live_server.url}/matters/catalogue")
    page.wait_for_selector('[data-test="catalogue-table"] .el-table__row')
    assert page.locator('[data-test="catalogue-table"] .el-table__body-wrapper .el-table__row').count() == len(types)
    garbage = page.locator('[data-test="catalogue-table"] .el-table__row', has_text="暴露垃圾")
    assert "村（社区）级" in garbage.inner_text() and "个工作小时" in garbage.inner_text()

    # 工作日历: the imported years with their source and counts.
    page.goto(f"{live_server.url}/system/calendar")
    page.wait_for_selector('[data-test="calendar-years"] .el-table__row')
    shown = page.inner_text('[data-test="calendar-years"]')
    assert all(str(y["year"]) in shown for y in years["years"]), shown
    if years["gaps"]:
        assert str(years["gaps"][0]["year"]) in page.inner_text('[data-test="calendar-gaps"]')
        # A missing arrangement is a notice, not a red error banner (issue 11 §6).
        assert "el-alert--error" not in (page.get_attribute('[data-test="calendar-gaps"]', "class") or "")
    # The current year first; the shipped source named in words.
    first = page.locator('[data-test="calendar-years"] .el-table__body-wrapper .el-table__row').first.inner_text()
    current = page.evaluate("() => new Date().getFullYear()")
    if any(y["year"] == current for y in years["years"]):
        assert first.startswith(str(current)), first
    if any(y["source"].startswith("chinese-calendar") for y in years["years"]):
        assert "国务院办公厅节假日安排" in shown
    page.locator('[data-test="calendar-years"] .el-table__row').first.click()
    page.wait_for_selector('[data-test="calendar-days"] .el-table__row')
    page.screenshot(path=str(ARTIFACTS / "matters-calendar.png"), full_page=True)
