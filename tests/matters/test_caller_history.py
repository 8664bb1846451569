"""The 12345 desk sees a caller's earlier matters (issue 11 §2): matched by the keyed hash of the
phone number, shown masked, behind its own permission, every look-up in the audit chain."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, text

from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import actor, place_in


def test_caller_history_finds_earlier_calls_by_phone_masked_and_audited(live_server: LiveServer, engine: Engine,
                                                                        yongzhou: Yongzhou) -> None:
    desk = actor(live_server, engine, "hotline_operator", "431100000000")
    place = place_in(yongzhou, "431102", 3)
    phone = f"139{uuid.uuid4().int % 10**8:08d}"  # this test's own caller
    numbers = []
    for title, number in (("路灯不亮", phone), ("噪音扰民", f"+86 {phone}"), ("别人的事", "13800000000")):
        created = desk.post("/api/v1/matters", {"type_code": "SR01", "title": title, "description": "来电",
                                                "lng": place.lng, "lat": place.lat, "channel": "hotline",
                                                "reporter_name": "周桂兰", "reporter_phone": number})
        assert created.status_code == 201, created.text
        numbers.append(created.json()["number"])

    found = desk.post("/api/v1/hotline/caller-history", {"phone": f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"})
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert [m["number"] for m in items] == [numbers[1], numbers[0]]  # the same number however typed, newest first
    assert {m["reporter_phone"] for m in items} == {f"{phone[:3]}****{phone[7:]}"}
    assert phone not in found.text

    with engine.connect() as conn:
        entry = conn.execute(text("SELECT actor, after FROM audit_log WHERE action = 'pii.lookup' "
                                  "ORDER BY at DESC LIMIT 1")).one()
    assert entry.actor == desk.user.username and '"found":2' in entry.after and phone not in entry.after

    # Without the permission (a grid worker), and with a number that is not a phone.
    worker = actor(live_server, engine, "grid_worker", place.grid)
    assert worker.post("/api/v1/hotline/caller-history", {"phone": phone}).status_code == 403
    bad = desk.post("/api/v1/hotline/caller-history", {"phone": "abc"}, lang="en")
    assert bad.status_code == 422


def test_caller_history_stays_inside_the_operators_jurisdiction(live_server: LiveServer, engine: Engine,
                                                                yongzhou: Yongzhou) -> None:
    city = actor(live_server, engine, "hotline_operator", "431100000000")
    phone = f"137{uuid.uuid4().int % 10**8:08d}"
    place = place_in(yongzhou, "431103", 1)  # 冷水滩区
    created = city.post("/api/v1/matters", {"type_code": "SR01", "title": "积水", "description": "来电",
                                            "lng": place.lng, "lat": place.lat, "channel": "hotline",
                                            "reporter_phone": phone})
    assert created.status_code == 201, created.text
    county = actor(live_server, engine, "hotline_operator", "431102000000")  # 零陵区's desk
    assert county.post("/api/v1/hotline/caller-history", {"phone": phone}).json()["items"] == []
    assert len(city.post("/api/v1/hotline/caller-history", {"phone": phone}).json()["items"]) == 1
