"""The routing choices of a dispute and the mediator's workbench, over real HTTP."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from civicgrid.kit.clock import FakeClock
from tests.conftest import LiveServer, Yongzhou
from tests.disputes.conftest import act, bodies, dispute_body
from tests.matters.conftest import Actor


def test_routing_offers_the_bodies_on_the_disputes_chain(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, "431128", 11)
    village, township, centre = b.village_committee, b.township_committee, b.county_centre
    other = bodies(live_server, engine, yongzhou, "431127", 11).village_committee  # another county's village
    dispute = b.village.post("/api/v1/disputes", dispute_body(b.place)).json()
    choices = b.village.get(f"/api/v1/disputes/{dispute['id']}/handler-choices")
    assert choices.status_code == 200, choices.text
    ids = [c["unit_id"] for c in choices.json()]
    assert village in ids and township in ids and centre in ids and other not in ids
    assert ids.index(village) < ids.index(township) < ids.index(centre)  # the lowest level first
    first = next(c for c in choices.json() if c["unit_id"] == village)
    assert first["level"] == "village" and first["kind_name"] == "村（社区）人民调解委员会"
    assert act(b.village, dispute["id"], "route", unit_id=village).status_code == 200
    after = [c["unit_id"] for c in b.village.get(f"/api/v1/disputes/{dispute['id']}/handler-choices").json()]
    assert village not in after  # the handler now is no choice for a transfer


def test_the_workbench_shows_my_files_todays_sessions_and_deadlines(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, "431128", 12)
    simple = b.village.post(
        "/api/v1/disputes", dispute_body(b.place, unit_id=b.village_committee, complexity="simple")
    ).json()
    complex_ = b.village.post(
        "/api/v1/disputes", dispute_body(b.place, unit_id=b.village_committee, complexity="complex")
    ).json()
    elsewhere = b.village.post("/api/v1/disputes", dispute_body(b.place, unit_id=b.township_committee)).json()
    for d in (simple, complex_):
        assert act(b.village, d["id"], "accept").status_code == 200
    held = b.village.post(
        f"/api/v1/disputes/{simple['id']}/sessions", {"participants": "双方", "notes": "初次调解", "result": "progress"}
    )
    assert held.status_code == 201, held.text

    bench = b.village.get("/api/v1/dispute-workbench")
    assert bench.status_code == 200, bench.text
    body = bench.json()
    files = [d["id"] for d in body["files"]]
    assert simple["id"] in files and complex_["id"] in files and elsewhere["id"] not in files
    assert files.index(simple["id"]) < files.index(complex_["id"])  # earliest limit first
    assert [s["dispute_id"] for s in body["sessions_today"]] == [simple["id"]]
    assert [d["id"] for d in body["deadlines"]] == [simple["id"]]  # 1 day left; the complex case has 20

    clock.advance(timedelta(days=1))
    b.village.relogin()
    assert b.village.get("/api/v1/dispute-workbench").json()["sessions_today"] == []
    # The township's officer sees the file routed to the township, not the village's.
    township = b.township
    files = [d["id"] for d in township.get("/api/v1/dispute-workbench").json()["files"]]
    assert elsewhere["id"] in files
    grid_worker = Actor(live_server, engine, "grid_worker", b.place.grid)
    assert grid_worker.get("/api/v1/dispute-workbench").status_code == 403  # no disputes.mediate
