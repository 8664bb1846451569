"""GET /api/v1/my-reports: whoever reports follows what became of their reports — volunteers and
residents too, who read no queue (issue 11 §1)."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import actor, place_in


def test_a_volunteer_sees_the_state_of_their_reports(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou
) -> None:
    place = place_in(yongzhou, "431102", 3)
    volunteer = actor(live_server, engine, "volunteer", place.village)
    officer = actor(live_server, engine, "village_officer", place.village)
    other = actor(live_server, engine, "volunteer", place.village)
    assert volunteer.get("/api/v1/matters", queue="reported_by_me").status_code == 403  # no queue to read
    created = volunteer.post(
        "/api/v1/matters",
        {"type_code": "SR01", "title": "井盖缺失", "lng": place.lng, "lat": place.lat, "channel": "volunteer"},
    )
    assert created.status_code == 201, created.text
    matter_id = created.json()["id"]
    assert officer.act(matter_id, "accept").status_code == 200

    mine = volunteer.get("/api/v1/my-reports")
    assert mine.status_code == 200, mine.text
    rows = mine.json()["items"]
    assert [(r["id"], r["status"]) for r in rows] == [(matter_id, "accepted")]
    assert rows[0]["grid_name"] and not rows[0]["grid_name"].isdigit()
    assert other.get("/api/v1/my-reports").json()["items"] == []  # only one's own
    assert officer.get("/api/v1/my-reports").json()["items"] == []


def test_my_reports_needs_the_report_permission(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    auditor = actor(live_server, engine, "auditor", yongzhou.city)
    assert auditor.get("/api/v1/my-reports").status_code == 403
