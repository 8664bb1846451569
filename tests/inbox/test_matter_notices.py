"""The matters closed loop sends to the inbox in the transition's own transaction: a dispatch
(派单) reaches the grid worker of the matter's grid and the owner's other handlers, never the
dispatcher; a supervision order (督办) reaches the owning unit; both wait for 确认收到."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from civicgrid.kit.clock import Clock, FakeClock, set_clock
from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import actor, china, place_in


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(china(2026, 12, 7, 9, 0))  # a Monday
    set_clock(fake)
    try:
        yield fake
    finally:
        set_clock(Clock())


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def test_dispatch_and_supervision_orders_reach_the_responsible_users(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    place = place_in(yongzhou, "431103", 1)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)
    county = actor(live_server, engine, "county_plc_staff", place.county)
    matter = ok(grid_worker.post("/api/v1/matters", {"type_code": "SR01", "title": "暴露垃圾", "lng": place.lng,
                                                      "lat": place.lat, "channel": "grid_worker"}))
    ok(village.act(matter["id"], "accept"))
    assert ok(grid_worker.get("/api/v1/inbox/count")) == {"unread": 0, "pending_ack": 0}

    ok(village.act(matter["id"], "dispatch", "交网格员处理"))
    page = ok(grid_worker.get("/api/v1/inbox", kind="order"))
    ours = [i for i in page["items"] if i["link_id"] == matter["id"]]
    assert len(ours) == 1
    assert ours[0]["title"] == f"派单：{matter['number']} 暴露垃圾" and ours[0]["needs_ack"] is True
    assert ours[0]["body"] == "办理期限：2026-12-07 15:30"  # 4 office hours: 09:00–12:00, 14:30–15:30
    # The dispatcher is not told about their own dispatch.
    assert [i for i in ok(village.get("/api/v1/inbox"))["items"] if i["link_id"] == matter["id"]] == []

    ok(county.act(matter["id"], "supervise", "请加快办理", days=1))
    orders = [i for i in ok(village.get("/api/v1/inbox"))["items"] if i["link_id"] == matter["id"]]
    assert [(i["kind"], i["title_en"]) for i in orders] == [
        ("order", f"Supervision order: {matter['number']} 暴露垃圾")]
    assert orders[0]["body"].startswith("请加快办理\n答复办理期限：")
    assert ok(village.post(f"/api/v1/inbox/{orders[0]['id']}/ack"))["escalation"] == "acknowledged"
