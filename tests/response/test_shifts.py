"""Shifts (班次) of response units on a fake clock: a unit is off duty outside its shifts and
available from the start of one (a timer), the recommendation finds it only then, its orders go
to the members on the shift, and at the end it goes off duty — after its assignment is released
when it is out on one. The commander plans shifts over the API; another county gets 404."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from civicgrid.db import transaction
from civicgrid.inbox.models import InboxItem
from civicgrid.kit.clock import FakeClock
from civicgrid.response.workflow import SHIFT_END_KIND, SHIFT_START_KIND
from civicgrid.timers.worker import TimerWorker
from tests.conftest import LiveServer, Yongzhou
from tests.factories import make_org_unit_committed
from tests.response.conftest import START, caller, make_unit, ok, places_in

COUNTY = "431102000000"  # 零陵区
OTHER = "431103000000"  # 冷水滩区
M_PER_DEG_LAT = 111_195.0


@pytest.mark.usefixtures("clock")
def test_a_shift_signs_the_unit_on_and_off_and_the_recommendation_follows(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    (place,) = places_in(yongzhou, "431102", None, 1, skip=34)
    station = make_org_unit_committed(engine, division_code=COUNTY, name="零陵班次测试派出所", area=[place.grid])
    commander = caller(live_server, engine, "county_commander", COUNTY)
    operator = caller(live_server, engine, "command_operator", COUNTY)
    on_duty = caller(live_server, engine, "patrol_officer", COUNTY)
    resting = caller(live_server, engine, "patrol_officer", COUNTY)
    stranger = caller(live_server, engine, "county_commander", OTHER)
    unit = make_unit(engine, org_unit_id=station, unit_type="patrol_car", members=[on_duty.user_id, resting.user_id],
                     call_sign="零陵班次-T1", sign_on=False)
    ok(on_duty.post(f"/api/v1/response/units/{unit}/positions",
                    {"points": [{"lng": place.lng, "lat": place.lat + 200 / M_PER_DEG_LAT}]}), 202)
    worker = TimerWorker(engine, kinds=[SHIFT_START_KIND, SHIFT_END_KIND])

    def recommended() -> bool:
        incident = ok(operator.post("/api/v1/response/incidents", {
            "category": "help", "priority": 3, "lng": place.lng, "lat": place.lat}), 201)
        ok(operator.post(f"/api/v1/response/incidents/{incident['id']}/actions/cancel", {"note": "测试"}))
        return unit in [r["unit_id"] for r in incident["recommendations"]]

    def status() -> str:
        return str(ok(commander.get(f"/api/v1/response/units/{unit}"))["status"])

    # Validation: the members must be the unit's; a shift lasts at most 24 hours.
    bad = commander.post(f"/api/v1/response/units/{unit}/shifts", {
        "starts_at": (START + timedelta(minutes=10)).isoformat(),
        "ends_at": (START + timedelta(hours=8)).isoformat(), "members": [commander.user_id]})
    assert bad.status_code == 422, bad.text
    long = commander.post(f"/api/v1/response/units/{unit}/shifts", {
        "starts_at": START.isoformat(), "ends_at": (START + timedelta(hours=25)).isoformat()})
    assert long.status_code == 422, long.text
    # Another county's commander cannot plan it.
    assert stranger.post(f"/api/v1/response/units/{unit}/shifts", {
        "starts_at": START.isoformat(), "ends_at": (START + timedelta(hours=8)).isoformat()}).status_code == 404

    shift = ok(commander.post(f"/api/v1/response/units/{unit}/shifts", {
        "starts_at": (START + timedelta(minutes=10)).isoformat(),
        "ends_at": (START + timedelta(minutes=30)).isoformat(),
        "members": [on_duty.user_id], "note": "白班"}), 201)
    assert (shift["state"], shift["call_sign"], shift["org_unit_name"]) == (
        "planned", "零陵班次-T1", "零陵班次测试派出所")
    assert len(shift["member_names"]) == 1 and shift["member_names"][0] != "—"
    overlapping = commander.post(f"/api/v1/response/units/{unit}/shifts", {
        "starts_at": (START + timedelta(minutes=25)).isoformat(), "ends_at": (START + timedelta(hours=1)).isoformat()})
    assert overlapping.status_code == 422, overlapping.text
    listed = ok(commander.get("/api/v1/response/shifts", unit_id=unit))
    assert [s["id"] for s in listed] == [shift["id"]]
    assert ok(stranger.get("/api/v1/response/shifts", unit_id=unit)) == []

    # Before the shift: off duty, not recommended.
    assert status() == "off_duty" and not recommended()
    assert ok(commander.get(f"/api/v1/response/units/{unit}"))["shift_ends_at"] is None
    clock.advance(timedelta(minutes=9))
    worker.run_due()
    assert status() == "off_duty"
    clock.advance(timedelta(minutes=1))
    worker.run_due()
    assert status() == "available" and recommended()
    ends = ok(on_duty.get(f"/api/v1/response/units/{unit}"))["shift_ends_at"]  # the phone page shows it
    assert datetime.fromisoformat(ends) == START + timedelta(minutes=30)
    assert ok(commander.get("/api/v1/response/shifts", unit_id=unit))[0]["state"] == "on"

    # Dispatched on the shift: the order goes to the member on the shift, not to the one resting.
    incident = ok(operator.post("/api/v1/response/incidents", {
        "category": "help", "priority": 2, "lng": place.lng, "lat": place.lat}), 201)
    sent = ok(operator.post(f"/api/v1/response/incidents/{incident['id']}/dispatch", {"unit_ids": [unit]}))
    assignment = sent["assignments"][0]["id"]
    with transaction(engine, write=False) as session:
        recipients = session.scalars(select(InboxItem.recipient_id).where(InboxItem.link_id == assignment)).all()
    assert recipients == [on_duty.user_id]
    ok(on_duty.post(f"/api/v1/response/assignments/{assignment}/actions/arrive", {}))

    # The shift ends while the unit is on scene: it stays until released, then goes off duty
    # (the clock moves in steps a logged-in session outlives).
    clock.advance(timedelta(minutes=10))
    assert status() == "on_scene"
    clock.advance(timedelta(minutes=10))
    worker.run_due()
    assert status() == "on_scene"
    assert ok(commander.get("/api/v1/response/shifts", unit_id=unit))[0]["state"] == "ending"
    ok(on_duty.post(f"/api/v1/response/assignments/{assignment}/actions/release", {}))
    assert status() == "off_duty" and not recommended()
    assert ok(commander.get("/api/v1/response/shifts", unit_id=unit,
                            start=START.isoformat()))[0]["state"] == "ended"


@pytest.mark.usefixtures("clock")
def test_a_shift_that_has_begun_signs_on_at_once_and_cancelling_it_signs_off(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    (place,) = places_in(yongzhou, "431102", None, 1, skip=38)
    station = make_org_unit_committed(engine, division_code=COUNTY, area=[place.grid])
    commander = caller(live_server, engine, "county_commander", COUNTY)
    officer = caller(live_server, engine, "patrol_officer", COUNTY)
    unit = make_unit(engine, org_unit_id=station, unit_type="foot_patrol", members=[officer.user_id],
                     call_sign="零陵班次-T2", sign_on=False)
    worker = TimerWorker(engine, kinds=[SHIFT_START_KIND, SHIFT_END_KIND])
    first = ok(commander.post(f"/api/v1/response/units/{unit}/shifts", {
        "starts_at": (START - timedelta(hours=1)).isoformat(), "ends_at": (START + timedelta(minutes=20)).isoformat()}),
        201)
    assert first["state"] == "on" and first["members"] == []
    assert ok(commander.get(f"/api/v1/response/units/{unit}"))["status"] == "available"
    # The next shift follows at once: the end of the first does not sign the unit off.
    second = ok(commander.post(f"/api/v1/response/units/{unit}/shifts", {
        "starts_at": (START + timedelta(minutes=20)).isoformat(), "ends_at": (START + timedelta(hours=9)).isoformat()}),
        201)
    clock.advance(timedelta(minutes=20))
    worker.run_due()
    assert ok(commander.get(f"/api/v1/response/units/{unit}"))["status"] == "available"
    states = {s["id"]: s["state"] for s in ok(commander.get("/api/v1/response/shifts", unit_id=unit,
                                                             start=START.isoformat()))}
    assert states == {first["id"]: "ended", second["id"]: "on"}
    # Cancelling the running shift signs the unit off now; its end timer no longer fires.
    cancelled = ok(commander.post(f"/api/v1/response/shifts/{second['id']}/cancel", {}))
    assert cancelled["state"] == "cancelled"
    assert ok(commander.get(f"/api/v1/response/units/{unit}"))["status"] == "off_duty"
    again = commander.post(f"/api/v1/response/shifts/{second['id']}/cancel", {})
    assert again.status_code == 409, again.text
