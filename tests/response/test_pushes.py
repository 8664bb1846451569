"""The pushes of an incident (issue 12, acceptance): a user of another county receives none of
them — unless a unit of theirs is sent to it, whose members then receive its pushes until the
assignment is released. Absence is proven by a marker published after the steps: the next frame
a socket gets is the marker (one process, messages in commit order), never a sleep."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine
from websockets.sync.client import ClientConnection, connect

from civicgrid.db import transaction
from civicgrid.kit.clock import FakeClock
from civicgrid.realtime import hub
from tests.conftest import LiveServer, Yongzhou
from tests.factories import make_org_unit_committed
from tests.response.conftest import Caller, caller, make_unit, ok, places_in

COUNTY = "431102000000"  # 零陵区
OTHER = "431103000000"  # 冷水滩区
M_PER_DEG_LAT = 111_195.0


@contextmanager
def socket(live_server: LiveServer, who: Caller, *channels: str) -> Iterator[ClientConnection]:
    with connect(f"{live_server.ws_url}/api/v1/ws", open_timeout=10) as ws:
        ws.send(json.dumps({"action": "auth", "token": who.token}))
        assert json.loads(ws.recv(timeout=15))["type"] == "ready"
        for channel in channels:
            ws.send(json.dumps({"action": "subscribe", "channel": channel}))
            assert json.loads(ws.recv(timeout=15)) == {"type": "subscribed", "channel": channel}
        yield ws


def events_until_marker(ws: ClientConnection, marker: str) -> list[dict[str, Any]]:
    """The events a socket received before the marker."""
    seen = []
    while True:
        got = json.loads(ws.recv(timeout=15))
        if got["type"] != "event":
            continue
        if got["event"] == marker:
            return seen
        seen.append(got)


def about(events: list[dict[str, Any]], *ids: str) -> list[str]:
    """The events that name the incident or its assignment anywhere in their frame."""
    return [e["event"] for e in events if any(i in json.dumps(e) for i in ids)]


def mark(engine: Engine, marker: str, *users: Caller) -> None:
    with transaction(engine) as session:
        for user in users:
            hub.publish(session, channel=f"user:{user.user_id}", event=marker, data={}, division_code=None)


@pytest.mark.usefixtures("clock")
def test_another_county_receives_no_push_of_the_incident_unless_its_unit_is_sent_until_released(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    (place,) = places_in(yongzhou, "431102", None, 1, skip=42)
    station = make_org_unit_committed(engine, division_code=COUNTY, area=[place.grid])
    other_station = make_org_unit_committed(engine, division_code=OTHER)
    operator = caller(live_server, engine, "county_commander", COUNTY)
    outsider = caller(live_server, engine, "county_commander", OTHER)
    neighbour = caller(live_server, engine, "patrol_officer", OTHER)
    near = make_unit(engine, org_unit_id=other_station, unit_type="patrol_car", members=[neighbour.user_id],
                     call_sign="冷水滩快警-PU1")
    make_unit(engine, org_unit_id=station, unit_type="patrol_car", members=[], call_sign="零陵快警-PU1")
    ok(neighbour.post(f"/api/v1/response/units/{near}/positions",
                      {"points": [{"lng": place.lng, "lat": place.lat + 300 / M_PER_DEG_LAT}]}), 202)
    incident = ok(operator.post("/api/v1/response/incidents", {"category": "traffic", "priority": 2,
                                                               "lng": place.lng, "lat": place.lat}), 201)
    entity = f"entity:response_incident:{incident['id']}"
    with socket(live_server, outsider, "division:4311", entity, f"user:{outsider.user_id}") as far, \
            socket(live_server, neighbour, "division:4311", entity, f"user:{neighbour.user_id}") as unit_ws, \
            socket(live_server, operator, entity) as own:
        # Sent across the border by the county tier: the unit's member gets the order and the incident.
        sent = ok(operator.post(f"/api/v1/response/incidents/{incident['id']}/dispatch", {"unit_ids": [near]}))
        assignment = sent["assignments"][0]["id"]
        assert json.loads(own.recv(timeout=15))["event"] == "response_incident.dispatch"  # the county sees it
        mark(engine, "marker-1", outsider, neighbour)
        # (The other county hears its own unit become assigned: that push names the unit, not the incident.)
        assert about(events_until_marker(far, "marker-1"), incident["id"], assignment) == []
        got = events_until_marker(unit_ws, "marker-1")
        assert {e["event"] for e in got} >= {"inbox.item", "response.incident"}
        assert {e["data"]["id"] for e in got if e["event"] == "response.incident"} == {incident["id"]}

        # Released: the member hears nothing more of it; the other county never did.
        ok(operator.post(f"/api/v1/response/assignments/{assignment}/actions/release", {}))
        ok(operator.post(f"/api/v1/response/incidents/{incident['id']}/actions/cancel", {"note": "误报"}))
        mark(engine, "marker-2", outsider, neighbour)
        assert about(events_until_marker(far, "marker-2"), incident["id"], assignment) == []
        assert about(events_until_marker(unit_ws, "marker-2"), incident["id"]) == []
