"""One-click actions with 撤回 (issue 11 §5): accept, start and close need no input, so they are
committed at once; the same user may undo (``undo``) such a step within 10 minutes
(``CIVICGRID_MATTER_WITHDRAW_MINUTES``), and both rows stay on the timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from civicgrid.kit.clock import CHINA_TZ, FakeClock
from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import actor, place_in
from tests.matters.test_two_people import ok, refused, report


def test_one_click_steps_are_undone_by_their_author_within_ten_minutes(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    place = place_in(yongzhou, "431103", 12)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)
    colleague = actor(live_server, engine, "village_officer", place.village)
    matter = report(grid_worker, place, "SR01", "路面坑洼")
    path = f"/api/v1/matters/{matter['id']}"

    accepted = ok(village.act(matter["id"], "accept"))
    assert "undo" in accepted["allowed_actions"]
    # Only the person who took the step undoes it.
    assert "undo" not in ok(colleague.get(path))["allowed_actions"]
    assert refused(colleague.act(matter["id"], "undo"))["message"] == "只能撤回本人刚刚执行的上一步操作"
    undone = ok(village.act(matter["id"], "undo"))
    assert (undone["status"], undone["accepted_at"]) == ("reported", None)
    last = undone["timeline"][-1]
    assert (last["action"], last["from_status"], last["to_status"], last["data"]) == (
        "undo", "accepted", "reported", {"undone": "accept"})
    assert [e["action"] for e in undone["timeline"]][-2:] == ["accept", "undo"]
    assert "undo" not in undone["allowed_actions"]  # an undo is not undone

    # Start, then undo it; the next step closes the window for the earlier one.
    ok(village.act(matter["id"], "accept"))
    ok(village.act(matter["id"], "dispatch"))
    ok(village.act(matter["id"], "start"))
    assert ok(village.act(matter["id"], "undo"))["status"] == "dispatched"
    ok(village.act(matter["id"], "start"))
    ok(village.act(matter["id"], "resolve", result="已修补"))
    ok(colleague.act(matter["id"], "verify"))
    county = actor(live_server, engine, "county_plc_staff", place.county)

    def closed_in_grid() -> int:
        day = clock.now().astimezone(CHINA_TZ).date().isoformat()
        return int(ok(county.get("/api/v1/figures/matters", division=place.grid, **{"from": day, "to": day}))["closed"])

    before = closed_in_grid()
    closed = ok(colleague.act(matter["id"], "close"))
    assert closed["settled_level"] == "village" and closed_in_grid() == before + 1
    reopened = ok(colleague.act(matter["id"], "undo"))
    assert (reopened["status"], reopened["closed_at"], reopened["settled_level"]) == ("verified", None, None)
    assert closed_in_grid() == before  # the figures follow the undo

    # Ten minutes later it is too late.
    ok(colleague.act(matter["id"], "close"))
    clock.advance(timedelta(minutes=11))
    colleague.relogin()
    late: dict[str, Any] = refused(colleague.post(f"{path}/transitions", {"action": "undo"}, lang="en"))
    assert late["message"] == "Too late to undo: a step can be undone within 10 minutes"
    assert ok(colleague.get(path))["status"] == "closed"
