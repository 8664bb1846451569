"""Three tiers of command (issue 12 §3): a higher tier takes over command of an incident, on its
timeline; from then on the lower tier still sees it but no longer commands it (dispatch, cancel →
409 naming who commands), and only a tier above the one in command may take over again."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from civicgrid.kit.clock import FakeClock
from tests.conftest import LiveServer, Yongzhou
from tests.factories import make_org_unit_committed
from tests.response.conftest import caller, make_unit, ok, places_in

COUNTY = "431102000000"  # 零陵区


@pytest.mark.usefixtures("clock")
def test_a_higher_tier_takes_over_command_on_the_timeline(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    (place,) = places_in(yongzhou, "431102", None, 1, skip=16)
    station = make_org_unit_committed(engine, division_code=COUNTY, area=[place.grid], name="接管测试派出所")
    desk = caller(live_server, engine, "command_operator", place.township)  # the station tier
    county = caller(live_server, engine, "county_commander", COUNTY)
    city = caller(live_server, engine, "city_commander", "431100000000")
    unit = make_unit(engine, org_unit_id=station, unit_type="patrol_car", members=[], call_sign="零陵快警-TK1")
    incident = ok(desk.post("/api/v1/response/incidents", {"category": "criminal", "priority": 2,
                                                           "lng": place.lng, "lat": place.lat}), 201)
    path = f"/api/v1/response/incidents/{incident['id']}"
    assert incident["command_tier"] == "station" and "take_over" not in incident["allowed_actions"]
    refused = desk.post(f"{path}/actions/take_over", {})
    assert refused.status_code == 409  # the tier in command cannot take over from itself

    assert "take_over" in ok(county.get(path))["allowed_actions"]
    taken = ok(county.post(f"{path}/actions/take_over", {"note": "案情重大，分局指挥中台接管"}))
    assert (taken["command_tier"], taken["status"]) == ("county", "received")
    step = taken["timeline"][-1]
    assert (step["action"], step["note"]) == ("take_over", "案情重大，分局指挥中台接管")
    assert step["actor_name"]

    # The station still sees it, but no longer commands it.
    assert ok(desk.get(path))["command_tier"] == "county"
    for attempt in (desk.post(f"{path}/dispatch", {"unit_ids": [unit]}),
                    desk.post(f"{path}/actions/cancel", {"note": "误报"})):
        assert attempt.status_code == 409 and attempt.json()["error"]["code"] == "command_taken_over"
        assert "县（区）局指挥中台" in attempt.json()["error"]["message"]
    assert ok(county.post(f"{path}/dispatch", {"unit_ids": [unit]}))["assignments"][0]["status"] == "ordered"
    assert county.post(f"{path}/actions/take_over", {}).status_code == 409  # already in command
    assert ok(city.post(f"{path}/actions/take_over", {}))["command_tier"] == "city"
    assert county.post(f"{path}/actions/cancel", {"note": "误报"}).json()["error"]["code"] == "command_taken_over"
    assert ok(city.post(f"{path}/actions/cancel", {"note": "误报，已核实"}))["status"] == "cancelled"
