"""Intake by event time (issue 15 §2): out-of-order batches converge on the in-order result, the
stage tables refuse what cannot follow (补充侦查 at most twice, 刑事诉讼法 2018 Art. 175), a
document meets its limit, the property chain of custody, and the 治安 case limit with 鉴定
excluded (治安管理处罚法 2012 Art. 99(2))."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from civicgrid.authz.principal import Principal
from civicgrid.db import transaction
from civicgrid.kit.clock import FakeClock
from civicgrid.supervision import service
from tests.conftest import Yongzhou
from tests.supervision.helpers import clocks_of, cst, ev, ingester, open_case, run_timers, send, station


def _setup(engine: Engine, yongzhou: Yongzhou) -> tuple[Principal, str]:
    township = yongzhou.village_in("431102")[:9] + "000"
    return ingester(township), station(engine, township)


def test_out_of_order_batch_gives_the_in_order_result(engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    who, unit = _setup(engine, yongzhou)
    clock.set(cst("2026-10-12 12:00"))
    results = {}
    for order in ("in", "reversed"):
        case = open_case(engine, who, unit, cst("2026-10-12 08:00"))
        events = [
            ev("measure.started", cst("2026-10-12 08:10"), case=case, measure="S", kind="summons", person={"id": "P"}),
            ev(
                "measure.extended",
                cst("2026-10-12 10:00"),
                case=case,
                measure="S",
                limit="summons_duration",
                to="cpl_summons_extended",
                approver="办案部门负责人",
                document_no="延-1",
                article="程序规定第200条",
            ),
            ev("measure.ended", cst("2026-10-12 21:00"), case=case, measure="S"),
        ]
        if order == "reversed":
            events.reverse()
        answer = send(engine, who, events)
        assert answer.applied == 3, answer
        c = clocks_of(engine, case)["summons_duration"]
        results[order] = (c.status, c.statutory_code, c.due_at, c.met_at, c.breached_at)
    assert results["in"] == results["reversed"]
    assert results["in"] == ("met", "cpl_summons_extended", cst("2026-10-13 08:10"), cst("2026-10-12 21:00"), None)


def test_supplementary_investigation_at_most_twice(engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    who, unit = _setup(engine, yongzhou)
    clock.set(cst("2026-10-20 09:00"))
    case = open_case(engine, who, unit, cst("2026-10-01 09:00"))
    stages = [
        "filed",
        "investigating",
        "prosecution_review",
        "supplementary",
        "prosecution_review",
        "supplementary",
        "prosecution_review",
        "supplementary",
    ]
    answer = send(
        engine,
        who,
        [ev("case.stage_changed", cst(f"2026-10-{2 + i:02d} 09:00"), case=case, stage=s) for i, s in enumerate(stages)],
    )
    assert (answer.applied, answer.refused) == (7, 1)
    last = answer.results[-1]
    assert last.outcome == "refused" and "175" in (last.reason_zh or "")
    # Each return opened its own one-month clock, met by the transfer back.
    assert clocks_of(engine, case)["supplementary_investigation"].status == "met"


def test_document_meets_its_limit_and_property_chain(engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    who, unit = _setup(engine, yongzhou)
    clock.set(cst("2026-10-20 09:00"))
    case = open_case(engine, who, unit, cst("2026-10-20 08:00"))
    send(
        engine,
        who,
        [
            ev(
                "measure.started",
                cst("2026-10-20 08:30"),
                case=case,
                measure="D",
                kind="criminal_detention",
                person={"id": "P"},
            ),
            ev(
                "document.issued",
                cst("2026-10-20 09:00"),
                case=case,
                doc_type="family_notice",
                document_no="拘通-1",
                measure="D",
            ),
            ev(
                "property.moved",
                cst("2026-10-20 08:40"),
                case=case,
                item="I",
                action="seize",
                description="现金",
                measure="seized",
                value_fen=500000,
                to_holder="民警甲",
            ),
            ev(
                "property.moved",
                cst("2026-10-20 10:00"),
                case=case,
                item="I",
                action="transfer",
                from_holder="民警甲",
                to_holder="保管室",
                place="涉案财物管理中心",
            ),
        ],
    )
    clocks = clocks_of(engine, case)
    assert clocks["detention_family_notice"].status == "met"
    assert clocks["detention_to_custody"].status == "running"
    wrong = send(
        engine,
        who,
        [
            ev(
                "property.moved",
                cst("2026-10-20 11:00"),
                case=case,
                item="I",
                action="transfer",
                from_holder="民警乙",
                to_holder="民警丙",
            )
        ],
    )
    assert wrong.refused == 1 and wrong.results[0].field == "from_holder"
    send(
        engine,
        who,
        [
            ev(
                "property.moved",
                cst("2026-10-21 11:00"),
                case=case,
                item="I",
                action="return",
                from_holder="保管室",
                to_holder="所有人",
            )
        ],
    )
    with transaction(engine) as session:
        from civicgrid.supervision import repository

        item = repository.property_by_external(session, clocks["detention_to_custody"].case_id, "I")
        assert item is not None and item.status == "returned"
        chain = service.get_property(session, who, item.id)[1]
        assert [(t.action, t.to_holder) for t in chain] == [
            ("seize", "民警甲"),
            ("transfer", "保管室"),
            ("return", "所有人"),
        ]


def test_public_security_case_limit_with_appraisal_excluded(
    engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    """A 治安 case accepted on Mon 2025-11-03 runs 30 days (to 12-03 24:00); 鉴定 from 11-10 to
    11-20 is not counted (治安管理处罚法 2012 Art. 99(2); 程序规定 Art. 165): it ends 12-15 24:00."""
    who, unit = _setup(engine, yongzhou)
    clock.set(cst("2025-11-03 12:00"))
    case = open_case(engine, who, unit, cst("2025-11-03 10:00"), kind="administrative")
    c = clocks_of(engine, case)["psa_case"]
    assert c.due_at == cst("2025-12-04 00:00")
    assert "psa2012:2012-10-26" in c.law_version
    clock.set(cst("2025-11-10 10:00"))
    with transaction(engine) as session:
        paused = service.record_exception(
            session,
            who,
            c.id,
            kind="appraisal",
            at=cst("2025-11-10 10:00"),
            approver="所长",
            document_no="鉴委-7",
            note="伤情鉴定",
        )
        assert (paused.status, paused.due_at) == ("paused", None)
    clock.set(cst("2025-11-20 15:00"))
    with transaction(engine) as session:
        resumed = service.record_exception(
            session,
            who,
            c.id,
            kind="appraisal",
            at=cst("2025-11-20 15:00"),
            approver="所长",
            document_no="鉴委-7",
            note="鉴定意见送达",
            resume=True,
        )
        assert (resumed.status, resumed.due_at) == ("running", cst("2025-12-16 00:00"))
    clock.set(cst("2025-12-16 00:00"))
    run_timers(engine)
    assert clocks_of(engine, case)["psa_case"].breached_at == cst("2025-12-16 00:00")


def test_a_2026_public_security_case_runs_no_unverified_clock(
    engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    who, unit = _setup(engine, yongzhou)
    case = open_case(engine, who, unit, cst("2026-03-02 10:00"), kind="administrative", fast_track=True)
    # Only the verified statutory limit and the city's own stale-case practice run.
    assert set(clocks_of(engine, case)) == {"fast_track_decision", "stale_case"}


def test_a_case_is_stamped_with_its_latest_applied_event(engine: Engine, yongzhou: Yongzhou,
                                                         clock: FakeClock) -> None:
    """The case's latest event time (the case list's order) is the latest event applied, whatever
    the order of arrival: a refused event and an older late one do not move it."""
    from sqlalchemy import select

    from civicgrid.authz.scoping import unscoped
    from civicgrid.supervision.models import CaseRecord

    who, unit = _setup(engine, yongzhou)
    clock.set(cst("2026-10-12 12:00"))
    case = open_case(engine, who, unit, cst("2026-10-10 09:00"))
    answer = send(engine, who, [
        ev("document.issued", cst("2026-10-11 11:00"), case=case, doc_type="询问笔录"),
        ev("measure.ended", cst("2026-10-11 12:00"), case=case, measure="NOPE"),  # refused
        ev("document.issued", cst("2026-10-10 10:00"), case=case, doc_type="询问笔录"),
    ])
    assert (answer.applied, answer.refused) == (2, 1)

    def stamp() -> object:
        with transaction(engine) as session:
            return session.scalar(select(CaseRecord.last_event_at).where(CaseRecord.external_id == case,
                                                                        unscoped("test")))

    assert stamp() == cst("2026-10-11 11:00")
    send(engine, who, [ev("document.issued", cst("2026-10-10 12:00"), case=case, doc_type="询问笔录")])
    assert stamp() == cst("2026-10-11 11:00")


@pytest.mark.parametrize("opened", ["before", "in_batch"])
def test_a_batch_remembers_what_it_created_and_forgets_what_it_refused(
        engine: Engine, yongzhou: Yongzhou, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, opened: str) -> None:
    """A batch reads the persons and measures it names once and keeps those its events create: a
    refused event's person and measure are gone for the batch's later events (its savepoint rolled
    them back), a measure started earlier in the batch cannot start again, and one started after
    the refusal is the one that ends. The batch converges on what one event per batch gives."""
    from sqlalchemy import select

    from civicgrid.authz.scoping import unscoped
    from civicgrid.supervision import clocks, intake
    from civicgrid.supervision.models import CasePerson, CaseRecord, Measure

    who, unit = _setup(engine, yongzhou)
    clock.set(cst("2026-10-12 12:00"))
    ref = f"R{ev('x', clock.now()).event_id[:12]}"
    first: list[intake.EventIn] = []
    if opened == "before":
        send(engine, who, [ev("case.opened", cst("2026-10-10 09:00"), case=ref, kind="criminal", unit_id=unit,
                              title="测试案件")])
    else:
        first = [ev("case.opened", cst("2026-10-10 09:00"), case=ref, kind="criminal", unit_id=unit, title="测试案件")]
    real_open = clocks.open_clock
    calls = {"n": 0}

    def refuse_first_measure_clock(*args: object, **kwargs: object) -> object:
        if args[3] is not None and getattr(args[3], "measures", ()) and calls["n"] == 0:
            calls["n"] += 1
            raise intake.Refused("测试拒收", "refused by the test")
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(clocks, "open_clock", refuse_first_measure_clock)
    person = {"id": "P1", "role": "suspect", "name": "张三"}
    answer = send(engine, who, [*first,
        ev("measure.started", cst("2026-10-10 10:00"), case=ref, measure="M1", kind="criminal_detention",
           person=person),
        ev("person.left", cst("2026-10-10 10:30"), case=ref, person="P1", area="BA1"),
        ev("measure.started", cst("2026-10-10 11:00"), case=ref, measure="M1", kind="criminal_detention",
           person=person),
        ev("measure.started", cst("2026-10-10 11:30"), case=ref, measure="M1", kind="criminal_detention",
           person=person),
        ev("measure.ended", cst("2026-10-10 12:00"), case=ref, measure="M1", reason="released"),
    ])
    outcomes = [(o.outcome, o.reason_en) for o in answer.results[len(first):]]
    assert outcomes == [("refused", "refused by the test"), ("refused", "No such person in the case: P1"),
                        ("applied", None), ("refused", "The measure already exists: M1"), ("applied", None)]
    with transaction(engine) as session:
        case_id = session.scalar(select(CaseRecord.id).where(CaseRecord.external_id == ref, unscoped("test")))
        persons = session.scalars(select(CasePerson.external_id).where(CasePerson.case_id == case_id,
                                                                       unscoped("test"))).all()
        measures = session.execute(select(Measure.external_id, Measure.status, Measure.ended_at).where(
            Measure.case_id == case_id, unscoped("test"))).all()
    assert persons == ["P1"]
    assert [(m, str(s), e) for m, s, e in measures] == [("M1", "ended", cst("2026-10-10 12:00"))]
