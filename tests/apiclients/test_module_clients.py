"""The modules' external systems send as platform API clients (issue 14 §5): the police
case-handling system sends supervision events, the 110 system pushes incidents — each with a key
of its own kind, acting as its owning unit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

import civicgrid.response.endpoints  # registers the record kind incident_110
import civicgrid.supervision.endpoints  # noqa: F401  (registers the record kind supervision_event)
from tests.apiclients.conftest import make_client
from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import place_in
from tests.supervision.helpers import station


def test_the_case_system_sends_supervision_events_with_its_key(live_server: LiveServer, engine: Engine,
                                                                yongzhou: Yongzhou) -> None:
    township = yongzhou.village_in("431102")[:9] + "000"
    unit = station(engine, township)
    system = make_client(live_server, engine, yongzhou.lingling, kinds=("supervision_event",),
                         system_kind="police_case", name="零陵公安执法办案系统")
    ref = f"C-{uuid.uuid4().hex[:8]}"
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    body = {"sender": "ignored", "events": [
        {"event_id": f"{ref}-1", "kind": "case.opened", "at": at,
         "data": {"case": ref, "kind": "criminal", "unit_id": unit, "title": "接口报送案件"}}]}
    answer = system.post("/api/v1/supervision/client/events", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["applied"] == 1
    assert system.post("/api/v1/supervision/client/events", body).json()["duplicates"] == 1  # the same event again
    # The same key may not push 110 incidents: not a kind it was given.
    assert system.post("/api/v1/response/client/intake/110", {"items": []}).status_code == 403


def test_the_110_system_pushes_incidents_with_its_key(live_server: LiveServer, engine: Engine,
                                                      yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431102", 2)
    system = make_client(live_server, engine, yongzhou.lingling, kinds=("incident_110",), system_kind="police_110",
                         name="零陵 110 接处警系统")
    number = f"110-{uuid.uuid4().hex[:10]}"
    received = datetime.now(UTC) - timedelta(minutes=2)
    item = {"number_110": number, "category": "dispute", "priority": 3, "lng": place.lng, "lat": place.lat,
            "summary": "邻里纠纷", "clock": {"call_received_at": received.isoformat()}}
    answer = system.post("/api/v1/response/client/intake/110", {"items": [item]})
    assert answer.status_code == 201, answer.text
    first = answer.json()[0]
    assert (first["source"], first["source_ref"]) == ("110", number)
    again = system.post("/api/v1/response/client/intake/110", {"items": [item]}).json()[0]
    assert again["id"] == first["id"]
