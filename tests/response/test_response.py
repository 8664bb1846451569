"""Rapid response end to end over real HTTP on a real database: recommendation by travel time
(not distance), dispatch through the inbox, acknowledgement, arrival and the 1-3-5 rings (Hunan
城市快警 scheme: 1 minute at key sites, 3 in the central city; Yongzhou: 15 in the countryside),
the station's figures, the three tiers (another county gets 404 unless its unit is sent), the 110
intake and the response report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from civicgrid.alerts.models import Alert
from civicgrid.db import transaction
from civicgrid.inbox import service as inbox
from civicgrid.inbox.models import InboxItem
from civicgrid.kit.clock import FakeClock
from civicgrid.response import service as response
from civicgrid.response.workflow import ACK_DUE_KIND
from civicgrid.timers.worker import TimerWorker
from tests.conftest import LiveServer, Yongzhou
from tests.factories import assert_out_of_scope_404, make_org_unit_committed
from tests.matters.conftest import Place
from tests.response.conftest import START, caller, make_unit, ok, places_in

COUNTY = "431102000000"  # 零陵区
OTHER = "431103000000"  # 冷水滩区
M_PER_DEG_LAT = 111_195.0


def north(place: Place, metres: float) -> dict[str, float]:
    return {"lng": place.lng, "lat": place.lat + metres / M_PER_DEG_LAT}


def square(place: Place, half_deg: float) -> dict[str, object]:
    x, y, d = place.lng, place.lat, half_deg
    return {"type": "Polygon", "coordinates": [[[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d],
                                                [x - d, y - d]]]}


@pytest.mark.usefixtures("clock")
def test_ranking_follows_eta_the_rings_are_decided_and_the_station_figures_show_it(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    # Central-city villages outside 朝阳 and 南津渡, whose grids the demo 朝阳派出所 covers when the
    # demo seed ran earlier on this database (a grid must name one station).
    central, key_site = [p for p in places_in(yongzhou, "431102", "111", 12) if p.grid[:9] >= "431102003"][:2]
    station = make_org_unit_committed(engine, division_code=COUNTY, name="零陵测试派出所",
                                      area=[central.grid, key_site.grid])
    operator = caller(live_server, engine, "command_operator", COUNTY)
    foot_officer = caller(live_server, engine, "patrol_officer", COUNTY)
    car_officer = caller(live_server, engine, "patrol_officer", COUNTY)
    idle_officer = caller(live_server, engine, "patrol_officer", COUNTY)
    foot = make_unit(engine, org_unit_id=station, unit_type="foot_patrol", members=[foot_officer.user_id],
                     call_sign="零陵步巡-T1")
    car = make_unit(engine, org_unit_id=station, unit_type="patrol_car", members=[car_officer.user_id],
                    call_sign="零陵快警-T1")
    idle = make_unit(engine, org_unit_id=station, unit_type="patrol_car", members=[idle_officer.user_id],
                     call_sign="零陵快警-T2")
    # The nearest unit (100 m) is not available; the foot patrol is nearer (150 m) than the car (800 m)
    # but slower: 150 m × 1.4 / 5 km/h = 151 s against 800 m × 1.4 / 30 km/h = 134 s.
    ok(idle_officer.post(f"/api/v1/response/units/{idle}/actions/stand_down", {"note": "车辆故障"}))
    for officer, unit, metres in ((foot_officer, foot, 150), (car_officer, car, 800), (idle_officer, idle, 100)):
        body = ok(officer.post(f"/api/v1/response/units/{unit}/positions", {"points": [north(central, metres)]}), 202)
        assert body == {"accepted": 1}

    created = ok(operator.post("/api/v1/response/incidents", {
        "category": "public_order", "priority": 2, "lng": central.lng, "lat": central.lat,
        "summary": "酒后滋事"}), 201)
    assert (created["urban_class"], created["ring_zone"], created["ring_target_seconds"]) == (
        "central", "central_city", 180)
    assert created["station_id"] == station and created["status"] == "received"
    ours = {car, foot, idle}  # units other tests left signed on nearby may rank too (one index per process)
    ranked = [(r["unit_id"], r["eta_seconds"]) for r in created["recommendations"] if r["unit_id"] in ours]
    assert ranked == [(car, 134), (foot, 151)]
    assert idle not in [r["unit_id"] for r in created["recommendations"]]

    detail = ok(operator.post(f"/api/v1/response/incidents/{created['id']}/dispatch", {"unit_ids": [car]}))
    assignment = detail["assignments"][0]
    assert (detail["status"], assignment["status"], assignment["unit_id"]) == ("dispatched", "ordered", car)
    assert ok(car_officer.get(f"/api/v1/response/units/{car}"))["status"] == "assigned"
    order = ok(car_officer.get("/api/v1/inbox", pending_ack="true"))["items"]
    assert [(i["link_type"], i["link_id"]) for i in order] == [("response_assignment", assignment["id"])]

    clock.advance(timedelta(seconds=20))
    ok(car_officer.post(f"/api/v1/response/assignments/{assignment['id']}/actions/acknowledge", {}))
    ok(car_officer.post(f"/api/v1/response/assignments/{assignment['id']}/actions/depart", {}))
    assert ok(car_officer.get(f"/api/v1/response/units/{car}"))["status"] == "en_route"
    assert ok(car_officer.get("/api/v1/inbox", pending_ack="true"))["items"] == []  # the order is acknowledged
    clock.advance(timedelta(seconds=220))  # 4 minutes after the call
    arrived = ok(car_officer.post(f"/api/v1/response/assignments/{assignment['id']}/actions/arrive", {}))
    assert (arrived["status"], arrived["wave"]) == ("on_scene", "first")
    first = ok(operator.get(f"/api/v1/response/incidents/{created['id']}"))
    assert (first["status"], first["arrival_seconds"], first["ring_hit"]) == ("on_scene", 240, False)
    assert ok(car_officer.get(f"/api/v1/response/units/{car}"))["status"] == "on_scene"

    # A key site drawn over the second place: 50 s there meets the 1-minute ring.
    ok(operator.post("/api/v1/response/zones", {"zone": "key_site", "label": "零陵测试学校", "division_code": COUNTY,
                                                "polygon": square(key_site, 0.002)}), 201)
    school = ok(operator.post("/api/v1/response/incidents", {
        "category": "public_order", "priority": 2, "lng": key_site.lng, "lat": key_site.lat}), 201)
    assert (school["ring_zone"], school["ring_target_seconds"]) == ("key_site", 60)
    sent = ok(operator.post(f"/api/v1/response/incidents/{school['id']}/dispatch", {"unit_ids": [foot]}))
    foot_assignment = sent["assignments"][0]["id"]
    clock.advance(timedelta(seconds=50))
    ok(foot_officer.post(f"/api/v1/response/assignments/{foot_assignment}/actions/arrive", {}))
    met = ok(operator.get(f"/api/v1/response/incidents/{school['id']}"))
    assert (met["arrival_seconds"], met["ring_hit"]) == (50, True)

    figures = ok(operator.get("/api/v1/response/figures/rings", by="station",
                              start=(START - timedelta(minutes=1)).isoformat(),
                              end=(START + timedelta(hours=1)).isoformat()))
    ours = [g for g in figures["groups"] if g["key"] == station]
    assert ours == [{"key": station, "name": "零陵测试派出所", "incidents": 2, "arrived": 2, "within_target": 1,
                     "share_within_target": 0.5, "median_arrival_seconds": 145.0, "p90_arrival_seconds": 240.0}]
    by_ring = {g["key"]: g for g in ok(operator.get(
        "/api/v1/response/figures/rings", by="ring", start=(START - timedelta(minutes=1)).isoformat(),
        end=(START + timedelta(hours=1)).isoformat()))["groups"]}
    assert by_ring["key_site"]["within_target"] == 1 and by_ring["central_city"]["within_target"] == 0

    # The missed ring is a platform warning on the county's view.
    with transaction(engine, write=False) as session:
        warned = session.scalars(select(Alert).where(Alert.rule_code == "response.ring_missed",
                                                     Alert.source_id == created["id"])).all()
        assert [(a.division_code, a.status) for a in warned] == [(COUNTY, "raised")]


@pytest.mark.usefixtures("clock")
def test_response_report_is_required_to_close_and_names_the_case(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    (place,) = places_in(yongzhou, "431102", None, 1, skip=8)
    station = make_org_unit_committed(engine, division_code=COUNTY, area=[place.grid])
    operator = caller(live_server, engine, "command_operator", COUNTY)
    officer = caller(live_server, engine, "patrol_officer", COUNTY)
    unit = make_unit(engine, org_unit_id=station, unit_type="motorcycle", members=[officer.user_id],
                     call_sign="零陵摩托-T9")
    ok(officer.post(f"/api/v1/response/units/{unit}/positions", {"points": [north(place, 300)]}), 202)
    incident = ok(operator.post("/api/v1/response/incidents", {"category": "criminal", "priority": 3,
                                                               "lng": place.lng, "lat": place.lat}), 201)
    assignment = ok(operator.post(f"/api/v1/response/incidents/{incident['id']}/dispatch",
                                  {"unit_ids": [unit]}))["assignments"][0]["id"]
    for action in ("acknowledge", "arrive"):
        ok(officer.post(f"/api/v1/response/assignments/{assignment}/actions/{action}", {}))
    path = f"/api/v1/response/incidents/{incident['id']}/actions"
    ok(officer.post(f"{path}/handle", {}))
    refused = officer.post(f"{path}/file_report", {"confirmed_nature": "盗窃", "outcome": "已立案侦查",
                                                  "case_opened": True})
    assert refused.status_code == 409 and "案件编号" in refused.json()["error"]["message"]
    assert operator.post(f"{path}/close", {}).status_code == 409  # no report yet
    filed = ok(officer.post(f"{path}/file_report", {"confirmed_nature": "盗窃", "outcome": "已立案侦查",
                                                   "case_opened": True, "case_number": "A4311020000002031060001"}))
    assert (filed["status"], filed["case_number"]) == ("feedback_filed", "A4311020000002031060001")
    closed = ok(operator.post(f"{path}/close", {}))
    assert closed["status"] == "closed" and closed["assignments"][0]["status"] == "released"
    assert ok(officer.get(f"/api/v1/response/units/{unit}"))["status"] == "available"


@pytest.mark.usefixtures("clock")
def test_another_county_gets_404_unless_its_unit_is_sent_and_then_until_released(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    (place,) = places_in(yongzhou, "431102", None, 1, skip=12)
    station = make_org_unit_committed(engine, division_code=COUNTY, area=[place.grid])
    other_station = make_org_unit_committed(engine, division_code=OTHER)
    operator = caller(live_server, engine, "command_operator", COUNTY)
    outsider = caller(live_server, engine, "command_operator", OTHER)
    neighbour = caller(live_server, engine, "patrol_officer", OTHER)
    township_operator = caller(live_server, engine, "command_operator", place.township)
    near = make_unit(engine, org_unit_id=other_station, unit_type="patrol_car", members=[neighbour.user_id],
                     call_sign="冷水滩快警-T1")
    own = make_unit(engine, org_unit_id=station, unit_type="patrol_car", members=[], call_sign="零陵快警-T7")
    ok(neighbour.post(f"/api/v1/response/units/{near}/positions", {"points": [north(place, 400)]}), 202)
    ok(operator.post(f"/api/v1/response/units/{own}/positions", {"points": [north(place, 3000)]}), 403)
    incident = ok(operator.post("/api/v1/response/incidents", {"category": "traffic", "priority": 2,
                                                               "lng": place.lng, "lat": place.lat}), 201)
    flagged = {r["unit_id"]: r["cross_border"] for r in incident["recommendations"]}
    assert flagged.get(near) is True  # 就近出警: across the border, within the configured distance
    path = f"/api/v1/response/incidents/{incident['id']}"
    assert_out_of_scope_404(live_server.url, outsider.token, path)
    assert_out_of_scope_404(live_server.url, neighbour.token, path)
    # A station-tier caller may not send another county's unit; the county tier may.
    refused = township_operator.post(f"{path}/dispatch", {"unit_ids": [near]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "cross_border_needs_higher_tier"
    sent = ok(operator.post(f"{path}/dispatch", {"unit_ids": [near]}))
    assert sent["assignments"][0]["cross_border"] is True
    assert ok(neighbour.get(path))["number"] == incident["number"]  # the assignment grants it
    assert incident["id"] in [i["id"] for i in ok(neighbour.get("/api/v1/response/incidents"))["items"]]
    assert_out_of_scope_404(live_server.url, outsider.token, path)  # only the unit's members
    ok(operator.post(f"/api/v1/response/assignments/{sent['assignments'][0]['id']}/actions/release", {}))
    assert_out_of_scope_404(live_server.url, neighbour.token, path)


@pytest.mark.usefixtures("clock")
def test_an_unacknowledged_order_is_repushed_at_15s_raised_at_60s_and_warned_to_the_county(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    (place,) = places_in(yongzhou, "431102", None, 1, skip=16)
    station = make_org_unit_committed(engine, division_code=COUNTY, area=[place.grid])
    operator = caller(live_server, engine, "command_operator", COUNTY)
    officer = caller(live_server, engine, "patrol_officer", COUNTY)
    unit = make_unit(engine, org_unit_id=station, unit_type="patrol_car", members=[officer.user_id],
                     call_sign="零陵快警-T5")
    incident = ok(operator.post("/api/v1/response/incidents", {"category": "help", "priority": 2,
                                                               "lng": place.lng, "lat": place.lat}), 201)
    sent = ok(operator.post(f"/api/v1/response/incidents/{incident['id']}/dispatch", {"unit_ids": [unit]}))
    assignment = sent["assignments"][0]["id"]
    worker = TimerWorker(engine, kinds=[inbox.REPUSH_KIND, inbox.RAISE_KIND, ACK_DUE_KIND])

    def order() -> InboxItem:
        with transaction(engine, write=False) as session:
            # The order itself (the warning raised at 60 s brings the county its own notice too).
            item = session.scalars(select(InboxItem).where(InboxItem.link_id == assignment,
                                                           InboxItem.kind == "order")).one()
            session.expunge(item)
            return item

    clock.advance(timedelta(seconds=14))
    worker.run_due()
    assert order().repushes == 0
    clock.advance(timedelta(seconds=1))
    worker.run_due()
    assert (order().repushes, order().escalation) == (1, "repushed")
    clock.advance(timedelta(seconds=45))
    worker.run_due()
    assert order().escalation == "raised"
    with transaction(engine, write=False) as session:
        warned = session.scalars(select(Alert).where(Alert.rule_code == "response.order_not_acknowledged",
                                                     Alert.source_id == assignment)).all()
        assert [a.division_code for a in warned] == [COUNTY]
    # The unit reconnecting finds the order still waiting, and acknowledging it stops everything.
    waiting = ok(officer.get("/api/v1/inbox", pending_ack="true"))["items"]
    assert [i["link_id"] for i in waiting] == [assignment]
    ok(officer.post(f"/api/v1/response/assignments/{assignment}/actions/acknowledge", {}))
    assert order().acknowledged_at is not None


@pytest.mark.usefixtures("clock")
def test_110_intake_keeps_the_number_and_clock_points_and_is_idempotent(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    (place,) = places_in(yongzhou, "431102", None, 1, skip=20)
    operator = caller(live_server, engine, "command_operator", COUNTY)
    received = START - timedelta(seconds=40)
    answered = received + timedelta(seconds=8)
    item = {"number_110": "110-20310602-000123", "category": "dispute", "priority": 3, "lng": place.lng,
            "lat": place.lat, "summary": "邻里纠纷",
            "clock": {"call_received_at": received.isoformat(), "answered_at": answered.isoformat()}}
    first = ok(operator.post("/api/v1/response/intake/110", {"items": [item]}), 201)[0]
    assert (first["source"], first["source_ref"]) == ("110", "110-20310602-000123")
    assert first["call_received_at"].startswith(received.isoformat()[:19].replace("+00:00", ""))
    assert set(first["source_clock"]) == {"call_received_at", "answered_at"}
    again = ok(operator.post("/api/v1/response/intake/110", {"items": [item]}), 201)[0]
    assert again["id"] == first["id"]
    with transaction(engine, write=False) as session:
        assert response.repository.incident_by_source(session, "110", "110-20310602-000123") is not None
        assert session.scalar(select(func.count()).select_from(Alert).where(Alert.source_id == first["id"])) == 0


@pytest.mark.usefixtures("clock")
def test_same_place_within_10_minutes_proposes_a_merge_and_a_category_may_dispatch_itself(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from civicgrid.response.params import get_params

    (place,) = places_in(yongzhou, "431102", None, 1, skip=30)
    station = make_org_unit_committed(engine, division_code=COUNTY, area=[place.grid])
    operator = caller(live_server, engine, "command_operator", COUNTY)
    officer = caller(live_server, engine, "patrol_officer", COUNTY)
    unit = make_unit(engine, org_unit_id=station, unit_type="patrol_car", members=[officer.user_id],
                     call_sign="零陵快警-T3")
    ok(officer.post(f"/api/v1/response/units/{unit}/positions", {"points": [north(place, 200)]}), 202)
    monkeypatch.setitem(get_params().categories["fire"], "auto_dispatch", True)
    first = ok(operator.post("/api/v1/response/incidents", {"category": "fire", "priority": 2,
                                                            "lng": place.lng, "lat": place.lat}), 201)
    assert first["status"] == "dispatched" and [a["unit_id"] for a in first["assignments"]] == [unit]
    assert first["merge_candidates"] == []
    clock.advance(timedelta(minutes=9))
    second = ok(operator.post("/api/v1/response/incidents", {"category": "traffic", "priority": 3,
                                                             **north(place, 60)}), 201)
    assert second["merge_candidates"] == [first["number"]] and second["status"] == "received"
    merged = ok(operator.post(f"/api/v1/response/incidents/{second['id']}/actions/merge",
                              {"merged_into": first["id"]}))
    assert (merged["status"], merged["merged_into_id"]) == ("merged", first["id"])
    clock.advance(timedelta(minutes=2))  # 11 minutes after the first: no longer proposed
    third = ok(operator.post("/api/v1/response/incidents", {"category": "traffic", "priority": 3,
                                                            **north(place, 60)}), 201)
    assert third["merge_candidates"] == []
