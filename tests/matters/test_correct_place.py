"""更正位置 (issue 11 §2): a mis-located matter is moved to the right point with a reason; it is
re-routed (new grid → the type's owning unit there, which accepts it afresh) and the old and new
places stay on the timeline. Over real HTTP against the live server."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import actor, place_in


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def test_a_wrong_place_is_corrected_and_the_matter_rerouted(live_server: LiveServer, engine: Engine,
                                                            yongzhou: Yongzhou) -> None:
    wrong = place_in(yongzhou, "431102", 10)
    right = place_in(yongzhou, "431103", 10)
    operator = actor(live_server, engine, "hotline_operator", "431100000000")
    wrong_village = actor(live_server, engine, "village_officer", wrong.village)
    right_village = actor(live_server, engine, "village_officer", right.village)
    created = operator.post("/api/v1/matters", {
        "type_code": "SR01", "title": "垃圾堆放", "lng": wrong.lng, "lat": wrong.lat, "channel": "hotline",
        "address": "某街道某社区", "reporter_name": "李明", "reporter_phone": "13800138000"})
    assert created.status_code == 201, created.text
    matter = created.json()
    assert matter["division_code"] == wrong.village
    path = f"/api/v1/matters/{matter['id']}/place"

    # A reason is required; a point outside the city is refused naming the field.
    assert operator.post(path, {"lng": right.lng, "lat": right.lat}).status_code == 422
    outside = operator.post(path, {"lng": 116.4, "lat": 39.9, "reason": "来电人所述地址有误"})
    assert outside.status_code == 422 and outside.json()["error"]["field"] == "lng"
    # Someone outside both the owner and the reporter gets nothing.
    stranger = actor(live_server, engine, "village_officer", right.village)
    assert stranger.post(path, {"lng": right.lng, "lat": right.lat, "reason": "x"}).status_code == 404

    # The acceptor of the wrong village corrects it: it leaves their queue for the right village's.
    ok(wrong_village.act(matter["id"], "accept"))
    assert operator.post(path, {"lng": right.lng, "lat": right.lat, "reason": "x"}).status_code == 409  # accepted
    moved = ok(wrong_village.post(path, {"lng": right.lng, "lat": right.lat, "address": "正确地址3栋",
                                         "reason": "来电人所述社区有误，现场核实在此"}))
    assert (moved["grid_code"], moved["division_code"], moved["owner_level"], moved["status"]) == (
        right.grid, right.village, "village", "reported")
    assert moved["visible"] is False and moved["division_name"] and not moved["division_name"].isdigit()
    assert moved["address"] == "正确地址3栋"
    mine = ok(wrong_village.get("/api/v1/matters", queue="mine", limit="200"))["items"]
    assert matter["id"] not in [m["id"] for m in mine]
    theirs = ok(right_village.get("/api/v1/matters", queue="mine", limit="200"))["items"]
    assert matter["id"] in [m["id"] for m in theirs]

    detail = ok(right_village.get(f"/api/v1/matters/{matter['id']}"))
    assert (detail["step"], detail["accepted_at"], detail["lng"], detail["lat"]) == ("accept", None, right.lng,
                                                                                      right.lat)
    assert "accept" in detail["allowed_actions"]
    last = detail["timeline"][-1]
    assert (last["action"], last["from_status"], last["to_status"], last["note"]) == (
        "correct_place", "accepted", "reported", "来电人所述社区有误，现场核实在此")
    assert last["actor_name"] == wrong_village.user.username
    assert {k: last["data"][k] for k in ("from_grid", "to_grid", "from_division", "to_division")} == {
        "from_grid": wrong.grid, "to_grid": right.grid, "from_division": wrong.village,
        "to_division": right.village}


def test_the_reporter_corrects_the_place_before_acceptance(live_server: LiveServer, engine: Engine,
                                                          yongzhou: Yongzhou) -> None:
    first = place_in(yongzhou, "431102", 11)
    second = place_in(yongzhou, "431102", 12)
    operator = actor(live_server, engine, "hotline_operator", "431100000000")
    created = operator.post("/api/v1/matters", {
        "type_code": "SR03", "title": "占道", "lng": first.lng, "lat": first.lat, "channel": "hotline",
        "reporter_name": "王芳", "reporter_phone": "13900139000"})
    assert created.status_code == 201, created.text
    moved = ok(operator.post(f"/api/v1/matters/{created.json()['id']}/place",
                             {"lng": second.lng, "lat": second.lat, "reason": "地图选点有误"}))
    # SR03 is a township matter: the owner is the township of the corrected grid.
    assert (moved["grid_code"], moved["owner_level"], moved["division_code"], moved["visible"]) == (
        second.grid, "township", second.township, True)
