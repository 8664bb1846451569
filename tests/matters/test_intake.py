"""Intake over HTTP: routing, idempotent retries (also racing), bad input in both languages
leaving nothing behind, photos, duplicates, and deadlines across a weekend and National Day."""

from __future__ import annotations

import io
import struct
import threading
import zlib
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from civicgrid.db import transaction
from civicgrid.kit.clock import FakeClock
from civicgrid.matters.models import DuplicateCandidate, Matter, MatterPhoto
from civicgrid.timers.worker import TimerWorker
from civicgrid.workflow.models import TimelineEvent
from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import Place, actor, china, place_in


def body(place: Place, type_code: str = "SR01", **extra: Any) -> dict[str, Any]:
    return {"type_code": type_code, "title": "路边垃圾", "description": "", "lng": place.lng, "lat": place.lat,
            "channel": "grid_worker", **extra}


def matter_count(engine: Engine) -> int:
    with transaction(engine, write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Matter)) or 0)


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def test_routing_follows_the_catalogue_level(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431103", 3)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    expected = {"SR01": ("village", place.village), "SR03": ("township", place.township),
                "SZ02": ("county", place.county), "SZ04": ("city", "431100000000")}
    for code, (level, owner) in expected.items():
        response = reporter.post("/api/v1/matters", body(place, code))
        assert response.status_code == 201, response.text
        matter = response.json()
        assert (matter["owner_level"], matter["division_code"]) == (level, owner), code


def test_retry_with_the_same_key_returns_the_first_matter(live_server: LiveServer, engine: Engine,
                                                          yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431102", 5)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    key = {"Idempotency-Key": "retry-0001"}
    first = reporter.post("/api/v1/matters", body(place), headers=key)
    again = reporter.post("/api/v1/matters", body(place), headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and first.json()["number"] == again.json()["number"]
    # Another user may use the same key for a matter of their own.
    other = actor(live_server, engine, "grid_worker", place.grid)
    assert other.post("/api/v1/matters", body(place), headers=key).status_code == 201


def test_two_concurrent_posts_with_one_key_create_one_matter(live_server: LiveServer, engine: Engine,
                                                             yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431102", 6)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    before = matter_count(engine)
    results: list[httpx.Response] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        barrier.wait()
        results.append(reporter.post("/api/v1/matters", body(place), headers={"Idempotency-Key": "race-42"}))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201], [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    assert matter_count(engine) == before + 1


def test_bad_input_is_422_in_the_callers_language_and_writes_nothing(live_server: LiveServer, engine: Engine,
                                                                     yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431102", 7)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    before = matter_count(engine)
    unknown = reporter.post("/api/v1/matters", body(place, "NOPE99"), lang="en")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "type_code"
    assert "Unknown matter type" in unknown.json()["error"]["message"]
    assert "事项类型" in reporter.post("/api/v1/matters", body(place, "NOPE99")).json()["error"]["message"]
    missing = dict(body(place))
    del missing["title"]
    response = reporter.post("/api/v1/matters", missing, lang="en")
    assert response.status_code == 422 and "title" in response.json()["error"]["message"]
    outside = reporter.post("/api/v1/matters", {**body(place), "lng": 116.40, "lat": 39.90}, lang="en")  # Beijing
    assert outside.status_code == 422 and "outside the city" in outside.json()["error"]["message"]
    outside_zh = reporter.post("/api/v1/matters", {**body(place), "lng": 116.40, "lat": 39.90})
    assert "不在本市" in outside_zh.json()["error"]["message"]
    phone = reporter.post("/api/v1/matters", {**body(place), "channel": "hotline", "reporter_phone": "12345"})
    assert phone.status_code == 422 and phone.json()["error"]["field"] == "reporter_phone"
    assert matter_count(engine) == before


def test_photos_are_checked_stored_and_served_with_access_checks(live_server: LiveServer, engine: Engine,
                                                                 yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431102", 8)
    other = place_in(yongzhou, "431103", 2)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    stranger = actor(live_server, engine, "village_officer", other.village)
    matter = reporter.post("/api/v1/matters", body(place)).json()
    url = f"/api/v1/matters/{matter['id']}/photos"
    image = png()
    saved = reporter.post(url, files={"file": ("a.png", io.BytesIO(image), "image/png")}, data={"stage": "report"})
    assert saved.status_code == 201, saved.text
    assert saved.json()["content_type"] == "image/png"
    fetched = reporter.get(saved.json()["url"])
    assert fetched.status_code == 200 and fetched.content == image and fetched.headers["content-type"] == "image/png"
    assert stranger.get(saved.json()["url"]).status_code == 404
    fake = reporter.post(url, files={"file": ("x.jpg", io.BytesIO(b"<html>not an image</html>"), "image/jpeg")},
                         lang="en")
    assert fake.status_code == 415 and "JPEG" in fake.json()["error"]["message"]
    big = b"\xff\xd8\xff\xe0" + b"\0" * (5 * 1024 * 1024)
    too_big = reporter.post(url, files={"file": ("big.jpg", io.BytesIO(big), "image/jpeg")})
    assert too_big.status_code == 413 and "照片过大" in too_big.json()["error"]["message"]
    huge = reporter.post(url, files={"file": ("huge.jpg", io.BytesIO(b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024)),
                                              "image/jpeg")})
    assert huge.status_code == 413  # over the request body limit
    with transaction(engine, write=False) as session:
        count = session.scalar(select(func.count()).select_from(MatterPhoto)
                               .where(MatterPhoto.matter_id == matter["id"]))
    assert count == 1
    assert len(reporter.get(f"/api/v1/matters/{matter['id']}").json()["photos"]) == 1


def test_duplicates_are_linked_and_merged_or_kept(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431102", 9)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)
    first = reporter.post("/api/v1/matters", body(place, "HB01")).json()
    near = Place(place.grid, place.lng + 0.0005, place.lat)  # ~50 m east
    second = reporter.post("/api/v1/matters", body(near, "HB01")).json()
    third = reporter.post("/api/v1/matters", body(place, "HB01")).json()
    other_type = reporter.post("/api/v1/matters", body(place, "SR06")).json()
    # Candidates are for the owning unit's acceptors: on the detail, never in the reporter's answer.
    assert all(answer["duplicates"] == [] for answer in (first, second, third, other_type))

    def candidates(matter: dict[str, Any]) -> list[dict[str, Any]]:
        return village.get(f"/api/v1/matters/{matter['id']}").json()["duplicates"]  # type: ignore[no-any-return]

    assert candidates(first) == [] and candidates(other_type) == []
    assert [d["candidate_id"] for d in candidates(second)] == [first["id"]]
    assert 30 < candidates(second)[0]["distance_m"] < 70
    assert {d["candidate_id"] for d in candidates(third)} == {first["id"], second["id"]}
    assert reporter.get(f"/api/v1/matters/{second['id']}").json()["duplicates"] == []  # grid worker: no accept
    bogus = village.act(second["id"], "merge", duplicate_of=other_type["id"])
    assert bogus.status_code == 422
    merged = village.act(second["id"], "merge", "同一处河道垃圾", duplicate_of=first["id"]).json()
    assert (merged["status"], merged["duplicate_of"]) == ("merged", first["id"])
    kept = village.act(third["id"], "keep_separate", candidate_id=first["id"]).json()
    assert {d["candidate_id"]: d["decision"] for d in kept["duplicates"]}[first["id"]] == "kept"
    # Each decision is a step of the link's own transition table, on its timeline.
    with transaction(engine, write=False) as session:
        decided = session.execute(select(TimelineEvent.action, TimelineEvent.from_status, TimelineEvent.to_status)
                                  .join(DuplicateCandidate, DuplicateCandidate.id == TimelineEvent.entity_id)
                                  .where(TimelineEvent.entity_type == "matter_duplicate",
                                         DuplicateCandidate.candidate_id == first["id"])
                                  .order_by(TimelineEvent.action)).all()
        assert [tuple(row) for row in decided] == [("keep_separate", "pending", "kept"),
                                                   ("merge", "pending", "merged")]


def test_deadlines_skip_the_weekend_and_national_day(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou,
                                                     clock: FakeClock, worker: TimerWorker) -> None:
    place = place_in(yongzhou, "431102", 10)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)

    # Friday 16:00 + 4 working hours (暴露垃圾): 16:00–17:30, then Monday 08:30–11:00
    clock.set(china(2026, 12, 11, 16, 0))
    reporter.relogin()
    village.relogin()
    weekend = reporter.post("/api/v1/matters", body(place, "SR01")).json()
    village.act(weekend["id"], "accept")
    dispatched = village.act(weekend["id"], "dispatch").json()
    assert dispatched["step_due_at"] == "2026-12-14T03:00:00Z"  # Monday 11:00 CST
    clock.set(china(2026, 12, 13, 20, 0))  # Sunday evening: nothing is late yet
    worker.run_due()
    village.relogin()
    assert village.get(f"/api/v1/matters/{weekend['id']}").json()["alert"] == "none"
    clock.set(china(2026, 12, 14, 11, 1))
    worker.run_due()
    village.relogin()
    late = village.get(f"/api/v1/matters/{weekend['id']}").json()
    # red; 暴露垃圾 auto-escalates to the township
    assert late["overdue"] is True and (late["owner_level"], late["status"]) == ("township", "escalated")
    assert village.get("/api/v1/matters", queue="division", overdue="true").json()["total"] >= 1

    # 出租房屋治安隐患 (ZA02, 3 working days) dispatched Wednesday 30 September 16:00: 1–7 October
    # are the National Day holidays, Saturday 10 October is an adjusted working day.
    clock.set(china(2026, 9, 30, 16, 0))
    reporter.relogin()
    village.relogin()
    holiday = reporter.post("/api/v1/matters", body(place, "ZA02")).json()
    village.act(holiday["id"], "accept")
    due = village.act(holiday["id"], "dispatch").json()["step_due_at"]
    # 3 working days from Wed 30 Sep 16:00: Thu 8 Oct 16:00 (1), Fri 9 Oct 16:00 (2), Sat 10 Oct 16:00 (3)
    assert due == "2026-10-10T08:00:00Z"
    clock.set(china(2026, 10, 7, 17, 0))
    worker.run_due()
    village.relogin()
    assert village.get(f"/api/v1/matters/{holiday['id']}").json()["alert"] == "none"
    # An office day is 390 minutes; 75 % of 1170 = 877.5: 90 on Wed 30 Sep, 390 on Thu 8 Oct, 390 on
    # Fri 9 Oct, and 7.5 on the adjusted working Saturday → Sat 10 Oct 08:37:30
    clock.set(china(2026, 10, 9, 17, 31))
    worker.run_due()
    village.relogin()
    assert village.get(f"/api/v1/matters/{holiday['id']}").json()["alert"] == "none"
    clock.set(china(2026, 10, 10, 8, 39))
    worker.run_due()
    village.relogin()
    assert village.get(f"/api/v1/matters/{holiday['id']}").json()["alert"] == "yellow"
    clock.set(china(2026, 10, 10, 16, 1))
    worker.run_due()
    village.relogin()
    red = village.get(f"/api/v1/matters/{holiday['id']}").json()
    assert red["overdue"] is True


def test_intake_and_transitions_are_pushed(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    import asyncio
    import json

    import websockets

    place = place_in(yongzhou, "431102", 11)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)

    async def listen() -> list[dict[str, Any]]:
        async with websockets.connect(f"{live_server.ws_url}/api/v1/ws") as ws:
            await ws.send(json.dumps({"action": "auth", "token": village.token}))  # never in the address
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "ready"
            await ws.send(json.dumps({"action": "subscribe", "channel": f"division:{place.village}"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "subscribed"
            matter = await asyncio.to_thread(lambda: reporter.post("/api/v1/matters", body(place)).json())
            await asyncio.to_thread(village.act, matter["id"], "accept")
            got: list[dict[str, Any]] = []
            while len(got) < 2:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if message["type"] == "event":
                    got.append(message)
            return got

    messages = asyncio.run(listen())
    assert [m.get("event") for m in messages] == ["matter.report", "matter.accept"]
