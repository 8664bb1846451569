"""The limits that are the city's own practice, not a statute (rules.json law ``city_practice``,
labelled 地方实践 wherever the basis is shown): a case with no event for 3 months (every new event
restarts the count; a late event can withdraw the breach as late data), property still held 30
days after the case ended (one limit per item; disposal meets it), and a person still inside a
case-handling area when the measure that brought them ended (at that measure's own limit)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from civicgrid.alerts.models import Alert
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import unscoped
from civicgrid.db import transaction
from civicgrid.kit.clock import FakeClock
from civicgrid.supervision.models import CaseRecord, Clock, Measure, PropertyItem
from tests.conftest import Yongzhou
from tests.supervision.helpers import alerts_about, clocks_of, cst, ev, ingester, open_case, run_timers, send, station


def _setup(engine: Engine, yongzhou: Yongzhou) -> tuple[Principal, str]:
    township = yongzhou.village_in("431102")[:9] + "000"
    return ingester(township), station(engine, township)


def test_a_case_without_events_for_three_months_breaches_and_late_activity_withdraws_it(
        engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    who, unit = _setup(engine, yongzhou)
    case = open_case(engine, who, unit, cst("2026-09-30 21:40"))
    stale = clocks_of(engine, case)["stale_case"]
    assert (stale.status, stale.due_at) == ("running", cst("2027-01-01 00:00"))
    # An event on 10-10 restarts the count: 3 months end on 01-10, a Sunday, so on Monday 01-11
    # (days and months roll over rest days; only custody does not).
    assert send(engine, who, [ev("case.stage_changed", cst("2026-10-10 09:00"), case=case, stage="filed")]).applied
    assert clocks_of(engine, case)["stale_case"].due_at == cst("2027-01-12 00:00")
    clock.set(cst("2027-01-05 12:00"))
    run_timers(engine)
    assert clocks_of(engine, case)["stale_case"].status == "running"
    clock.set(cst("2027-01-12 09:00"))
    run_timers(engine)
    stale = clocks_of(engine, case)["stale_case"]
    assert (stale.status, stale.breached_at) == ("breached", cst("2027-01-12 00:00"))
    breach = next(a for a in alerts_about(engine, stale.id) if a.rule_code == "supervision.breach.stale_case")
    assert breach.status == "raised"
    # A document issued on 12-20, reported only now: the case was not idle — the breach is withdrawn
    # as late data (it stays on the timeline) and the sender is warned for reporting late.
    late = send(engine, who, [ev("document.issued", cst("2026-12-20 10:00"), case=case, doc_type="询问笔录")])
    assert late.applied == 1
    stale = clocks_of(engine, case)["stale_case"]
    assert (stale.status, stale.due_at) == ("running", cst("2027-03-23 00:00"))  # 03-20 is a Saturday
    alerts = {a.rule_code: a for a in alerts_about(engine, stale.id)}
    assert (alerts["supervision.breach.stale_case"].status,
            alerts["supervision.breach.stale_case"].withdraw_reason) == ("withdrawn", "late_data")
    # An event older than the last activity changes nothing.
    send(engine, who, [ev("document.issued", cst("2026-11-01 10:00"), case=case, doc_type="询问笔录")])
    assert clocks_of(engine, case)["stale_case"].due_at == cst("2027-03-23 00:00")
    # The case's end meets it.
    assert send(engine, who, [ev("case.stage_changed", cst("2027-01-12 10:00"), case=case,
                                 stage="withdrawn")]).applied == 1
    assert clocks_of(engine, case)["stale_case"].status == "met"


def test_each_item_still_held_when_the_case_ends_has_its_own_disposal_limit(
        engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    who, unit = _setup(engine, yongzhou)
    clock.set(cst("2026-11-02 12:00"))
    case = open_case(engine, who, unit, cst("2026-10-20 09:00"))
    seize = [ev("property.moved", cst("2026-10-21 10:00"), case=case, item=item, action="seize",
                description=desc, measure="seized", to_holder="保管室")
             for item, desc in (("W1", "手机一部"), ("W2", "现金 2000 元"), ("W3", "电动车一辆"))]
    returned = ev("property.moved", cst("2026-10-25 10:00"), case=case, item="W3", action="return",
                  from_holder="保管室", to_holder="所有人")
    ended = ev("case.stage_changed", cst("2026-11-02 10:00"), case=case, stage="not_filed")
    assert send(engine, who, [*seize, returned, ended]).applied == 5

    def limits() -> dict[str, Clock]:
        with transaction(engine) as session:
            query = (select(PropertyItem.external_id, Clock).join(Clock, Clock.subject_id == PropertyItem.id)
                     .where(Clock.rule_code == "property_not_disposed", PropertyItem.case_id == Clock.case_id,
                            unscoped("test")))
            rows = session.execute(query).all()
            session.expunge_all()
            return {item: c for item, c in rows if item in ("W1", "W2", "W3")}

    # W3 was returned before the end: no limit; W1 and W2 are due 24:00 on 12-02.
    assert {k: (c.status, c.due_at) for k, c in limits().items()} == {
        "W1": ("running", cst("2026-12-03 00:00")), "W2": ("running", cst("2026-12-03 00:00"))}
    send(engine, who, [ev("property.moved", cst("2026-11-20 15:00"), case=case, item="W1", action="confiscate",
                          from_holder="保管室", to_holder="国库")])
    clock.set(cst("2026-12-03 08:00"))
    run_timers(engine)
    got = limits()
    assert (got["W1"].status, got["W1"].met_at) == ("met", cst("2026-11-20 15:00"))
    assert (got["W2"].status, got["W2"].breached_at) == ("breached", cst("2026-12-03 00:00"))
    breach = [a for a in alerts_about(engine, got["W2"].id)
              if a.rule_code == "supervision.breach.property_not_disposed"]
    assert len(breach) == 1 and "案件终结后涉案财物未处置" in breach[0].reasons
    assert breach[0].legal_basis is not None and "地方实践" in breach[0].legal_basis  # never passed off as a statute


def test_a_person_left_in_the_area_after_the_summons_ended_breaches_at_its_limit(
        engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    """传唤 lasts at most 12 hours from the 到案 moment (刑事诉讼法 2018-10-26 Art. 119(2); 公安机关办理刑事
    案件程序规定 2020 Art. 200). A person still inside the case-handling area after the summons ended
    is warned by the city's practice (地方实践, rule ``person_in_area_overstay``) at that same limit:
    leaving the area meets it, a late "left" event before the limit withdraws the breach as late
    data with a 迟报 warning, one after it leaves the breach standing at the limit; an entry reported
    after the summons' end still counts. A person who leaves with the summons still running has one
    breach at most (the summons' own), never two."""
    who, unit = _setup(engine, yongzhou)
    clock.set(cst("2026-10-01 10:30"))
    case = open_case(engine, who, unit, cst("2026-09-30 23:00"))
    events = []
    for person in ("P1", "P2", "P3", "P4"):
        events += [ev("measure.started", cst("2026-10-01 00:00"), case=case, measure=f"S{person}", kind="summons",
                      person={"id": person, "role": "suspect"}),
                   ev("person.entered", cst("2026-10-01 00:05"), case=case, person=person, area="BA1", room="XW1")]
    # P1 and P2: the summons ends at 10:00 but neither leaves the area; P3 leaves at 10:00 (which ends it).
    # P4's entry is reported only later (below): for now its summons ended with nobody known inside.
    events = [e for e in events if not (e.kind == "person.entered" and e.data["person"] == "P4")]
    events += [ev("measure.ended", cst("2026-10-01 10:00"), case=case, measure="SP1", reason="released"),
               ev("measure.ended", cst("2026-10-01 10:00"), case=case, measure="SP4", reason="released"),
               ev("measure.ended", cst("2026-10-01 10:00"), case=case, measure="SP2", reason="released"),
               ev("person.left", cst("2026-10-01 10:00"), case=case, person="P3", area="BA1")]
    assert send(engine, who, events).applied == len(events)

    def limits(rule: str) -> dict[str, Clock]:
        with transaction(engine) as session:
            rows = session.execute(select(Measure.external_id, Clock).join(Clock, Clock.measure_id == Measure.id)
                                   .join(CaseRecord, CaseRecord.id == Clock.case_id)
                                   .where(Clock.rule_code == rule, CaseRecord.external_id == case,
                                          unscoped("test"))).all()
            session.expunge_all()
            return {ref: c for ref, c in rows}

    assert {k: c.status for k, c in limits("summons_duration").items()} == {
        "SP1": "met", "SP2": "met", "SP3": "met", "SP4": "met"}
    area = limits("person_in_area_overstay")
    assert set(area) == {"SP1", "SP2"}  # P3 left: nothing watches them any more
    assert {(c.status, c.start_at, c.due_at, c.warn_at) for c in area.values()} == {
        ("running", cst("2026-10-01 00:00"), cst("2026-10-01 12:00"), cst("2026-10-01 11:00"))}
    clock.set(cst("2026-10-01 12:30"))
    run_timers(engine)
    area = limits("person_in_area_overstay")
    assert {(c.status, c.breached_at) for c in area.values()} == {("breached", cst("2026-10-01 12:00"))}
    breach = next(a for a in alerts_about(engine, area["SP1"].id)
                  if a.rule_code == "supervision.breach.person_in_area_overstay")
    assert breach.legal_basis is not None and "地方实践" in breach.legal_basis  # never passed off as a statute
    # P1 really left at 11:30, reported only now: late data; P2 left at 12:40: the breach stands at 12:00.
    # P4 had entered at 00:05, reported only now and not left: past the limit, breached at 12:00.
    send(engine, who, [ev("person.left", cst("2026-10-01 11:30"), case=case, person="P1", area="BA1"),
                       ev("person.left", cst("2026-10-01 12:40"), case=case, person="P2", area="BA1"),
                       ev("person.entered", cst("2026-10-01 00:05"), case=case, person="P4", area="BA1",
                          room="XW1")])
    area = limits("person_in_area_overstay")
    assert (area["SP1"].status, area["SP1"].met_at, area["SP1"].breached_at) == (
        "met", cst("2026-10-01 11:30"), None)
    assert (area["SP2"].status, area["SP2"].breached_at) == ("breached", cst("2026-10-01 12:00"))
    assert (area["SP4"].status, area["SP4"].breached_at) == ("breached", cst("2026-10-01 12:00"))
    withdrawn = next(a for a in alerts_about(engine, area["SP1"].id)
                     if a.rule_code == "supervision.breach.person_in_area_overstay")
    assert (withdrawn.status, withdrawn.withdraw_reason) == ("withdrawn", "late_data")
    with transaction(engine) as session:
        late = session.scalars(select(Alert).where(Alert.rule_code == "supervision.late_report",
                                                   Alert.source_type == "supervision_event", unscoped("test"))
                               .order_by(Alert.raised_at)).all()
        assert any("人员在办案区超过所依据措施的时限" in a.reasons for a in late)
