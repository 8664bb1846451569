"""Early warning of disputes (预知预报): one test per rule over real HTTP and a real database, the
periodic job, the combined raise, and the heat map by grid. Thresholds are the city's local
practice (``disputes/data/practice.json`` ``early_warning``), not law."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from civicgrid.alerts.models import Alert
from civicgrid.db import transaction
from civicgrid.disputes import early_warning
from civicgrid.kit.clock import FakeClock, utcnow
from tests.conftest import LiveServer, Yongzhou
from tests.disputes.conftest import Bodies, act, bodies, dispute_body, police_call
from tests.matters.conftest import Actor, DrainingWorker

COUNTY = "431128"  # no other test files disputes or incidents here


def citizen_id(seq: int) -> str:
    """A GB 11643-1999 number with its right check character, unique to this test run."""
    r = uuid.uuid4().int
    body = f"431128{1950 + (seq + r) % 50}{1 + r // 50 % 12:02d}{1 + r // 600 % 28:02d}{r // 16800 % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def person(role: str, id_number: str, name: str = "张三") -> dict[str, Any]:
    return {"kind": "person", "role": role, "full_name": name, "doc_type": "resident_id", "id_number": id_number}


def warnings(engine: Engine, dispute_id: str, rule: str | None = None) -> list[Alert]:
    query = select(Alert).where(Alert.source_type == "dispute", Alert.source_id == dispute_id)
    if rule:
        query = query.where(Alert.rule_code == rule)
    with Session(engine) as session:
        return list(session.scalars(query))


def ew_rules(engine: Engine, dispute_id: str) -> set[str]:
    return {a.rule_code for a in warnings(engine, dispute_id) if a.rule_code.startswith("disputes.ew_")}


def register(b: Bodies, **extra: Any) -> dict[str, Any]:
    ids = extra.pop("ids", None) or (citizen_id(1), citizen_id(2))
    body = dispute_body(b.place, parties=[person("applicant", ids[0]), person("respondent", ids[1], "李四")], **extra)
    created = b.village.post("/api/v1/disputes", body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_rules_are_explained_in_both_languages_and_combine() -> None:
    quiet = early_warning.Facts(number="JF1", people_involved=2, police_calls=0)
    assert early_warning.assess(quiet) == []
    one = early_warning.assess(early_warning.Facts(number="JF1", threats=1))
    assert [(f.rule, f.level) for f in one] == [("threats", "orange")]
    assert "扬言威胁" in one[0].reason.zh and "threat" in one[0].reason.en
    many = early_warning.assess(
        early_warning.Facts(number="JF2", threats=1, people_involved=8, failed_attempts=2, police_calls=None)
    )
    # Three findings at once: each one level graver, and the reason says why.
    assert [(f.rule, f.level) for f in many] == [
        ("threats", "red"),
        ("scale", "orange"),
        ("failed_mediations", "orange"),
    ]
    assert all("等级上调一级" in f.reason.zh and "one level up" in f.reason.en for f in many)
    # A gap is not a finding: no point, no police-call count.
    assert early_warning.assess(early_warning.Facts(number="JF3", police_calls=None)) == []
    # Amount: CNY 100,000 (10,000,000 fen) and above.
    assert early_warning.assess(early_warning.Facts(number="JF4", amount_fen=9_999_999)) == []
    big = early_warning.assess(early_warning.Facts(number="JF4", amount_fen=10_000_000))
    assert big[0].rule == "scale" and "100,000 元" in big[0].reason.zh


def test_repeated_disputes_between_the_same_parties_warn_on_the_second(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, COUNTY, 1)
    ids = (citizen_id(3), citizen_id(4))
    first = register(b, ids=ids)
    assert ew_rules(engine, first["id"]) == set()
    other = register(b, ids=(citizen_id(5), citizen_id(6)))
    assert ew_rules(engine, other["id"]) == set()  # different people: nothing
    second = register(b, ids=(ids[1], citizen_id(7)), title="又因排水沟争吵")
    found = warnings(engine, second["id"], "disputes.ew_repeat_parties")
    assert len(found) == 1 and found[0].level == "yellow"
    reasons = json.loads(found[0].reasons)
    assert "另有 1 起纠纷" in reasons[0]["zh"] and "1 other dispute" in reasons[0]["en"]


def test_repeated_police_calls_at_the_place_within_30_days_warn(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, COUNTY, 2)
    now = utcnow()
    p = b.place
    with transaction(engine) as session:
        session.add(police_call(now - timedelta(days=40), p.lng, p.lat, p.grid))  # too old
        session.add(police_call(now - timedelta(days=3), p.lng + 0.01, p.lat, p.grid))  # ~1 km away
        session.add(police_call(now - timedelta(days=2), p.lng, p.lat + 0.0003, p.grid))  # ~33 m
    quiet = register(b)
    assert "disputes.ew_police_calls" not in ew_rules(engine, quiet["id"])  # one call counts not

    with transaction(engine) as session:
        session.add(police_call(now - timedelta(days=1), p.lng + 0.0002, p.lat, p.grid))
    # The new call touches no dispute file: the periodic job finds it.
    with transaction(engine) as session:
        early_warning.run(session)
    found = warnings(engine, quiet["id"], "disputes.ew_police_calls")
    assert len(found) == 1 and found[0].level == "orange"
    assert "报警 2 次" in json.loads(found[0].reasons)[0]["zh"]
    with transaction(engine) as session:
        early_warning.run(session)  # once while open
    assert len(warnings(engine, quiet["id"], "disputes.ew_police_calls")) == 1


def test_a_recorded_threat_warns_orange_and_needs_its_words(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, COUNTY, 3)
    dispute = register(b, unit_id=b.village_committee)
    assert act(b.village, dispute["id"], "record_threat").status_code == 422  # what was said is required
    recorded = act(b.village, dispute["id"], "record_threat", "李四扬言要烧张三家的柴房")
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["threats"] == 1 and recorded.json()["status"] == "routed"
    found = warnings(engine, dispute["id"], "disputes.ew_threats")
    assert len(found) == 1 and found[0].level == "orange"
    assert found[0].division_code == b.place.village  # the handling body's division
    timeline = b.village.get(f"/api/v1/disputes/{dispute['id']}").json()["timeline"]
    assert timeline[-1]["action"] == "record_threat" and "柴房" in timeline[-1]["note"]


def test_many_parties_or_a_large_amount_warn_at_registration(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, COUNTY, 4)
    small = register(b, people_involved=4, amount_fen=500_000)
    assert "disputes.ew_scale" not in ew_rules(engine, small["id"])
    crowd = register(b, people_involved=12, category="labour", title="十二名工人讨薪")
    assert len(warnings(engine, crowd["id"], "disputes.ew_scale")) == 1
    money = register(b, amount_fen=35_000_000, category="contract")
    found = warnings(engine, money["id"], "disputes.ew_scale")
    assert len(found) == 1 and "350,000 元" in json.loads(found[0].reasons)[0]["zh"]


def test_two_failed_mediations_warn_the_mediator(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, COUNTY, 5)
    mediator_user = Actor(live_server, engine, "village_officer", b.place.village)
    mediator = b.county.post(
        "/api/v1/mediators",
        {
            "full_name": "周调解",
            "category": "village",
            "org_unit_id": b.village_committee,
            "user_id": mediator_user.user_id,
        },
    )
    assert mediator.status_code == 201, mediator.text
    dispute = register(b, unit_id=b.village_committee)
    assert act(b.village, dispute["id"], "accept", mediator_id=mediator.json()["id"]).status_code == 200
    session_body = {"participants": "双方", "notes": "分歧大", "result": "failed"}
    assert b.village.post(f"/api/v1/disputes/{dispute['id']}/sessions", session_body).status_code == 201
    assert "disputes.ew_failed_mediations" not in ew_rules(engine, dispute["id"])
    assert b.village.post(f"/api/v1/disputes/{dispute['id']}/sessions", session_body).status_code == 201
    found = warnings(engine, dispute["id"], "disputes.ew_failed_mediations")
    assert len(found) == 1 and found[0].owner_user_id == mediator_user.user_id
    inbox = mediator_user.get("/api/v1/inbox").json()
    assert any("多次调解不成" in item["title"] for item in inbox["items"])


def test_overdue_steps_warn_from_the_job_and_from_the_limit(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock, worker: DrainingWorker
) -> None:
    b = bodies(live_server, engine, yongzhou, COUNTY, 6)
    waiting = register(b)  # registered, never routed
    limited = register(b, unit_id=b.village_committee, complexity="simple")
    assert act(b.village, limited["id"], "accept").status_code == 200
    with transaction(engine) as session:
        early_warning.run(session)
    assert "disputes.ew_overdue_steps" not in ew_rules(engine, waiting["id"])

    clock.advance(timedelta(days=4, hours=1))
    worker.run_due()  # the simple case's 1-day limit ran out: overdue is a new fact
    found = warnings(engine, limited["id"], "disputes.ew_overdue_steps")
    assert len(found) == 1 and "超过时限" in json.loads(found[0].reasons)[0]["zh"]
    with transaction(engine) as session:
        early_warning.run(session)
    found = warnings(engine, waiting["id"], "disputes.ew_overdue_steps")
    assert len(found) == 1 and "登记 4 天未分流" in json.loads(found[0].reasons)[0]["zh"]


def test_the_heat_map_counts_open_warnings_by_grid_in_scope(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, COUNTY, 7)
    one = register(b, people_involved=9, unit_id=b.village_committee)
    assert act(b.village, one["id"], "record_threat", "扬言报复").status_code == 200
    register(b, people_involved=7)
    heat = b.county.get("/api/v1/dispute-warnings/heat")
    assert heat.status_code == 200, heat.text
    cell = next(c for c in heat.json() if c["code"] == b.place.grid)
    assert cell["disputes"] == 2 and cell["warnings"] == 3 and cell["level"] == "orange"
    assert cell["rules"] == {"disputes.ew_scale": 2, "disputes.ew_threats": 1}
    assert cell["lng"] is not None and cell["name"]
    elsewhere = Actor(live_server, engine, "county_plc_staff", "431102000000")
    assert all(c["code"] != b.place.grid for c in elsewhere.get("/api/v1/dispute-warnings/heat").json())


def test_a_concluded_dispute_withdraws_its_open_early_warnings_with_a_reason(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    """Settled (oral agreement, 人民调解法 2010 Art. 30) or failed (Art. 26): the early warnings
    still open on the file are withdrawn as ``source_closed``, each a ``withdraw`` step on its
    timeline; the Art. 25 police referral's warning is a fact, not a forecast, and stays open."""
    from civicgrid.workflow.models import TimelineEvent

    b = bodies(live_server, engine, yongzhou, COUNTY, 8)
    settled = register(b, people_involved=9, unit_id=b.village_committee)
    assert act(b.village, settled["id"], "record_threat", "扬言报复").status_code == 200
    assert act(b.village, settled["id"], "accept").status_code == 200
    scale = warnings(engine, settled["id"], "disputes.ew_scale")[0]
    assert b.village.post(f"/api/v1/alerts/{scale.id}/actions/acknowledge", {}).status_code == 200
    assert {a.status for a in warnings(engine, settled["id"]) if a.rule_code.startswith("disputes.ew_")} == {
        "raised",
        "acknowledged",
    }
    done = act(b.village, settled["id"], "settle_oral", "双方和解", terms="李四赔偿张三 500 元")
    assert done.status_code == 200, done.text
    ended = [a for a in warnings(engine, settled["id"]) if a.rule_code.startswith("disputes.ew_")]
    assert len(ended) == 2
    assert all(a.status == "withdrawn" and a.withdraw_reason == "source_closed" for a in ended)
    with Session(engine) as session:
        steps = session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.entity_type == "alert", TimelineEvent.entity_id.in_([a.id for a in ended])
            )
        ).all()
    withdrawn = [s for s in steps if s.action == "withdraw"]
    assert len(withdrawn) == 2 and all("已办结" in (s.note or "") and "口头协议" in (s.note or "") for s in withdrawn)
    # The heat map counts open warnings only: the settled file has left it.
    heat = b.county.get("/api/v1/dispute-warnings/heat").json()
    assert all(settled["id"] not in str(c) for c in heat)
    assert all(c["code"] != b.place.grid or c["warnings"] == 0 for c in heat)

    failed = register(b, amount_fen=35_000_000, unit_id=b.village_committee)
    assert act(b.village, failed["id"], "accept").status_code == 200
    assert act(b.village, failed["id"], "report_police", "双方扬言械斗").status_code == 200
    ended = act(b.village, failed["id"], "fail", "分歧过大", routes=["litigation"])
    assert ended.status_code == 200, ended.text
    by_rule = {a.rule_code: a for a in warnings(engine, failed["id"])}
    assert by_rule["disputes.ew_scale"].status == "withdrawn"
    assert by_rule["disputes.police_referral"].status == "raised"
