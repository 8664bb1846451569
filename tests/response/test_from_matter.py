"""Transfer from a reported matter (issue 12 §2): a grid worker's report becomes an incident at
the matter's place with its words and its number kept as the source; the answer recommends units
like the desk; transferring it again is refused; a command desk of another county gets 404."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from civicgrid.kit.clock import FakeClock
from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import Actor, place_in
from tests.response.conftest import caller, ok

COUNTY = "431102000000"  # 零陵区
OTHER = "431103000000"  # 冷水滩区


@pytest.mark.usefixtures("clock")
def test_a_reported_matter_is_transferred_to_the_police_once(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    place = place_in(yongzhou, "431102", 9)
    reporter = Actor(live_server, engine, "grid_worker", place.grid)
    reported = reporter.post("/api/v1/matters", {
        "type_code": "SR01", "title": "菜市场门口有人打架", "description": "两名男子互殴，已有人受伤",
        "lng": place.lng, "lat": place.lat, "channel": "grid_worker"})
    assert reported.status_code == 201, reported.text
    matter = reported.json()
    operator = caller(live_server, engine, "command_operator", COUNTY)
    outsider = caller(live_server, engine, "command_operator", OTHER)
    path = f"/api/v1/response/matters/{matter['id']}/incident"

    assert outsider.post(path, {"category": "public_order", "priority": 1}).status_code == 404
    incident = ok(operator.post(path, {"category": "public_order", "priority": 1}), 201)
    assert (incident["source"], incident["source_ref"]) == ("matter", matter["id"])
    assert (incident["lng"], incident["lat"], incident["grid_code"]) == (place.lng, place.lat, place.grid)
    assert incident["summary"] == "菜市场门口有人打架：两名男子互殴，已有人受伤"
    assert incident["source_clock"]["matter_number"] == matter["number"]
    assert "recommendations" in incident and incident["timeline"][0]["action"] == "receive"

    again = operator.post(path, {"category": "public_order", "priority": 1})
    assert again.status_code == 409 and again.json()["error"]["code"] == "matter_already_transferred"
    assert incident["number"] in again.json()["error"]["message"]
