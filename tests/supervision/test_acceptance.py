"""Issue 15 acceptance: the clocks of detention, summons and arrest requests, late and
duplicate events (刑事诉讼法 2018 Arts. 85, 91, 105, 119; 公安机关办理刑事案件程序规定 2020 Arts.
129, 200)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from civicgrid.alerts.models import Alert
from civicgrid.authz.scoping import unscoped
from civicgrid.db import transaction
from civicgrid.kit.clock import FakeClock
from tests.conftest import Yongzhou
from tests.supervision.helpers import (
    SENDER,
    alerts_about,
    clocks_of,
    cst,
    ev,
    ingester,
    open_case,
    run_timers,
    send,
    station,
)


def _township(yongzhou: Yongzhou) -> str:
    return yongzhou.village_in("431102")[:9] + "000"


def test_detention_not_delivered_breaches_at_22_on_national_day(engine: Engine, yongzhou: Yongzhou,
                                                                clock: FakeClock) -> None:
    """拘留 at 21:40 on Wed 2026-09-30: the hour it happened in is not counted (CPL 2018 Art. 105),
    24 hours from 22:00 end at 22:00 on Thu 10-01, a holiday that extends nothing (hours)."""
    township = _township(yongzhou)
    who, unit = ingester(township), station(engine, township)
    case = open_case(engine, who, unit, cst("2026-09-30 21:00"))
    assert send(engine, who, [ev("measure.started", cst("2026-09-30 21:40"), case=case, measure="M1",
                                 kind="criminal_detention", person={"id": "P1", "name": "张三"})]).applied == 1
    c = clocks_of(engine, case)["detention_to_custody"]
    assert c.status == "running"
    assert c.due_at == cst("2026-10-01 22:00") and c.warn_at == cst("2026-10-01 20:00")
    clock.set(cst("2026-10-01 20:00"))
    run_timers(engine)
    assert [a.level for a in alerts_about(engine, c.id)] == ["yellow"]
    clock.set(cst("2026-10-01 21:59"))
    run_timers(engine)
    assert clocks_of(engine, case)["detention_to_custody"].status == "running"
    clock.set(cst("2026-10-01 22:00"))
    run_timers(engine)
    c = clocks_of(engine, case)["detention_to_custody"]
    assert (c.status, c.breached_at) == ("breached", cst("2026-10-01 22:00"))
    levels = [(a.rule_code, a.level, a.status) for a in alerts_about(engine, c.id)]
    assert ("supervision.breach.detention_to_custody", "red", "raised") in levels
    breach = next(a for a in alerts_about(engine, c.id) if a.rule_code.startswith("supervision.breach"))
    assert "刑事诉讼法" in (breach.legal_basis or "") and "第85条" in (breach.legal_basis or "")
    assert "2018-10-26" in (breach.legal_basis or "")


def test_summons_counts_from_arrival_to_the_minute(engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    """传唤 with 到案 at 21:40: 12 hours from the arrival time (CPL Art. 119; MPS Provisions 2020
    Art. 200) — 09:40 the next morning."""
    township = _township(yongzhou)
    who, unit = ingester(township), station(engine, township)
    case = open_case(engine, who, unit, cst("2026-09-30 21:00"))
    send(engine, who, [ev("measure.started", cst("2026-09-30 21:40"), case=case, measure="S1", kind="summons",
                          person={"id": "P1"})])
    c = clocks_of(engine, case)["summons_duration"]
    assert c.due_at == cst("2026-10-01 09:40") and c.statutory_code == "cpl_summons"
    clock.set(cst("2026-10-01 09:40"))
    run_timers(engine)
    assert clocks_of(engine, case)["summons_duration"].breached_at == cst("2026-10-01 09:40")


def test_arrest_request_extended_to_seven_days_only_with_approval(engine: Engine, yongzhou: Yongzhou,
                                                                 clock: FakeClock) -> None:
    """提请批捕: 3 days from the day after detention (CPL Art. 91(1)); +4 with a county-level
    head's approval recorded (MPS Provisions 2020 Art. 129) runs to 7. Custody: no holiday rolls."""
    township = _township(yongzhou)
    who, unit = ingester(township), station(engine, township)
    extended = open_case(engine, who, unit, cst("2026-09-30 21:00"))
    plain = open_case(engine, who, unit, cst("2026-09-30 21:00"))
    for case in (extended, plain):
        send(engine, who, [ev("measure.started", cst("2026-09-30 21:40"), case=case, measure="D1",
                              kind="criminal_detention", person={"id": "P1"})])
        assert clocks_of(engine, case)["arrest_request"].due_at == cst("2026-10-04 00:00")
    answer = send(engine, who, [ev("measure.extended", cst("2026-10-02 10:00"), case=extended, measure="D1",
                                   limit="arrest_request", to="cpl_arrest_request_extended", approver="李局长",
                                   document_no="零公（刑）延字〔2026〕12号", article="刑事诉讼法第91条第2款")])
    assert answer.applied == 1, answer
    assert clocks_of(engine, extended)["arrest_request"].due_at == cst("2026-10-08 00:00")
    clock.set(cst("2026-10-04 00:00"))
    run_timers(engine)
    assert clocks_of(engine, plain)["arrest_request"].status == "breached"
    assert clocks_of(engine, extended)["arrest_request"].status == "running"
    late = send(engine, who, [ev("measure.extended", cst("2026-10-04 09:00"), case=plain, measure="D1",
                                 limit="arrest_request", to="cpl_arrest_request_extended", approver="李局长",
                                 document_no="X", article="刑事诉讼法第91条第2款")])
    assert late.refused == 1 and "cannot cure" in (late.results[0].reason_en or "")
    clock.set(cst("2026-10-08 00:00"))
    run_timers(engine)
    c = clocks_of(engine, extended)["arrest_request"]
    assert (c.status, c.breached_at) == ("breached", cst("2026-10-08 00:00"))


def test_same_event_twice_changes_nothing(engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    township = _township(yongzhou)
    who, unit = ingester(township), station(engine, township)
    case = open_case(engine, who, unit, cst("2026-09-30 21:00"))
    start = ev("measure.started", cst("2026-09-30 21:40"), "E-1", case=case, measure="S1", kind="summons",
               person={"id": "P1"})
    assert send(engine, who, [start]).applied == 1
    before = {k: (c.status, c.due_at) for k, c in clocks_of(engine, case).items()}
    again = send(engine, who, [start, start])
    assert (again.applied, again.duplicates, again.refused) == (0, 2, 0)
    assert {k: (c.status, c.due_at) for k, c in clocks_of(engine, case).items()} == before
    changed = ev("measure.started", cst("2026-09-30 21:50"), "E-1", case=case, measure="S1", kind="summons",
                 person={"id": "P1"})
    assert send(engine, who, [changed]).results[0].field == "event_id"


def _summons_from_midnight(engine: Engine, who: object, unit: str, clock: FakeClock) -> tuple[str, str]:
    case = open_case(engine, who, unit, cst("2026-10-10 00:00"))  # type: ignore[arg-type]
    send(engine, who, [ev("measure.started", cst("2026-10-10 00:00"), case=case, measure="S1",  # type: ignore[arg-type]
                          kind="summons", person={"id": "P1"}),
                       ev("person.entered", cst("2026-10-10 00:00"), case=case, person="P1", area="BA1",
                          area_title="办案区", room="R1", room_title="候问室")])
    clock.set(cst("2026-10-10 12:00"))
    run_timers(engine)
    c = clocks_of(engine, case)["summons_duration"]
    assert (c.status, c.breached_at) == ("breached", cst("2026-10-10 12:00"))
    return case, c.id


def test_late_left_area_event_withdraws_the_breach_as_late_data(engine: Engine, yongzhou: Yongzhou,
                                                                clock: FakeClock) -> None:
    """A 12-hour 传唤 from 00:00 breaches at 12:00; "left the area" at 11:30 arriving at 12:30
    proves it was kept: the breach is withdrawn as late data (kept on its timeline) and a 迟报
    warning is raised."""
    township = _township(yongzhou)
    who, unit = ingester(township), station(engine, township)
    clock.set(cst("2026-10-10 00:00"))
    case, clock_id = _summons_from_midnight(engine, who, unit, clock)
    clock.set(cst("2026-10-10 12:30"))
    answer = send(engine, who, [ev("person.left", cst("2026-10-10 11:30"), case=case, person="P1", area="BA1")])
    assert answer.applied == 1, answer
    c = clocks_of(engine, case)["summons_duration"]
    assert (c.status, c.met_at, c.breached_at) == ("met", cst("2026-10-10 11:30"), None)
    breach = next(a for a in alerts_about(engine, clock_id) if a.rule_code.startswith("supervision.breach"))
    assert (breach.status, breach.withdraw_reason) == ("withdrawn", "late_data")
    late = [a for a in _all_alerts(engine) if a.rule_code == "supervision.late_report" and SENDER in
            (a.source_label or "")]
    assert late and late[-1].level == "yellow"


def test_left_after_the_deadline_leaves_the_breach_at_the_deadline(engine: Engine, yongzhou: Yongzhou,
                                                                   clock: FakeClock) -> None:
    township = _township(yongzhou)
    who, unit = ingester(township), station(engine, township)
    clock.set(cst("2026-10-10 00:00"))
    case, clock_id = _summons_from_midnight(engine, who, unit, clock)
    clock.set(cst("2026-10-10 12:31"))
    send(engine, who, [ev("person.left", cst("2026-10-10 12:30"), case=case, person="P1", area="BA1")])
    c = clocks_of(engine, case)["summons_duration"]
    assert (c.status, c.met_at, c.breached_at) == ("breached", cst("2026-10-10 12:30"), cst("2026-10-10 12:00"))
    breach = next(a for a in alerts_about(engine, clock_id) if a.rule_code.startswith("supervision.breach"))
    assert breach.status == "raised"


def _all_alerts(engine: Engine) -> list[Alert]:
    with transaction(engine) as session:
        rows = list(session.scalars(select(Alert).where(unscoped("test"))))
        session.expunge_all()
        return rows
