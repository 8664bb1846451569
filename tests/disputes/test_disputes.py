"""The disputes module end to end over real HTTP: registration once, routing, mediation at the
lowest level that can settle it, transfers with a reason, agreements, time limits, personal data.

Statutes deciding behaviour here: 人民调解法 (2010-08-28) Art. 17 (voluntary), 25 (report to the
police), 26 (routes left when mediation fails), 29 (written agreement, effective on signatures and
seal), 33 and 民事诉讼法 (2023) Art. 205 (30 days to apply for judicial confirmation); 最高人民法院
关于人民法院特邀调解的规定 (2016) Art. 27 (pre-filing commissioned mediation: 30 days from the
signed receipt); GB 11643-1999 (citizen number check character)."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from civicgrid.alerts.models import Alert
from civicgrid.audit.models import AuditEntry
from civicgrid.kit.clock import CHINA_TZ, FakeClock
from civicgrid.timers.models import Timer
from tests.conftest import LiveServer, Yongzhou
from tests.disputes.conftest import WRONG_ID, act, bodies, dispute_body
from tests.factories import assert_out_of_scope_404
from tests.matters.conftest import Actor, DrainingWorker, china


def _alerts(engine: Engine, rule: str, source_id: str) -> list[Alert]:
    with engine.connect() as conn:
        return list(conn.execute(select(Alert).where(Alert.rule_code == rule, Alert.source_id == source_id)).all())


def test_a_neighbour_dispute_settled_by_the_village_committee_counts_at_village(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, "431102", 6)
    created = b.village.post("/api/v1/disputes", dispute_body(b.place, unit_id=b.village_committee))
    assert created.status_code == 201, created.text
    dispute = created.json()
    assert dispute["status"] == "routed" and dispute["handler_level"] == "village"
    assert dispute["grid_code"] == b.place.grid and dispute["division_code"] == b.place.grid  # snapped to its grid
    assert dispute["category_name"] == "邻里纠纷"

    accepted = act(b.village, dispute["id"], "accept")
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["status"] == "mediating" and body["limit_basis"] == "local_practice:7d"
    # General complexity, local practice 7 days: to 24:00 of the 7th day after acceptance.
    assert datetime.fromisoformat(body["due_at"]).astimezone(CHINA_TZ) == china(2026, 12, 15)

    settled = act(b.village, dispute["id"], "settle_oral", terms="张三疏通排水沟，李四赔偿200元")
    assert settled.status_code == 200, settled.text
    final = settled.json()
    assert final["status"] == "settled" and final["settled_level"] == "village" and final["outcome"] == "oral"
    assert final["agreement"]["kind"] == "oral" and final["agreement"]["status"] == "effective"
    assert not final["overdue"]

    figures = b.village.get(
        "/api/v1/dispute-figures", division_code=b.place.village, start="2026-12-01", end="2026-12-31"
    )
    assert figures.status_code == 200, figures.text
    f = figures.json()
    assert f["received"] == 1 and f["settled"] == 1 and f["success_rate"] == 1.0 and f["on_time_rate"] == 1.0
    assert f["settled_levels"] == {"village": 1, "township": 0, "county": 0, "city": 0}
    assert f["settled_level_shares"]["village"] == 1.0
    export = b.village.get(
        "/api/v1/dispute-figures/export", division_code=b.place.village, start="2026-12-01", end="2026-12-31"
    )
    assert export.status_code == 200 and export.content[:2] == b"PK"
    deadline = time.monotonic() + 10  # the download is audited after the response has gone out
    while True:
        with engine.connect() as conn:
            audited = conn.execute(
                select(AuditEntry.after).where(
                    AuditEntry.action == "disputes.export", AuditEntry.actor == b.village.user.username
                )
            ).all()
        if audited or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(audited) == 1 and json.loads(audited[0][0])["figures"] == b.place.village


def test_a_land_dispute_failing_twice_in_the_village_is_settled_at_the_township(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock, worker: DrainingWorker
) -> None:
    b = bodies(live_server, engine, yongzhou, "431102", 9)
    created = b.village.post(
        "/api/v1/disputes",
        dispute_body(
            b.place, title="山林边界纠纷", category="land_forest", complexity="complex", unit_id=b.village_committee
        ),
    )
    assert created.status_code == 201, created.text
    dispute_id = created.json()["id"]
    assert act(b.village, dispute_id, "accept").status_code == 200
    for _ in range(2):
        session = b.village.post(
            f"/api/v1/disputes/{dispute_id}/sessions",
            {"participants": "双方当事人、村调委会", "notes": "双方各执一词", "result": "failed"},
        )
        assert session.status_code == 201, session.text

    # A transfer needs its reason; escalation is a transfer to the township committee.
    no_reason = act(b.village, dispute_id, "transfer", unit_id=b.township_committee)
    assert no_reason.status_code == 422 and no_reason.json()["error"]["code"] == "note_required"
    moved = act(
        b.village, dispute_id, "transfer", "两次调解不成，涉及两村山界，提请乡镇调委会", unit_id=b.township_committee
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "routed" and moved.json()["handler_level"] == "township"
    assert moved.json()["failed_attempts"] == 2 and moved.json()["transfers"] == 1
    # The village can no longer act on it; the township accepts.
    assert act(b.village, dispute_id, "accept").status_code == 409
    assert act(b.township, dispute_id, "accept").status_code == 200

    drafted = b.township.post(
        f"/api/v1/disputes/{dispute_id}/agreement",
        {
            "facts": "两户山林边界不清",
            "issues": "界址",
            "responsibilities": "双方均有责任",
            "terms": "以老界碑为准重新立界",
            "performance": "乡镇林业站现场立界",
            "perform_by": "2026-12-20",
        },
    )
    assert drafted.status_code == 201, drafted.text
    parties = b.township.get(f"/api/v1/disputes/{dispute_id}").json()["parties"]
    # The seal needs every signature first (人民调解法 Art. 29).
    early = b.township.post(f"/api/v1/disputes/{dispute_id}/agreement/seal")
    assert early.status_code == 409
    for party in parties:
        assert (
            b.township.post(
                f"/api/v1/disputes/{dispute_id}/agreement/signatures", {"party_id": party["id"]}
            ).status_code
            == 200
        )
    assert b.township.post(f"/api/v1/disputes/{dispute_id}/agreement/signatures", {"mediator": True}).status_code == 200
    sealed = b.township.post(f"/api/v1/disputes/{dispute_id}/agreement/seal")
    assert sealed.status_code == 200, sealed.text
    agreement = sealed.json()
    assert agreement["status"] == "effective"

    final = b.township.get(f"/api/v1/disputes/{dispute_id}").json()
    assert final["status"] == "settled" and final["settled_level"] == "township" and final["outcome"] == "written"
    actions = [e["action"] for e in final["timeline"]]
    assert actions.index("transfer") < actions.index("seal") < actions.index("settle_written")

    figures = b.township.get(
        "/api/v1/dispute-figures", division_code=b.place.township, start="2026-12-01", end="2026-12-31"
    ).json()
    mine = b.township.get(
        "/api/v1/dispute-figures", division_code=b.place.village, start="2026-12-01", end="2026-12-31"
    ).json()
    assert mine["settled_levels"]["township"] == 1 and mine["settled_levels"]["village"] == 0
    assert figures["settled_levels"]["township"] >= 1

    # Judicial confirmation: 30 days from the effective date (人民调解法 Art. 33; 民事诉讼法 2023
    # Art. 205), counted from the next day: effective 2026-12-07 → the period ends 2027-01-06 24:00.
    due = datetime.fromisoformat(agreement["judicial_due_at"]).astimezone(CHINA_TZ)
    assert due == china(2027, 1, 7)
    assert (due - timedelta(minutes=1)).date() - datetime.fromisoformat(agreement["effective_at"]).astimezone(
        CHINA_TZ
    ).date() == timedelta(days=30)
    with engine.connect() as conn:
        timer = conn.execute(
            select(Timer).where(Timer.kind == "disputes.judicial_reminder", Timer.ref_id == agreement["id"])
        ).one()
    assert timer.due_at.astimezone(CHINA_TZ) == china(2026, 12, 31)  # the reminder lead: 7 days before
    clock.set(china(2026, 12, 31, 0, 1))
    worker.run_due()
    reminders = _alerts(engine, "disputes.judicial_confirmation_due", agreement["id"])
    assert len(reminders) == 1


def test_a_wrong_check_digit_is_refused_in_both_languages_and_a_passport_is_accepted(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou
) -> None:
    b = bodies(live_server, engine, yongzhou, "431102", 11)
    wrong = dispute_body(b.place)
    wrong["parties"][0]["id_number"] = WRONG_ID
    zh = b.village.post("/api/v1/disputes", wrong)
    assert zh.status_code == 422
    assert "GB 11643" in zh.json()["error"]["message"] and "公民身份号码不正确" in zh.json()["error"]["message"]
    en = b.village.post("/api/v1/disputes", wrong, lang="en")
    assert en.status_code == 422 and en.json()["error"]["message"].startswith("Resident ID number is invalid")
    # A Hong Kong/Macao/Taiwan residence permit carries a GB 11643 number: checked the same way.
    permit = dispute_body(b.place)
    permit["parties"][0].update(doc_type="hmt_residence_permit", id_number=WRONG_ID)
    assert b.village.post("/api/v1/disputes", permit).status_code == 422
    # A passport number is not a GB 11643 number: accepted.
    ok = b.village.post("/api/v1/disputes", dispute_body(b.place))
    assert ok.status_code == 201, ok.text
    assert [p["doc_type"] for p in ok.json()["parties"]] == ["resident_id", "passport"]
    # An organisation's unified social credit code is checked (GB 32100).
    org = dispute_body(
        b.place, parties=[{"kind": "organisation", "org_name": "某物业公司", "uscc": "91350100M000100Y44"}]
    )
    assert b.village.post("/api/v1/disputes", org).status_code == 422
    org["parties"][0]["uscc"] = "91350100M000100Y43"
    assert b.village.post("/api/v1/disputes", org).status_code == 201


def test_an_elder_mediator_sees_parties_masked_and_printing_is_one_audited_reveal(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, "431102", 13)
    created = b.village.post("/api/v1/disputes", dispute_body(b.place, unit_id=b.village_committee))
    dispute_id = created.json()["id"]
    # elder_mediator (五老调解员) holds disputes.mediate but not pii.reveal.
    elder = Actor(live_server, engine, "elder_mediator", b.place.village)
    assert act(elder, dispute_id, "accept").status_code == 200
    seen = elder.get(f"/api/v1/disputes/{dispute_id}").json()
    first = seen["parties"][0]
    assert first["full_name"] == "张*" and first["phone"] == "138****8000"
    assert first["id_number"] == "110105********002X" and "某村一组" not in (first["address"] or "")
    assert "张三" not in json.dumps(seen, ensure_ascii=False)
    assert (
        elder.post(
            f"/api/v1/disputes/{dispute_id}/reveal",
            {"party_id": first["id"], "field": "phone", "purpose": "联系当事人"},
        ).status_code
        == 403
    )

    assert (
        elder.post(
            f"/api/v1/disputes/{dispute_id}/agreement", {"facts": "排水沟堵塞", "issues": "排水", "terms": "共同疏通"}
        ).status_code
        == 201
    )
    url = f"/api/v1/disputes/{dispute_id}/agreement/print"
    assert elder.post(url, {"purpose": "送达"}).status_code == 403
    mediator = Actor(live_server, engine, "mediator", b.place.village)  # holds pii.reveal
    printed = mediator.post(url, {"purpose": "送达当事人"})
    assert printed.status_code == 200, printed.text
    page = printed.text
    assert "人民调解协议书" in page and "张三" in page and "11010519491231002X" in page
    mark = re.search(r'data-watermark="([^"]+)"', page)
    assert mark and mediator.user.username in mark.group(1)
    with engine.connect() as conn:
        entries = conn.execute(
            select(AuditEntry.after).where(AuditEntry.action == "pii.reveal", AuditEntry.entity_id == dispute_id)
        ).all()
    assert len(entries) == 1
    assert json.loads(entries[0][0]) == {
        "fields": ["parties"],
        "purpose": "送达当事人",
        "document": "人民调解协议书",
        "print": True,
    }


def test_pre_filing_commissioned_mediation_breaches_at_30_days_from_the_signed_receipt(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock, worker: DrainingWorker
) -> None:
    b = bodies(live_server, engine, yongzhou, "431102", 15)
    receipt = china(2026, 12, 7, 9, 0)
    created = b.county.post(
        "/api/v1/disputes",
        dispute_body(
            b.place,
            source="court",
            court_mode="pre_filing",
            court_receipt_at=receipt.isoformat(),
            category="contract",
            unit_id=b.county_centre,
        ),
    )
    assert created.status_code == 201, created.text
    dispute = created.json()
    assert dispute["limit_basis"] == "court_commissioned_pre_filing"
    # 30 days counted from the day after the receipt: 2026-12-08 … 2027-01-06, ending 24:00.
    assert datetime.fromisoformat(dispute["due_at"]).astimezone(CHINA_TZ) == china(2027, 1, 7)
    assert act(b.county, dispute["id"], "accept").status_code == 200

    clock.set(china(2027, 1, 6, 23, 0))
    worker.run_due()
    assert _alerts(engine, "disputes.limit_court", dispute["id"]) == []
    clock.set(china(2027, 1, 7, 0, 1))
    worker.run_due()
    breaches = _alerts(engine, "disputes.limit_court", dispute["id"])
    assert len(breaches) == 1 and breaches[0].level == "orange"
    b.county.relogin()
    assert b.county.get(f"/api/v1/disputes/{dispute['id']}").json()["overdue"] is True


def test_fail_needs_the_routes_left_and_a_refusal_ends_mediation(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, "431102", 17)
    one = b.village.post("/api/v1/disputes", dispute_body(b.place, unit_id=b.village_committee)).json()
    assert act(b.village, one["id"], "accept").status_code == 200
    assert act(b.village, one["id"], "fail", "分歧过大").status_code == 422  # Art. 26: routes required
    failed = act(b.village, one["id"], "fail", "分歧过大", routes=["litigation", "arbitration"])
    assert failed.status_code == 200 and failed.json()["other_routes"] == ["litigation", "arbitration"]
    assert failed.json()["settled_level"] is None

    two = b.village.post("/api/v1/disputes", dispute_body(b.place)).json()
    refused = act(b.village, two["id"], "refuse", "被申请人李四明确表示不同意调解（人民调解法第17条）")
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    assert act(b.village, two["id"], "route", unit_id=b.village_committee).status_code == 409

    three = b.village.post("/api/v1/disputes", dispute_body(b.place)).json()
    reported = act(b.village, three["id"], "report_police", "一方扬言持刀报复")
    assert reported.status_code == 200 and reported.json()["police_reported"] is True
    assert len(_alerts(engine, "disputes.police_referral", three["id"])) == 1
    from civicgrid.events.models import DomainEvent

    with engine.connect() as conn:
        events = conn.execute(
            select(DomainEvent.payload).where(
                DomainEvent.name == "disputes.police_referral", DomainEvent.entity_id == three["id"]
            )
        ).all()
    assert len(events) == 1 and json.loads(events[0][0])["reasons"] == ["一方扬言持刀报复"]


def test_a_matter_handed_off_counts_once_as_a_dispute(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, worker: DrainingWorker
) -> None:
    b = bodies(live_server, engine, yongzhou, "431102", 19)
    reporter = Actor(live_server, engine, "grid_worker", b.place.grid)
    reported = reporter.post(
        "/api/v1/matters",
        {
            "type_code": "JF01",
            "title": "邻居占道堆放杂物",
            "description": "",
            "lng": b.place.lng,
            "lat": b.place.lat,
            "channel": "grid_worker",
        },
    )
    assert reported.status_code == 201, reported.text
    matter_id = reported.json()["id"]
    # Counted once: the deltas around the hand-off (tests of one worker run one at a time).
    today = datetime.now(CHINA_TZ).date().isoformat()

    def counts() -> tuple[dict[str, Any], dict[str, Any]]:
        matters = b.village.get("/api/v1/figures/matters", division=b.place.grid, **{"from": today, "to": today})
        disputes = b.village.get("/api/v1/dispute-figures", division_code=b.place.village, start=today, end=today)
        assert matters.status_code == 200 and disputes.status_code == 200, (matters.text, disputes.text)
        return matters.json(), disputes.json()

    matters_before, disputes_before = counts()
    handed = b.village.post(f"/api/v1/matters/{matter_id}/transitions", {"action": "hand_off"})
    assert handed.status_code == 200, handed.text
    assert handed.json()["status"] == "handed_off" and handed.json()["settled_level"] is None
    worker.run_due()
    worker.run_due()
    listing = b.village.get("/api/v1/disputes").json()["items"]
    mine = [d for d in listing if d["matter_id"] == matter_id]
    assert len(mine) == 1 and mine[0]["source"] == "matter" and mine[0]["category"] == "neighbours"
    matters_after, disputes_after = counts()
    # The matter leaves the matters' closure and settled-level figures (void: 移交矛盾纠纷) ...
    assert matters_after["received_void"] == matters_before["received_void"] + 1
    assert matters_after["closed"] == matters_before["closed"]
    assert matters_after["settled"] == matters_before["settled"]
    # ... and is received once, as a dispute.
    assert disputes_after["received"] == disputes_before["received"] + 1
    # A matter type without the hand-off cannot be handed off.
    other = reporter.post(
        "/api/v1/matters",
        {
            "type_code": "SR01",
            "title": "垃圾",
            "description": "",
            "lng": b.place.lng,
            "lat": b.place.lat,
            "channel": "grid_worker",
        },
    )
    refused = b.village.post(f"/api/v1/matters/{other.json()['id']}/transitions", {"action": "hand_off"})
    assert refused.status_code == 409


def test_another_countys_user_gets_404(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    b = bodies(live_server, engine, yongzhou, "431102", 21)
    dispute_id = b.village.post("/api/v1/disputes", dispute_body(b.place)).json()["id"]
    other = Actor(live_server, engine, "county_plc_staff", "431103000000")
    assert_out_of_scope_404(live_server.url, other.token, f"/api/v1/disputes/{dispute_id}")
    assert_out_of_scope_404(
        live_server.url,
        other.token,
        f"/api/v1/disputes/{dispute_id}/agreement/print",
        method="POST",
        json={"purpose": "存档"},
    )
    assert dispute_id not in json.dumps(other.get("/api/v1/disputes").json())


def test_a_missing_screening_report_warns_and_a_zero_report_counts(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    from civicgrid.db import transaction
    from civicgrid.disputes import service

    filed = bodies(live_server, engine, yongzhou, "431124", 2)  # 道县: villages no other disputes test uses
    silent = bodies(live_server, engine, yongzhou, "431124", 30)
    assert filed.place.village != silent.place.village
    for b in (filed, silent):
        assert b.village_committee
    # Village committees report weekly (local practice): the week 2026-11-30 … 12-06 is due by
    # 24:00 on 12-07 (one grace day). A zero report filed on time counts as filed.
    wrong_start = filed.village.post(
        "/api/v1/dispute-screening-reports",
        {"division_code": filed.place.village, "period_start": "2026-12-01", "found": 0},
    )
    assert wrong_start.status_code == 422
    zero = filed.village.post(
        "/api/v1/dispute-screening-reports",
        {"division_code": filed.place.village, "period_start": "2026-11-30", "found": 0, "note": "本周无纠纷"},
    )
    assert zero.status_code == 201, zero.text
    assert zero.json()["on_time"] is True and zero.json()["period_end"] == "2026-12-06"
    again = filed.village.post(
        "/api/v1/dispute-screening-reports",
        {"division_code": filed.place.village, "period_start": "2026-11-30", "found": 1},
    )
    assert again.status_code == 409

    with transaction(engine) as session:
        warned = service.check_screening(session, china(2026, 12, 8, 1, 0))
    assert silent.place.village in warned and filed.place.village not in warned
    source = f"{silent.place.village}:village:2026-11-30"
    assert len(_alerts(engine, "disputes.screening_missing", source)) == 1
    with transaction(engine) as session:  # a rule warns once while its warning is open
        service.check_screening(session, china(2026, 12, 8, 2, 0))
    assert len(_alerts(engine, "disputes.screening_missing", source)) == 1

    figures = filed.village.get(
        "/api/v1/dispute-figures", division_code=filed.place.village, start="2026-12-01", end="2026-12-31"
    ).json()
    assert figures["screening_due"] == 1 and figures["screening_on_time_rate"] == 1.0


def test_the_mediator_registry_suggests_by_category_nearness_and_load(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, "431102", 23)
    county = b.county
    bad = county.post(
        "/api/v1/mediators", {"full_name": "王老师", "category": "five_elders", "org_unit_id": b.village_committee}
    )
    assert bad.status_code == 422  # a five-elders mediator names the kind
    elder = county.post(
        "/api/v1/mediators",
        {
            "full_name": "王建国",
            "phone": "13900139000",
            "category": "five_elders",
            "elder_kind": "teacher",
            "specialties": ["neighbours"],
            "org_unit_id": b.village_committee,
        },
    )
    assert elder.status_code == 201, elder.text
    assert elder.json()["full_name"] == "王**" and elder.json()["phone"] == "139****9000"
    lawyer = county.post(
        "/api/v1/mediators",
        {"full_name": "赵律师", "category": "lawyer", "specialties": ["contract"], "org_unit_id": b.township_committee},
    )
    assert lawyer.status_code == 201, lawyer.text
    dispute_id = b.village.post("/api/v1/disputes", dispute_body(b.place, unit_id=b.village_committee)).json()["id"]
    ranked = county.get(f"/api/v1/disputes/{dispute_id}/mediator-suggestions").json()
    assert [m["id"] for m in ranked][:2] == [elder.json()["id"], lawyer.json()["id"]]
    accepted = act(b.village, dispute_id, "accept", mediator_id=elder.json()["id"])
    assert accepted.status_code == 200 and accepted.json()["mediator_id"] == elder.json()["id"]
    listed = county.get("/api/v1/mediators", org_unit_id=b.village_committee).json()["items"]
    assert listed[0]["load"] == 1 and listed[0]["elder_kind"] == "teacher"


def test_a_police_incident_arrives_by_the_police_mediation_contract_once(
    engine: Engine, yongzhou: Yongzhou, worker: DrainingWorker
) -> None:
    from civicgrid.db import transaction
    from civicgrid.disputes.models import Dispute
    from civicgrid.events import service as events
    from civicgrid.kit.clock import utcnow
    from tests.matters.conftest import place_in

    place = place_in(yongzhou, "431102", 25)
    with transaction(engine) as session:
        events.publish(
            session,
            "dispatch.mediation_requested",
            entity_type="incident",
            entity_id="JQ-0001",
            division_code=place.village,
            incident_id="JQ-0001",
            grid_code=place.grid,
            place="村口小卖部",
            happened_at=utcnow(),
            summary="两邻居因停车争吵，民警到场后建议调解",
            party_count=2,
            party_roles=["报警人", "对方"],
            officer_id="officer-1",
        )
    worker.run_due()
    worker.run_due()
    with engine.connect() as conn:
        rows = conn.execute(
            select(Dispute.source, Dispute.division_code, Dispute.place, Dispute.status).where(
                Dispute.incident_id == "JQ-0001"
            )
        ).all()
    assert rows == [("police", place.grid, "村口小卖部", "registered")]


def test_the_demo_creates_disputes_at_every_stage_once(engine: Engine, yongzhou: Yongzhou) -> None:
    from civicgrid.disputes.models import Dispute
    from civicgrid.simulate.disputes import seed_disputes

    assert seed_disputes(engine, echo=lambda _: None) > 0
    with engine.connect() as conn:
        statuses = {s for (s,) in conn.execute(select(Dispute.status).where(Dispute.summary.like("%（演示）")))}
        levels = {
            lv
            for (lv,) in conn.execute(
                select(Dispute.settled_level).where(
                    Dispute.summary.like("%（演示）"), Dispute.settled_level.is_not(None)
                )
            )
        }
    assert statuses == {"registered", "routed", "mediating", "settled", "failed", "refused"}
    assert levels == {"village", "township"}
    with engine.connect() as conn:  # every one of the four "in place" has something to count
        turned = conn.execute(
            select(Dispute.id).where(Dispute.summary.like("%（演示）"), Dispute.turned_criminal_at.is_not(None))
        ).all()
        referred = conn.execute(
            select(Dispute.id).where(Dispute.summary.like("%（演示）"), Dispute.police_reported.is_(True))
        ).all()
    assert turned and referred
    assert seed_disputes(engine, echo=lambda _: None) == 0
