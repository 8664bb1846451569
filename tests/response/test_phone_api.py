"""The patrol officer's phone page reads GET /response/mine: their unit and its orders not yet
released, each with the incident (an assignment grants it even across the county border); another
officer sees none of it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from civicgrid.kit.clock import FakeClock
from tests.conftest import LiveServer, Yongzhou
from tests.factories import make_org_unit_committed
from tests.response.conftest import caller, make_unit, ok, places_in

COUNTY = "431103000000"  # 冷水滩区
NEIGHBOUR = "431102000000"  # 零陵区


@pytest.mark.usefixtures("clock")
def test_the_phone_page_lists_the_order_with_its_incident_until_released(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    place = places_in(yongzhou, "431103", None, 1, skip=7)[0]
    station = make_org_unit_committed(engine, division_code=COUNTY, name="冷水滩手机页测试派出所")
    operator = caller(live_server, engine, "city_commander", "431100000000")
    officer = caller(live_server, engine, "patrol_officer", NEIGHBOUR)  # of another county, sent across
    other = caller(live_server, engine, "patrol_officer", COUNTY)
    unit = make_unit(engine, org_unit_id=station, unit_type="patrol_car", members=[officer.user_id],
                     call_sign="冷水滩快警-P1")
    mine = ok(officer.get("/api/v1/response/mine"))
    assert [u["call_sign"] for u in mine["units"]] == ["冷水滩快警-P1"] and mine["orders"] == []

    incident = ok(operator.post("/api/v1/response/incidents", {
        "category": "dispute", "priority": 2, "lng": place.lng, "lat": place.lat, "summary": "手机页测试"}), 201)
    ok(operator.post(f"/api/v1/response/incidents/{incident['id']}/dispatch", {"unit_ids": [unit]}))
    mine = ok(officer.get("/api/v1/response/mine"))
    [order] = mine["orders"]
    assert order["unit_id"] == unit and order["assignment"]["status"] == "ordered"
    assert order["incident"]["number"] == incident["number"] and order["incident"]["summary"] == "手机页测试"
    assert (order["incident"]["lng"], order["incident"]["lat"]) == (place.lng, place.lat)
    assert ok(other.get("/api/v1/response/mine")) == {"units": [], "orders": []}

    path = f"/api/v1/response/assignments/{order['assignment']['id']}/actions"
    ok(officer.post(f"{path}/acknowledge"))
    ok(officer.post(f"{path}/arrive", {"lng": place.lng, "lat": place.lat}))
    [order] = ok(officer.get("/api/v1/response/mine"))["orders"]
    assert order["assignment"]["status"] == "on_scene" and order["incident"]["status"] == "on_scene"
    incident_path = f"/api/v1/response/incidents/{incident['id']}/actions"
    ok(officer.post(f"{incident_path}/handle"))
    ok(officer.post(f"{incident_path}/file_report", {"confirmed_nature": "邻里纠纷", "outcome": "现场调解"}))
    ok(operator.post(f"{incident_path}/close"))
    assert ok(officer.get("/api/v1/response/mine"))["orders"] == []  # released: the order is gone
    assert other.get("/api/v1/response/mine").status_code == 200
    assert caller(live_server, engine, "grid_worker", COUNTY).get("/api/v1/response/mine").status_code == 403
