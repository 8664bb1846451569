"""The 12345 hotline as the first API client (issue 11 §2): tickets keep their number and request
type, batches are idempotent by ticket number and apply every good item, a unit returns a
misrouted ticket (退回热线) through one outbox event, and the hotline records its return visit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from civicgrid.db import transaction
from civicgrid.events.models import DomainEvent
from civicgrid.kit.clock import FakeClock
from civicgrid.matters.models import Matter
from tests.apiclients.conftest import Client, make_client
from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import Place, actor, place_in

TICKETS = "/api/v1/hotline/tickets"


@pytest.fixture
def place(yongzhou: Yongzhou) -> Place:
    return place_in(yongzhou, "431102", 2)


@pytest.fixture
def hotline(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> Client:
    return make_client(live_server, engine, yongzhou.city)


def ticket(place: Place, number: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "ticket_number": number or f"YZ12345-{uuid.uuid4().hex[:10]}",
        "request_type": "投诉",
        "type_code": "SR01",
        "title": "小区门口垃圾三天无人清运",
        "description": "市民来电反映",
        "lng": place.lng,
        "lat": place.lat,
        "caller_name": "王小明",
        "caller_phone": "13812345678",
        **fields,
    }


def matters_of(engine: Engine, number: str) -> list[Matter]:
    with transaction(engine, write=False) as session:
        return list(
            session.scalars(
                select(Matter).where(Matter.external_system == "hotline_12345", Matter.external_ref == number)
            )
        )


def test_a_ticket_becomes_a_matter_keeping_its_number_and_request_type(
    hotline: Client, engine: Engine, place: Place, clock: FakeClock, live_server: LiveServer
) -> None:
    sent = ticket(place, request_type="求助")
    answer = hotline.post(TICKETS, {"tickets": [sent]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1
    [matter] = matters_of(engine, sent["ticket_number"])
    assert (matter.channel, matter.request_type, matter.division_code) == ("hotline", "help", place.village)
    assert matter.id == answer.json()["items"][0]["result_id"]
    read = hotline.get(TICKETS, lang="en", ticket_number=sent["ticket_number"]).json()
    assert (read["number"], read["status"], read["request_type_name"]) == (
        matter.number,
        "reported",
        "request for help",
    )
    village = actor(live_server, engine, "village_officer", place.village)
    detail = village.get(f"/api/v1/matters/{matter.id}").json()
    assert (detail["external_ref"], detail["request_type"]) == (sent["ticket_number"], "help")
    assert detail["reporter_phone"] == "138****5678"


def test_a_duplicate_ticket_number_creates_one_matter_and_answers_the_first(
    hotline: Client, engine: Engine, place: Place, clock: FakeClock
) -> None:
    first = ticket(place)
    answer = hotline.post(TICKETS, {"tickets": [first, dict(first)]}).json()
    assert [i["outcome"] for i in answer["items"]] == ["accepted", "duplicate"]
    assert answer["items"][0]["result_id"] == answer["items"][1]["result_id"]
    again = hotline.post(TICKETS, {"tickets": [first]}).json()
    assert again["items"][0]["outcome"] == "duplicate"
    assert again["items"][0]["result_id"] == answer["items"][0]["result_id"]
    assert len(matters_of(engine, first["ticket_number"])) == 1
    # The same number with other content: the sender reused an id, refused (409), nothing changed.
    changed = hotline.post(TICKETS, {"tickets": [{**first, "title": "另一件事"}]}).json()
    assert changed["items"][0] | {"message": None} == {
        "sender_id": first["ticket_number"],
        "outcome": "refused",
        "result_type": None,
        "result_id": None,
        "status": 409,
        "code": "sender_id_reused",
        "message": None,
    }
    assert [m.title for m in matters_of(engine, first["ticket_number"])] == ["小区门口垃圾三天无人清运"]


def test_a_bad_item_is_refused_and_the_others_applied(
    hotline: Client, engine: Engine, place: Place, clock: FakeClock
) -> None:
    good, later = ticket(place), ticket(place, request_type="suggestion")
    unknown_type = ticket(place, type_code="XX99")
    beijing = ticket(place, lng=116.4074, lat=39.9042)
    bad_kind = ticket(place, request_type="闲聊")
    no_number = {k: v for k, v in ticket(place).items() if k != "ticket_number"}
    answer = hotline.post(TICKETS, {"tickets": [good, unknown_type, beijing, bad_kind, no_number, later]}, lang="en")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["duplicate"], body["refused"]) == (2, 0, 4)
    outcomes = [(i["outcome"], i["status"], i["code"]) for i in body["items"]]
    assert outcomes == [
        ("accepted", 200, None),
        ("refused", 422, "invalid"),
        ("refused", 422, "invalid"),
        ("refused", 422, "invalid"),
        ("refused", 422, "invalid"),
        ("accepted", 200, None),
    ]
    assert "XX99" in body["items"][1]["message"] and "outside the city" in body["items"][2]["message"]
    assert len(matters_of(engine, good["ticket_number"])) == 1
    assert len(matters_of(engine, later["ticket_number"])) == 1
    for refused in (unknown_type, beijing, bad_kind):
        assert matters_of(engine, refused["ticket_number"]) == []
    # A refused item left no receipt: sent again once fixed, it is accepted.
    fixed = hotline.post(TICKETS, {"tickets": [{**unknown_type, "type_code": "SR01"}]}).json()
    assert fixed["items"][0]["outcome"] == "accepted"


def test_a_returned_ticket_leaves_the_units_queue_and_tells_the_hotline_once(
    hotline: Client, engine: Engine, place: Place, live_server: LiveServer, clock: FakeClock
) -> None:
    sent = ticket(place)
    matter_id = hotline.post(TICKETS, {"tickets": [sent]}).json()["items"][0]["result_id"]
    village = actor(live_server, engine, "village_officer", place.village)

    def in_my_queue() -> bool:
        return matter_id in [m["id"] for m in village.get("/api/v1/matters", queue="mine", limit="200").json()["items"]]

    assert in_my_queue()
    assert "return_to_hotline" in village.get(f"/api/v1/matters/{matter_id}").json()["allowed_actions"]
    assert village.act(matter_id, "return_to_hotline").status_code == 422  # the reason is required
    returned = village.act(matter_id, "return_to_hotline", "不属于本村职责：应由县住建局处理")
    assert returned.status_code == 200, returned.text
    assert returned.json()["status"] == "handed_back"
    assert not in_my_queue()
    assert village.act(matter_id, "accept").status_code == 409  # finished

    with transaction(engine, write=False) as session:
        events = session.scalars(select(DomainEvent).where(DomainEvent.entity_id == matter_id)).all()
    assert [(e.name, e.data["external_ref"], e.data["reason"]) for e in events] == [
        ("matters.handed_back", sent["ticket_number"], "不属于本村职责：应由县住建局处理")
    ]
    page = hotline.get("/api/v1/hotline/returns").json()
    mine = [i for i in page["items"] if i["matter_id"] == matter_id]
    assert [(i["ticket_number"], i["reason"]) for i in mine] == [
        (sent["ticket_number"], "不属于本村职责：应由县住建局处理")
    ]
    assert hotline.get("/api/v1/hotline/returns", after=page["next_after"]).json()["items"] == []
    assert hotline.get(TICKETS, ticket_number=sent["ticket_number"]).json()["status"] == "handed_back"

    # A matter that did not come from the hotline cannot be "returned to the hotline".
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    own = grid_worker.post(
        "/api/v1/matters",
        {"type_code": "SR01", "title": "垃圾", "lng": place.lng, "lat": place.lat, "channel": "grid_worker"},
    ).json()["id"]
    assert "return_to_hotline" not in village.get(f"/api/v1/matters/{own}").json()["allowed_actions"]
    assert village.act(own, "return_to_hotline", "误派").status_code == 409


def test_the_hotline_records_the_callers_satisfaction(
    hotline: Client, engine: Engine, place: Place, live_server: LiveServer, clock: FakeClock
) -> None:
    sent = ticket(place)
    matter_id = hotline.post(TICKETS, {"tickets": [sent]}).json()["items"][0]["result_id"]
    visit = {
        "visit_id": f"RV-{uuid.uuid4().hex[:8]}",
        "ticket_number": sent["ticket_number"],
        "satisfaction": 4,
        "note": "来电人表示基本满意",
    }
    early = hotline.post("/api/v1/hotline/return-visits", {"visits": [visit]}).json()["items"][0]
    assert (early["outcome"], early["status"]) == ("refused", 409)  # not closed yet

    village = actor(live_server, engine, "village_officer", place.village)
    colleague = actor(live_server, engine, "village_officer", place.village)  # verifies what village handled
    for action, note, extra in (
        ("accept", None, {}),
        ("dispatch", None, {}),
        ("start", None, {}),
        ("resolve", "已清运", {"result": "垃圾已清运"}),
        ("verify", None, {}),
        ("close", None, {}),
    ):
        response = (colleague if action == "verify" else village).act(matter_id, action, note, **extra)
        assert response.status_code == 200, (action, response.text)
    # The handler does not record the hotline's return visit.
    assert "return_visit" not in village.get(f"/api/v1/matters/{matter_id}").json()["allowed_actions"]
    assert village.act(matter_id, "return_visit", satisfaction=5).status_code == 409

    recorded = hotline.post("/api/v1/hotline/return-visits", {"visits": [visit]}).json()["items"][0]
    assert recorded["outcome"] == "accepted", recorded
    again = hotline.post("/api/v1/hotline/return-visits", {"visits": [visit]}).json()["items"][0]
    assert (again["outcome"], again["result_id"]) == ("duplicate", matter_id)
    read = hotline.get(TICKETS, ticket_number=sent["ticket_number"]).json()
    assert (read["status"], read["satisfaction"], read["result"]) == ("evaluated", 4, "垃圾已清运")
    timeline = village.get(f"/api/v1/matters/{matter_id}").json()["timeline"]
    assert timeline[-1]["action"] == "return_visit" and timeline[-1]["actor_role"] == "api_client"


def test_a_ticket_outside_the_clients_scope_answers_404(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, place: Place, clock: FakeClock
) -> None:
    lingling = make_client(live_server, engine, yongzhou.lingling, name="零陵 12345 分中心")
    lengshuitan = make_client(live_server, engine, yongzhou.lengshuitan, name="冷水滩 12345 分中心")
    sent = ticket(place)
    assert lingling.post(TICKETS, {"tickets": [sent]}).json()["accepted"] == 1
    assert lingling.get(TICKETS, ticket_number=sent["ticket_number"]).status_code == 200
    outside = lengshuitan.get(TICKETS, ticket_number=sent["ticket_number"])
    assert outside.status_code == 404 and outside.json()["error"]["code"] == "not_found"
    assert lengshuitan.get(TICKETS, ticket_number="NO-SUCH-TICKET").json() == outside.json()
    # Another hotline client cannot claim the same ticket number for a second matter.
    city = make_client(live_server, engine, yongzhou.city, name="市 12345")
    taken = city.post(TICKETS, {"tickets": [sent]}).json()["items"][0]
    assert (taken["outcome"], taken["status"]) == ("refused", 409)
    with transaction(engine, write=False) as session:
        count = session.scalar(
            select(func.count()).select_from(Matter).where(Matter.external_ref == sent["ticket_number"])
        )
    assert count == 1


def test_an_extended_ticket_is_told_to_the_hotline(
    hotline: Client, engine: Engine, place: Place, live_server: LiveServer, clock: FakeClock
) -> None:
    sent = ticket(place, type_code="MS04", title="楼道灯坏")  # village, handle 5 working days
    matter_id = hotline.post(TICKETS, {"tickets": [sent]}).json()["items"][0]["result_id"]
    village = actor(live_server, engine, "village_officer", place.village)
    township = actor(live_server, engine, "township_officer", place.township)
    for action, note, extra in (("accept", None, {}), ("dispatch", None, {}),
                                ("request_extension", "需采购配件", {"days": 2})):
        response = village.act(matter_id, action, note, **extra)
        assert response.status_code == 200, (action, response.text)
    # Nothing is told while the request waits; the approval tells the hotline once.
    before = [i for i in hotline.get("/api/v1/hotline/extensions").json()["items"] if i["matter_id"] == matter_id]
    assert before == []
    approved = township.act(matter_id, "approve_extension", "同意延期")
    assert approved.status_code == 200, approved.text
    page = hotline.get("/api/v1/hotline/extensions").json()
    told = [i for i in page["items"] if i["matter_id"] == matter_id]
    assert [(i["ticket_number"], i["days"], i["reason"]) for i in told] == [(sent["ticket_number"], 2, "需采购配件")]
    assert told[0]["step_due_at"].replace("+00:00", "Z") == approved.json()["step_due_at"]
    assert hotline.get("/api/v1/hotline/extensions", after=page["next_after"]).json()["items"] == []


def test_an_unreached_caller_is_recorded_as_not_rated(
    hotline: Client, engine: Engine, place: Place, live_server: LiveServer, clock: FakeClock
) -> None:
    """Issue 11 §5 (GB/T 30428's two-person loop): satisfaction comes from the reporter only; a caller
    the return visit cannot reach is "not rated" (未评价) — the matter stays closed, unrated, with
    the visit on its timeline — and nobody fills it in."""
    sent = ticket(place)
    matter_id = hotline.post(TICKETS, {"tickets": [sent]}).json()["items"][0]["result_id"]
    village = actor(live_server, engine, "village_officer", place.village)
    colleague = actor(live_server, engine, "village_officer", place.village)
    for action, extra in (("accept", {}), ("dispatch", {}), ("resolve", {"result": "已处理"}), ("verify", {}),
                          ("close", {})):
        response = (colleague if action == "verify" else village).act(matter_id, action, **extra)
        assert response.status_code == 200, (action, response.text)
    # A visit either reaches the caller with a rating, or records that it did not.
    both = {"visit_id": f"RV-{uuid.uuid4().hex[:8]}", "ticket_number": sent["ticket_number"], "reached": False,
            "satisfaction": 5}
    refused = hotline.post("/api/v1/hotline/return-visits", {"visits": [both]}).json()["items"][0]
    assert (refused["outcome"], refused["status"]) == ("refused", 422), refused
    unreached = {"visit_id": f"RV-{uuid.uuid4().hex[:8]}", "ticket_number": sent["ticket_number"], "reached": False}
    recorded = hotline.post("/api/v1/hotline/return-visits", {"visits": [unreached]}).json()["items"][0]
    assert recorded["outcome"] == "accepted", recorded
    read = hotline.get(TICKETS, ticket_number=sent["ticket_number"]).json()
    assert (read["status"], read["satisfaction"]) == ("closed", None)
    detail = village.get(f"/api/v1/matters/{matter_id}").json()
    assert (detail["timeline"][-1]["action"], detail["satisfaction"]) == ("return_visit_unreached", None)
    assert detail["timeline"][-1]["note"].startswith("回访未联系上来电人")
    # Nobody types a rating in for the caller: not the handler, not the owning unit.
    assert "evaluate" not in detail["allowed_actions"] and "return_visit" not in detail["allowed_actions"]
    assert village.act(matter_id, "evaluate", satisfaction=5).status_code == 409
    again = {**unreached, "visit_id": f"RV-{uuid.uuid4().hex[:8]}"}
    twice = hotline.post("/api/v1/hotline/return-visits", {"visits": [again]}).json()["items"][0]
    assert (twice["outcome"], twice["status"]) == ("refused", 409), twice
