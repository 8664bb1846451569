"""Issue 15 acceptance: a user of another county receives 404 for the case, its persons and its
property — and none of its pushes on the WebSocket, neither on the city's division channel nor
on the case's, the measure's or the property item's own channels — while a user of the county
receives them live."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from websockets.sync.client import ClientConnection

from civicgrid.kit.clock import utcnow
from civicgrid.supervision.workflow import CRIMINAL_WORKFLOW, MEASURE_WORKFLOW, PROPERTY_WORKFLOW
from tests.conftest import LiveServer, Yongzhou
from tests.factories import assert_out_of_scope_404, auth_headers, login, make_user_committed
from tests.realtime.test_socket import frame, next_event, open_socket, publish, subscribe
from tests.supervision.helpers import station

URL = "/api/v1/supervision"


def _event(event_id: str, kind: str, ago_hours: float, /, **data: object) -> dict[str, object]:
    return {"event_id": event_id, "kind": kind, "at": (utcnow() - timedelta(hours=ago_hours)).isoformat(),
            "data": data}


def _post(server: LiveServer, token: str, events: list[dict[str, object]]) -> None:
    answer = httpx.post(f"{server.url}{URL}/events", json={"sender": "ga-431102-push", "events": events},
                        headers=auth_headers(token), timeout=30)
    assert answer.status_code == 200 and answer.json()["refused"] == 0, answer.text


def _drain_until(ws: ClientConnection, wanted: set[str]) -> list[dict[str, Any]]:
    """Events until every name in ``wanted`` has been seen (each within 15 s)."""
    got: list[dict[str, Any]] = []
    while not wanted <= {e["event"] for e in got}:
        got.append(next_event(ws))
    return got


def test_another_county_gets_404_and_none_of_the_pushes(engine: Engine, live_server: LiveServer,
                                                        yongzhou: Yongzhou) -> None:
    township = yongzhou.village_in("431102")[:9] + "000"
    unit = station(engine, township)
    mine = make_user_committed(engine, role="supervision_centre_staff", division_code=yongzhou.lingling)
    other = make_user_committed(engine, role="supervision_centre_staff", division_code=yongzhou.lengshuitan)
    token, other_token = login(live_server.url, mine.username), login(live_server.url, other.username)
    case_type, measure_type = CRIMINAL_WORKFLOW.entity_type, MEASURE_WORKFLOW.entity_type
    property_type = PROPERTY_WORKFLOW.entity_type

    with open_socket(live_server, token) as ws, open_socket(live_server, other_token) as spy:
        assert frame(ws)["type"] == "ready" and frame(spy)["type"] == "ready"
        subscribe(ws, "division:4311")
        subscribe(spy, "division:4311", f"user:{other.id}")
        # A 传唤 from 13 hours ago: its 12-hour limit has passed, so the intake raises the breach at once.
        _post(live_server, token, [
            _event("p1", "case.opened", 13.5, case="PUSH1", kind="criminal", unit_id=unit, title="推送测试案件",
                   persons=[{"id": "P1", "role": "suspect", "name": "钱七"}]),
            _event("p2", "measure.started", 13, case="PUSH1", measure="S1", kind="summons", person="P1"),
            _event("p3", "property.moved", 12.9, case="PUSH1", item="I1", action="seize", description="手机",
                   measure="seized", value_fen=200000, to_holder="民警 孙"),
        ])
        first = _drain_until(ws, {f"{case_type}.accept", f"{measure_type}.start", f"{property_type}.seize",
                                  "supervision_clock.breach", "alert.raise"})
        assert all((e["division_code"] or "").startswith("431102") for e in first)

        cases = httpx.get(f"{live_server.url}{URL}/cases", headers=auth_headers(token)).json()["items"]
        case_id = next(c["id"] for c in cases if c["external_id"] == "PUSH1")
        detail = httpx.get(f"{live_server.url}{URL}/cases/{case_id}", headers=auth_headers(token)).json()
        person_id, item_id = detail["persons"][0]["id"], detail["property"][0]["id"]
        measure_id = detail["measures"][0]["id"]
        for path in (f"/cases/{case_id}", f"/persons/{person_id}", f"/property/{item_id}"):
            assert_out_of_scope_404(live_server.url, other_token, URL + path)
        theirs = httpx.get(f"{live_server.url}{URL}/cases?limit=200", headers=auth_headers(other_token)).json()
        assert all(c["id"] != case_id for c in theirs["items"])

        # Even naming the case's, the measure's and the item's own channels brings the spy nothing.
        subscribe(spy, f"entity:{case_type}:{case_id}", f"entity:{measure_type}:{measure_id}",
                  f"entity:{property_type}:{item_id}")
        subscribe(ws, f"entity:{case_type}:{case_id}")
        _post(live_server, token, [
            _event("p4", "property.moved", 1, case="PUSH1", item="I1", action="transfer", from_holder="民警 孙",
                   to_holder="保管员 周"),
            _event("p5", "case.stage_changed", 0.5, case="PUSH1", stage="filed"),
            _event("p6", "measure.ended", 0.4, case="PUSH1", measure="S1"),
        ])
        second = _drain_until(ws, {f"{property_type}.transfer", f"{case_type}.file", f"{measure_type}.end"})
        assert {e["channel"] for e in second} >= {"division:4311", f"entity:{case_type}:{case_id}"}

        # Everything above was delivered before this: the spy's first event must be the sentinel.
        publish(engine, event="sentinel", division_code=None, channel=f"user:{other.id}")
        got = next_event(spy)
        assert (got["event"], got["channel"]) == ("sentinel", f"user:{other.id}"), got


def test_the_room_board_hears_people_enter_move_and_leave_within_its_jurisdiction_only(
        engine: Engine, live_server: LiveServer, yongzhou: Yongzhou) -> None:
    """Entering the case-handling area, moving to another room and leaving are pushed to the area's
    division (the live room board re-reads on them), with ids only — no name; a user of another
    county receives none of them, not even on the area's own channel."""
    township = yongzhou.village_in("431102")[:9] + "000"
    unit = station(engine, township)
    mine = make_user_committed(engine, role="supervision_centre_staff", division_code=yongzhou.lingling)
    other = make_user_committed(engine, role="supervision_centre_staff", division_code=yongzhou.lengshuitan)
    token, other_token = login(live_server.url, mine.username), login(live_server.url, other.username)
    with open_socket(live_server, token) as ws, open_socket(live_server, other_token) as spy:
        assert frame(ws)["type"] == "ready" and frame(spy)["type"] == "ready"
        subscribe(ws, "division:431102")
        subscribe(spy, "division:4311", f"user:{other.id}")
        _post(live_server, token, [
            _event("r1", "case.opened", 3, case="ROOM1", kind="criminal", unit_id=unit, title="房间推送测试",
                   persons=[{"id": "P1", "role": "suspect", "name": "钱七"}]),
            _event("r2", "measure.started", 2, case="ROOM1", measure="S1", kind="summons", person="P1"),
            _event("r3", "person.entered", 2, case="ROOM1", person="P1", area="BA9", area_title="办案区",
                   room="HX1", room_title="候问室 1"),
        ])
        entered = next(e for e in _drain_until(ws, {"supervision_area.entered"})
                       if e["event"] == "supervision_area.entered")
        area_id, first_room = entered["data"]["area_id"], entered["data"]["room_id"]
        assert entered["origin"] == f"entity:supervision_area:{area_id}" and first_room
        assert "钱七" not in str(entered)
        subscribe(spy, f"entity:supervision_area:{area_id}")
        _post(live_server, token, [
            _event("r4", "person.entered", 1, case="ROOM1", person="P1", area="BA9", room="XW1",
                   room_title="询问室 1"),
            _event("r5", "person.left", 0.5, case="ROOM1", person="P1", area="BA9"),
        ])
        later = [e for e in _drain_until(ws, {"supervision_area.moved", "supervision_area.left"})
                 if e["event"].startswith("supervision_area.")]
        moved = next(e for e in later if e["event"] == "supervision_area.moved")
        assert moved["data"]["area_id"] == area_id and moved["data"]["room_id"] not in (None, first_room)
        assert next(e for e in later if e["event"] == "supervision_area.left")["data"]["area_id"] == area_id
        board = httpx.get(f"{live_server.url}{URL}/areas/{area_id}/board", headers=auth_headers(token))
        assert board.status_code == 200 and board.json()["occupants"] == []
        assert_out_of_scope_404(live_server.url, other_token, f"{URL}/areas/{area_id}/board")

        publish(engine, event="sentinel", division_code=None, channel=f"user:{other.id}")
        got = next_event(spy)
        assert (got["event"], got["channel"]) == ("sentinel", f"user:{other.id}"), got
