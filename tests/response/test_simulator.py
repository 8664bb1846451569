"""The demo's rapid response: units placed across a county by the demo seed, and the simulator
driving them on the fake clock — incidents arrive from the simulated 110, the unit ranked first is
dispatched, acknowledges, moves along a straight line at its speed and arrives; the ring of each
arrived incident is decided and the ring figures are those of the simulated incidents; handled
incidents get their response report and close, and the unit drives back to its post."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from civicgrid.db import transaction
from civicgrid.kit.clock import FakeClock
from civicgrid.response import service as response
from civicgrid.response.index import index_for
from civicgrid.response.models import Assignment, Incident, IncidentStatus, ResponseUnit
from civicgrid.simulate.orgs import seed_org_units
from civicgrid.simulate.response import SIM_PREFIX, ResponseSimulator, seed_response
from tests.conftest import Yongzhou
from tests.response.conftest import CITY

COUNTY = "431129"  # 江华瑶族自治县: far from the counties the other response tests use


def _silent(_: str) -> None:
    pass


def test_the_simulated_county_answers_its_incidents_and_its_ring_figures_are_real(
        engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    clock.set(datetime(2031, 7, 1, 11, 0, tzinfo=UTC))  # 19:00 in Yongzhou: the evening peak
    seed_org_units(engine, echo=_silent)
    seed_response(engine, counties=[COUNTY], echo=_silent)
    assert seed_response(engine, counties=[COUNTY], echo=_silent) == []  # seeding twice adds nothing
    with transaction(engine, write=False) as session:
        units = list(session.scalars(select(ResponseUnit).where(ResponseUnit.demo.is_(True))))
        index = index_for(session)
        assert len(units) == 11 and {u.status for u in units} == {"available"}
        assert {u.unit_type for u in units} >= {"patrol_car", "village_auxiliary", "foot_patrol"}
        posts = {u.id: (index.get(u.id).lng, index.get(u.id).lat) for u in units}  # type: ignore[union-attr]
        assert all(lng is not None for lng, _ in posts.values())
    simulator = ResponseSimulator(engine, per_day=3000, counties=[COUNTY], seed=7)
    moved = errors = 0
    try:
        for _ in range(15 * 60 // 3):  # 15 simulated minutes, a tick every 3 s
            clock.advance(timedelta(seconds=3))
            done = simulator.tick()
            moved += done.moved
            errors += len(done.errors)
        with transaction(engine, write=False) as session:
            incidents = list(session.scalars(select(Incident).where(Incident.source_ref.like(SIM_PREFIX + "%"))))
            assignments = list(session.scalars(select(Assignment)
                                               .where(Assignment.incident_id.in_([i.id for i in incidents]))))
            assert len(incidents) >= 10, len(incidents)
            assert all(i.county_code.startswith(COUNTY) for i in incidents)
            assert len(assignments) >= 5 and moved > 0 and errors == 0
            arrived = [i for i in incidents if i.arrival_seconds is not None]
            assert arrived, "no simulated unit arrived in 15 minutes"
            for incident in arrived:
                start = incident.call_received_at
                assert incident.first_on_scene_at is not None
                assert incident.arrival_seconds == round((incident.first_on_scene_at - start).total_seconds())
                assert incident.ring_hit == (incident.arrival_seconds <= incident.ring_target_seconds)
                first = next(a for a in assignments if a.incident_id == incident.id and a.wave == "first")
                # The simulated unit took about its estimated time (its straight line at its speed).
                assert first.eta_seconds is not None and first.en_route_at is not None
                travel = (first.on_scene_at - first.en_route_at).total_seconds()  # type: ignore[operator]
                assert travel <= first.eta_seconds + 3 + 1
            figures = response.ring_figures(session, CITY, start=datetime(2031, 7, 1, tzinfo=UTC),
                                            end=datetime(2031, 7, 2, tzinfo=UTC), by="ring")
            counted = [i for i in incidents if i.status not in (IncidentStatus.CANCELLED, IncidentStatus.MERGED)]
            assert sum(f["incidents"] for f in figures) == len(counted)
            assert sum(f["arrived"] for f in figures) == len(arrived)
            assert sum(f["within_target"] for f in figures) == sum(1 for i in arrived if i.ring_hit)
        simulator.per_day = 0  # no new incidents: 45 minutes to handle, report, close, drive back
        for _ in range(45 * 60 // 10):
            clock.advance(timedelta(seconds=10))
            errors += len(simulator.tick().errors)
        assert errors == 0
        with transaction(engine, write=False) as session:
            closed = list(session.scalars(select(Incident).where(Incident.source_ref.like(SIM_PREFIX + "%"),
                                                                 Incident.status == IncidentStatus.CLOSED)))
            assert closed and all(i.confirmed_nature and i.outcome for i in closed)
            index = index_for(session)
            sent = {a.unit_id for a in assignments}
            home = [u for u in sent if index.get(u).availability == "available"  # type: ignore[union-attr]
                    and (index.get(u).lng, index.get(u).lat) == posts[u]]  # type: ignore[union-attr]
            assert home, "no unit drove back to its post"
    finally:
        _stand_down(engine)


def _stand_down(engine: Engine) -> None:
    """Leave no demo unit available for the other tests: cancel or close what is open, sign off."""
    with transaction(engine) as session:
        for incident in session.scalars(select(Incident).where(Incident.source_ref.like(SIM_PREFIX + "%"))):
            status = IncidentStatus(incident.status)
            if status in (IncidentStatus.RECEIVED, IncidentStatus.DISPATCHED):
                response.incident_action(session, CITY, incident.id, "cancel", note="测试结束")
            elif status in (IncidentStatus.ON_SCENE, IncidentStatus.HANDLED, IncidentStatus.FEEDBACK_FILED):
                if status == IncidentStatus.ON_SCENE:
                    response.incident_action(session, CITY, incident.id, "handle")
                if incident.status == IncidentStatus.HANDLED:
                    response.incident_action(session, CITY, incident.id, "file_report",
                                             data={"confirmed_nature": "测试", "outcome": "测试结束"})
                response.incident_action(session, CITY, incident.id, "close")
        for unit in session.scalars(select(ResponseUnit).where(ResponseUnit.demo.is_(True))):
            if unit.status == "available":
                response.unit_action(session, CITY, unit.id, "sign_off", None)


def test_one_simulator_per_process_and_database_however_many_apps_start_one(engine: Engine) -> None:
    from civicgrid.simulate.response import start_simulator, stop_simulator

    first = start_simulator(engine, per_day=0.0, tick_seconds=3600)
    second = start_simulator(engine, per_day=0.0, tick_seconds=3600)  # a second app of the process
    try:
        assert second is first and first._thread.is_alive()
        stop_simulator(second)  # that app shuts down: the first one's simulator runs on
        assert first._thread.is_alive()
    finally:
        stop_simulator(first)
    assert not first._thread.is_alive()
    third = start_simulator(engine, per_day=0.0, tick_seconds=3600)  # a fresh start after the last stop
    stop_simulator(third)
    assert third is not first and not third._thread.is_alive()
