"""The issue's acceptance scenario over real HTTP, and the closed loop's side paths.

A village-level matter reported by a grid worker is owned, handled, verified and closed in the
village; a township-level matter whose handling time runs out escalates to the county by
itself and is settled there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from civicgrid.db import transaction
from civicgrid.kit.clock import FakeClock
from civicgrid.timers.service import timers_for as timers_of
from civicgrid.timers.worker import TimerWorker
from civicgrid.workflow.models import TimelineEvent
from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import Actor, Place, actor, china, place_in


def report(reporter: Actor, place: Place, type_code: str, title: str = "垃圾堆放", **extra: Any) -> dict[str, Any]:
    body = {"type_code": type_code, "title": title, "description": "路口有垃圾", "lng": place.lng, "lat": place.lat,
            "channel": "grid_worker", **extra}
    response = reporter.post("/api/v1/matters", body)
    assert response.status_code == 201, response.text
    return response.json()


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def test_village_matter_is_settled_in_the_village(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou,
                                                  clock: FakeClock) -> None:
    place = place_in(yongzhou, "431102", 0)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)

    matter = report(grid_worker, place, "SR01", "暴露垃圾")  # 暴露垃圾: village, 4 working hours
    assert (matter["owner_level"], matter["division_code"], matter["grid_code"]) == ("village", place.village,
                                                                                     place.grid)
    assert matter["status"] == "reported" and matter["step"] == "accept"
    assert matter["number"].startswith("YZ-20261207-")
    assert matter["timeline"][0]["action"] == "report" and matter["timeline"][0]["lng"] == place.lng

    queue = ok(village.get("/api/v1/matters", queue="mine", limit="200"))
    assert matter["id"] in [m["id"] for m in queue["items"]]
    assert {m["division_code"] for m in queue["items"]} == {place.village}
    mine = ok(grid_worker.get("/api/v1/matters", queue="reported_by_me"))
    assert [m["id"] for m in mine["items"]] == [matter["id"]]

    ok(village.act(matter["id"], "accept"))
    dispatched = ok(village.act(matter["id"], "dispatch", "交保洁员处理"))
    assert dispatched["step"] == "handle"
    # 09:00 + 4 working hours: 09:00–12:00, 14:30–15:30 → 15:30 CST = 07:30 UTC
    assert dispatched["step_due_at"] == "2026-12-07T07:30:00Z"
    clock.advance(timedelta(hours=2))
    village.relogin()
    ok(village.act(matter["id"], "start"))
    handled = ok(village.act(matter["id"], "resolve", "已清运", result="垃圾已清运，现场已清洁"))
    assert handled["status"] == "handled" and handled["result"] == "垃圾已清运，现场已清洁"
    # Whoever handled it never verifies it (GB/T 30428): a colleague of the village does.
    refused = village.act(matter["id"], "verify", "现场核查属实")
    assert refused.status_code == 409 and "verify" not in refused.json()["error"]["allowed_actions"]
    colleague = actor(live_server, engine, "village_officer", place.village)
    ok(colleague.act(matter["id"], "verify", "现场核查属实"))
    closed = ok(village.act(matter["id"], "close"))
    assert (closed["status"], closed["settled_level"], closed["settled_division_code"]) == (
        "closed", "village", place.village)
    assert closed["overdue"] is False and closed["escalations"] == 0
    # 满意度 comes from the reporter, never the handler.
    assert village.act(matter["id"], "evaluate", "回访：群众满意", satisfaction=5).status_code == 409
    grid_worker.relogin()
    evaluated = ok(grid_worker.act(matter["id"], "evaluate", "群众满意", satisfaction=5))
    assert (evaluated["status"], evaluated["satisfaction"]) == ("evaluated", 5)
    actions = [e["action"] for e in evaluated["timeline"]]
    assert actions == ["report", "accept", "dispatch", "start", "resolve", "verify", "close", "evaluate"]
    assert all(e["actor_name"] for e in evaluated["timeline"])
    # People read names, not logins or codes (issue 11 §6): the actor's display name, the grid's
    # and the owning village's names.
    by_action = {e["action"]: e for e in evaluated["timeline"]}
    assert by_action["report"]["actor_display_name"] == grid_worker.user.display_name
    assert by_action["accept"]["actor_display_name"] == village.user.display_name
    assert evaluated["grid_name"] and not evaluated["grid_name"].isdigit()
    assert evaluated["division_name"] and not evaluated["division_name"].isdigit()
    row = next(m for m in ok(village.get("/api/v1/matters", queue="division", limit="200"))["items"]
               if m["id"] == matter["id"])
    assert (row["grid_name"], row["division_name"]) == (evaluated["grid_name"], evaluated["division_name"])


def test_township_matter_escalates_to_the_county_when_time_runs_out(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock, worker: TimerWorker) -> None:
    place = place_in(yongzhou, "431103", 0)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    township = actor(live_server, engine, "township_officer", place.township)
    county = actor(live_server, engine, "county_plc_staff", place.county)

    matter = report(grid_worker, place, "SR04", "占道经营")  # township, handle 4 working hours, auto-escalate
    assert (matter["owner_level"], matter["division_code"]) == ("township", place.township)
    ok(township.act(matter["id"], "accept"))
    ok(township.act(matter["id"], "dispatch"))
    # 09:00 + 4 working hours = 15:30; yellow at 75 % = 3 working hours = 12:00
    clock.set(china(2026, 12, 7, 11, 58))
    worker.run_due()
    township.relogin()
    assert ok(township.get(f"/api/v1/matters/{matter['id']}"))["alert"] == "none"
    clock.set(china(2026, 12, 7, 12, 1))
    worker.run_due()
    township.relogin()
    assert ok(township.get(f"/api/v1/matters/{matter['id']}"))["alert"] == "yellow"
    # The yellow deadline is also a warning in the one warning loop (issue 14 §3), with its reason.
    warnings = ok(township.get("/api/v1/alerts", source_type="matter", source_id=matter["id"]))["items"]
    assert [(w["rule_code"], w["level"], w["status"]) for w in warnings] == [
        ("matters.deadline_yellow", "yellow", "raised")]
    assert matter["number"] in warnings[0]["reasons"][0]["zh"]
    # The warning delivers its own inbox notice to the owning unit, once (no second notice from matters).
    notices = [i for i in ok(township.get("/api/v1/inbox", kind="notification"))["items"]
               if i["link_id"] == matter["id"]]
    assert [(i["kind"], i["link_type"], i["title_en"]) for i in notices] == [
        ("notification", "matter", f"75 % of a matter step's time used: {matter['number']}")]
    clock.set(china(2026, 12, 7, 15, 31))
    worker.run_due()
    county.relogin()
    township.relogin()
    escalated = ok(county.get(f"/api/v1/matters/{matter['id']}"))
    assert (escalated["status"], escalated["owner_level"], escalated["division_code"]) == (
        "escalated", "county", place.county)
    assert escalated["escalations"] == 1 and escalated["overdue"] is True
    assert escalated["timeline"][-1]["actor_name"] == "system"
    red = ok(county.get("/api/v1/alerts", source_type="matter", source_id=matter["id"], level="red"))["items"]
    assert [w["rule_code"] for w in red] == ["matters.deadline_red"]
    # The township still sees the matter of its territory, but may no longer act on it.
    seen = ok(township.get(f"/api/v1/matters/{matter['id']}"))
    assert seen["allowed_actions"] == []
    assert township.act(matter["id"], "resolve", "x").status_code == 409

    assert escalated["id"] in [m["id"] for m in ok(county.get("/api/v1/matters", queue="mine"))["items"]]
    ok(county.act(matter["id"], "accept"))
    ok(county.act(matter["id"], "dispatch", "交城管执法局"))
    ok(county.act(matter["id"], "resolve", "已劝离", result="摊贩已劝离"))
    ok(actor(live_server, engine, "county_plc_staff", place.county).act(matter["id"], "verify"))
    closed = ok(county.act(matter["id"], "close"))
    assert (closed["settled_level"], closed["settled_division_code"]) == ("county", place.county)


def test_action_not_allowed_answers_409_with_the_allowed_actions(live_server: LiveServer, engine: Engine,
                                                                 yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431102", 1)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)
    matter = report(grid_worker, place, "SR06", "小广告")
    response = village.act(matter["id"], "close")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert {"accept", "reject", "cancel", "escalate", "return"} <= set(error["allowed_actions"])
    assert "close" not in error["allowed_actions"]
    # The reporter (a grid worker) may see the matter but not act on the village's behalf.
    assert grid_worker.act(matter["id"], "accept").status_code in (404, 409)
    # Reject needs a reason.
    assert village.act(matter["id"], "reject").status_code == 422
    rejected = ok(village.act(matter["id"], "reject", "不属于受理范围"))
    assert rejected["status"] == "rejected" and rejected["step"] is None


def test_rework_extension_supervision_and_urging(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou,
                                                 clock: FakeClock, worker: TimerWorker) -> None:
    place = place_in(yongzhou, "431102", 2)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)
    township = actor(live_server, engine, "township_officer", place.township)
    county = actor(live_server, engine, "county_plc_staff", place.county)
    matter = report(grid_worker, place, "MS04", "楼道灯坏")  # village, handle 5 working days
    ok(village.act(matter["id"], "accept"))
    first = ok(village.act(matter["id"], "dispatch"))
    due = first["step_due_at"]

    # extension: requested by the owner, decided by the level above
    assert village.act(matter["id"], "request_extension", "需采购配件", days=0).status_code == 422
    ok(village.act(matter["id"], "request_extension", "需采购配件", days=2))
    refused = village.act(matter["id"], "approve_extension")
    assert refused.status_code == 409 and "approve_extension" not in refused.json()["error"]["allowed_actions"]
    extended = ok(township.act(matter["id"], "approve_extension", "同意延期"))
    assert extended["step_due_at"] > due and extended["extension_days"] is None
    assert extended["step_due_at"].startswith("2026-12-16T01:00")  # Mon 09:00 + 5 + 2 working days

    # supervision (督办) by the county, with its own deadline; urging (催办) by the township
    supervised = ok(county.act(matter["id"], "supervise", "请加快办理", days=1))
    assert supervised["supervised"] is True and supervised["supervision"][0]["status"] == "open"
    assert ok(township.act(matter["id"], "urge", "请尽快办结"))["status"] == "dispatched"
    assert village.act(matter["id"], "supervise", "x").status_code == 409  # not above itself
    clock.advance(timedelta(days=1, hours=1))  # Tuesday 10:00: the 1-working-day order is due
    worker.run_due()
    village.relogin()
    overdue = ok(village.get(f"/api/v1/matters/{matter['id']}"))
    assert overdue["supervision"][0]["status"] == "overdue"
    answered = ok(village.act(matter["id"], "answer_supervision", "已采购，明日更换"))
    assert answered["supervision"][0]["status"] == "answered"
    # The order lives its own transition table: issue (start) → expire (its timer) → answer.
    with transaction(engine, write=False) as session:
        steps = session.execute(select(TimelineEvent.action, TimelineEvent.to_status, TimelineEvent.actor_name)
                                .where(TimelineEvent.entity_type == "matter_supervision",
                                       TimelineEvent.entity_id == answered["supervision"][0]["id"])
                                .order_by(TimelineEvent.seq)).all()
        assert [tuple(row) for row in steps] == [("issue", "open", county.user.username),
                                                 ("expire", "overdue", "system"),
                                                 ("answer", "answered", village.user.username)]
        assert not timers_of(session, "matter_supervision", answered["supervision"][0]["id"], live_only=True)

    # rework: verification sends it back, the handling clock restarts
    ok(village.act(matter["id"], "resolve", "已更换灯泡", result="已更换"))
    county.relogin()
    back = ok(county.act(matter["id"], "send_back", "灯仍不亮"))
    assert (back["status"], back["rework_count"], back["step"]) == ("handling", 1, "handle")
    ok(village.act(matter["id"], "resolve", "更换线路", result="已更换线路"))
    township.relogin()
    ok(township.act(matter["id"], "verify"))  # the level above verifies what the village handled
    assert ok(village.act(matter["id"], "close"))["settled_level"] == "village"


def test_return_to_the_dispatcher_and_reassign(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431102", 3)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)
    township = actor(live_server, engine, "township_officer", place.township)
    matter = report(grid_worker, place, "SR07", "乱堆物料")
    returned = ok(village.act(matter["id"], "return", "属于施工单位，非村级职责"))
    assert (returned["status"], returned["owner_level"], returned["division_code"]) == (
        "returned", "township", place.township)
    assert township.act(matter["id"], "reassign", level="city").status_code == 422  # outside its jurisdiction
    reassigned = ok(township.act(matter["id"], "reassign", "由乡镇城建办办理", level="township"))
    assert (reassigned["status"], reassigned["owner_level"], reassigned["step"]) == ("reported", "township", "accept")
    escalated = ok(township.act(matter["id"], "escalate", "需县级部门处理"))
    assert (escalated["status"], escalated["owner_level"], escalated["escalations"]) == ("escalated", "county", 1)


def test_out_of_jurisdiction_is_404(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    from tests.factories import assert_out_of_scope_404

    place = place_in(yongzhou, "431102", 4)
    other = place_in(yongzhou, "431103", 1)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    stranger = actor(live_server, engine, "village_officer", other.village)
    matter = report(grid_worker, place, "SR01")
    assert_out_of_scope_404(live_server.url, stranger.token, f"/api/v1/matters/{matter['id']}")
    assert_out_of_scope_404(live_server.url, stranger.token, f"/api/v1/matters/{matter['id']}/transitions",
                            method="POST", json={"action": "accept"})
    assert matter["id"] not in [m["id"] for m in ok(stranger.get("/api/v1/matters", queue="division"))["items"]]
