"""Issue 9 §3.1 and §3.2 (outside security test): reporting across borders is one rule on every
channel, and duplicate candidates reach only the owning unit's acceptors.

* Anyone who may report may report anywhere in the city; the matter goes to the owner of the
  point's grid. A reporter outside the owner's jurisdiction reads back only the public view:
  number, type, status, public notes.
* Duplicate candidates are computed within the owning unit's jurisdiction and shown on the
  matter's detail to those who may accept it; no reporter's answer lists them.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
from sqlalchemy import Engine

from civicgrid.db import transaction
from civicgrid.geo.service import locate_code
from civicgrid.kit.clock import FakeClock
from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import Place, actor, place_in
from tests.matters.open311.test_open311 import V2, make_client

PUBLIC_FIELDS = {"view", "id", "number", "type_code", "type_name", "status", "reported_at", "status_changed_at",
                 "notes"}


def body(place: Place, type_code: str = "HB01", **extra: Any) -> dict[str, Any]:
    return {"type_code": type_code, "title": "河道漂浮垃圾", "description": "桥下河面大片漂浮垃圾",
            "lng": place.lng, "lat": place.lat, "channel": "grid_worker", "reporter_name": "张三",
            "reporter_phone": "13812345678", **extra}


def test_a_reporter_across_the_border_sees_no_candidate_and_the_owner_does(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    theirs = place_in(yongzhou, "431103", 6)  # county B (冷水滩区)
    b_worker = actor(live_server, engine, "grid_worker", theirs.grid)
    b_village = actor(live_server, engine, "village_officer", theirs.village)
    a_officer = actor(live_server, engine, "township_officer", place_in(yongzhou, "431102", 0).township)  # county A

    original = b_worker.post("/api/v1/matters", body(theirs))
    assert original.status_code == 201, original.text
    first = original.json()

    crossing = a_officer.post("/api/v1/matters", body(theirs))
    assert crossing.status_code == 201, crossing.text
    answer = crossing.json()
    # The reporter gets the public view: B's matter is neither named nor numbered, and nothing
    # beyond number, type, status and public notes comes back.
    assert set(answer) == PUBLIC_FIELDS and answer["view"] == "public"
    assert first["id"] not in crossing.text and first["number"] not in crossing.text
    assert (answer["type_code"], answer["status"], answer["notes"]) == ("HB01", "reported", [])
    # Routed to its owner by the point's grid (B's village), whoever reported it.
    detail = b_village.get(f"/api/v1/matters/{answer['id']}").json()
    assert detail["division_code"] == theirs.village
    assert [(d["candidate_id"], d["candidate_number"]) for d in detail["duplicates"]] == [(first["id"],
                                                                                           first["number"])]
    # A reporter inside the jurisdiction gets the detail, but still no candidate.
    again = b_worker.post("/api/v1/matters", body(theirs))
    assert again.status_code == 201 and again.json()["duplicates"] == []
    assert first["number"] not in again.text


def test_the_public_view_shows_public_notes_only(live_server: LiveServer, engine: Engine,
                                                 yongzhou: Yongzhou) -> None:
    theirs = place_in(yongzhou, "431103", 7)
    b_village = actor(live_server, engine, "village_officer", theirs.village)
    a_worker = actor(live_server, engine, "grid_worker", place_in(yongzhou, "431102", 0).grid)
    matter_id = a_worker.post("/api/v1/matters", body(theirs, "SR01")).json()["id"]
    assert b_village.act(matter_id, "accept", "已受理，今日安排清运").status_code == 200
    assert b_village.act(matter_id, "dispatch", "内部：交保洁员老李处理").status_code == 200

    seen = a_worker.get(f"/api/v1/matters/{matter_id}")
    assert seen.status_code == 200
    view = seen.json()
    assert set(view) == PUBLIC_FIELDS and view["status"] == "dispatched"
    assert [(n["action"], n["note"]) for n in view["notes"]] == [("accept", "已受理，今日安排清运")]
    text = seen.text
    for secret in ("老李", b_village.user.username, "13812345678", "5678", "张三", "桥下河面"):
        assert secret not in text, secret
    # Their own queue lists it without personal data.
    queue = a_worker.get("/api/v1/matters", queue="reported_by_me").json()["items"]
    row = next(r for r in queue if r["id"] == matter_id)
    assert (row["reporter_name"], row["reporter_phone"]) == (None, None)
    # They may not act on it.
    assert a_worker.act(matter_id, "accept").status_code == 409


def _border(engine: Engine, a: Place, b: Place) -> tuple[Place, Place]:
    """Two points ≤ 25 m apart on either side of a county border, on the line from a to b."""
    with transaction(engine, write=False) as session:
        steps = max(2, int(math.dist((a.lng, a.lat), (b.lng, b.lat)) / 0.0002))  # ~20 m per step
        previous: Place | None = None
        for i in range(steps + 1):
            lng, lat = a.lng + (b.lng - a.lng) * i / steps, a.lat + (b.lat - a.lat) * i / steps
            grid = locate_code(session, lng, lat)
            if grid is None:
                previous = None
                continue
            here = Place(grid, lng, lat)
            if previous is not None and previous.grid[:6] != grid[:6]:
                return previous, here
            previous = here
    raise AssertionError("no county border between the two places")


def test_candidates_stop_at_the_owners_border(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    near, across = _border(engine, place_in(yongzhou, "431102", 2), place_in(yongzhou, "431103", 2))
    assert near.grid[:6] != across.grid[:6]
    this_side = actor(live_server, engine, "grid_worker", near.grid)
    other_side = actor(live_server, engine, "grid_worker", across.grid)
    owner = actor(live_server, engine, "county_plc_staff", across.county)
    first = this_side.post("/api/v1/matters", body(near, "SZ02")).json()  # county-level type
    second = other_side.post("/api/v1/matters", body(across, "SZ02")).json()
    assert first["division_code"] != second["division_code"]
    # Within 200 m, same type and day, but owned by another county: not a candidate.
    assert owner.get(f"/api/v1/matters/{second['id']}").json()["duplicates"] == []
    third = other_side.post("/api/v1/matters", body(across, "SZ02")).json()
    assert [d["candidate_id"] for d in owner.get(f"/api/v1/matters/{third['id']}").json()["duplicates"]] == \
        [second["id"]]


def test_open311_follows_the_same_rule(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou,
                                       clock: FakeClock) -> None:
    ours = place_in(yongzhou, "431124", 0)  # the client's county (道县)
    theirs = place_in(yongzhou, "431125", 0)  # another county (江永县)
    _, key = make_client(engine, ours.county, name="道县随手拍")
    b_worker = actor(live_server, engine, "grid_worker", theirs.grid)
    b_village = actor(live_server, engine, "village_officer", theirs.village)
    original = b_worker.post("/api/v1/matters", body(theirs, "SR01")).json()

    posted = httpx.post(f"{live_server.url}{V2}/requests.json", timeout=30, data={
        "api_key": key, "service_code": "SR01", "lat": str(theirs.lat), "long": str(theirs.lng),
        "description": "路口垃圾堆积", "first_name": "建国", "last_name": "李", "phone": "13912345678"})
    assert posted.status_code == 200, posted.text
    assert original["id"] not in posted.text and original["number"] not in posted.text
    request_id = posted.json()[0]["service_request_id"]
    detail = b_village.get(f"/api/v1/matters/{request_id}").json()
    assert detail["division_code"] == theirs.village and detail["channel"] == "open311"
    assert [d["candidate_id"] for d in detail["duplicates"]] == [original["id"]]
    assert b_village.act(request_id, "accept", "已受理").status_code == 200
    assert b_village.act(request_id, "dispatch", "内部：交保洁员老李处理").status_code == 200

    read = httpx.get(f"{live_server.url}{V2}/requests/{request_id}.json", params={"api_key": key}, timeout=30)
    assert read.status_code == 200, read.text
    request = read.json()[0]
    assert request["status"] == "open" and request["status_notes"] == "已派遣：已受理"
    assert request["service_notice"] == f"事项编号 {detail['number']}"
    assert (request["description"], request["address"], request["lat"], request["long"],
            request["agency_responsible"]) == (None, None, None, None, None)
    text = json.dumps(read.json(), ensure_ascii=False)
    for secret in ("老李", "建国", "13912345678", original["number"]):
        assert secret not in text, secret
    listed = httpx.get(f"{live_server.url}{V2}/requests.json", params={"api_key": key}, timeout=30).json()
    assert request_id in [r["service_request_id"] for r in listed]
    # The same request read by a client of the owning county is in full.
    _, owner_key = make_client(engine, theirs.county, name="江永随手拍")
    full = httpx.get(f"{live_server.url}{V2}/requests/{request_id}.json", params={"api_key": owner_key},
                     timeout=30).json()[0]
    assert full["description"] == "路口垃圾堆积" and full["lat"] == theirs.lat
