"""Reads of the supervision records for a caller, and lawful exceptions on clocks.

A lawful exception is recorded, never silent: the approver and the document number are required,
the row lands in the audit chain with every ORM write, the clock's timeline names it, and the
board lists it. It can only act on a limit that is still running — a breach, once stamped, is
never edited away.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.kit.clock import as_utc, utcnow
from civicgrid.kit.errors import AppError, Invalid, NotFound
from civicgrid.supervision import catalogue, clocks, repository
from civicgrid.supervision.models import (
    CaseDocument,
    CasePerson,
    CaseRecord,
    Clock,
    ClockException,
    ClockStatus,
    CustodyTransfer,
    IntakeEvent,
    Measure,
    MeasureExtension,
    PropertyItem,
    RoomVisit,
)
from civicgrid.supervision.workflow import CLOCK_WORKFLOW
from civicgrid.workflow.engine import SYSTEM


def get_case(session: Session, principal: Principal, case_id: str) -> CaseRecord:
    case = repository.get_case(session, principal, case_id)
    if case is None:
        raise NotFound("案件", "case")
    return case


def list_cases(session: Session, principal: Principal, *, offset: int, limit: int,
               kind: str | None) -> tuple[int, list[CaseRecord]]:
    return repository.list_cases(session, principal, offset=offset, limit=limit, kind=kind)


@dataclass
class CaseFile:
    """Person, case, property and place of one case, with one timeline."""

    case: CaseRecord
    persons: list[CasePerson]
    measures: list[Measure]
    extensions: list[MeasureExtension]
    clocks: list[Clock]
    exceptions: list[ClockException]
    property: list[PropertyItem]
    documents: list[CaseDocument]
    visits: list[RoomVisit]
    events: list[IntakeEvent]
    timeline: list[dict[str, Any]]
    places: dict[str, str]


def _timeline(events: list[IntakeEvent], clocks_: list[Clock],
              exceptions: list[ClockException]) -> list[dict[str, Any]]:
    """What happened, by event time: every event received, every breach at its deadline, every
    lawful exception — one line each, across persons, the case, property and places."""
    items: list[dict[str, Any]] = []
    for e in events:
        items.append({"at": e.event_at, "kind": e.kind, "source": "event", "ref": e.event_id,
                      "received_at": e.received_at, "late": as_utc(e.received_at) > as_utc(e.event_at)
                      and (as_utc(e.received_at) - as_utc(e.event_at)).total_seconds() > 3600, "detail": None})
    for c in clocks_:
        rule = catalogue.rules()[c.rule_code]
        if c.breached_at is not None:
            items.append({"at": c.breached_at, "kind": "clock.breached", "source": "clock", "ref": c.id,
                          "received_at": None, "late": False, "detail": rule.name_zh})
        if c.met_at is not None and c.status == ClockStatus.MET:
            items.append({"at": c.met_at, "kind": "clock.met", "source": "clock", "ref": c.id, "received_at": None,
                          "late": False, "detail": rule.name_zh})
    for x in exceptions:
        items.append({"at": x.at, "kind": "clock.exception", "source": "exception", "ref": x.clock_id,
                      "received_at": x.recorded_at, "late": False,
                      "detail": f"{x.kind}（批准人 {x.approver}，文书 {x.document_no}）"})
    items.sort(key=lambda i: as_utc(i["at"]))
    return items


def case_file(session: Session, principal: Principal, case_id: str) -> CaseFile:
    case = get_case(session, principal, case_id)
    measures = repository.measures_of(session, principal, case.id)
    clocks_ = repository.clocks_for(session, principal, case.id)
    exceptions = repository.exceptions_of(session, principal, [c.id for c in clocks_])
    events = repository.events_of_case(session, principal, case.id)
    visits = repository.visits_of_case(session, principal, case.id)
    places = repository.place_titles(session, principal, {v.area_id for v in visits},
                                     {v.room_id for v in visits if v.room_id})
    return CaseFile(case=case, persons=repository.persons_of(session, principal, case.id), measures=measures,
                    extensions=repository.extensions_of(session, principal, [m.id for m in measures]),
                    clocks=clocks_, exceptions=exceptions, property=repository.property_of(session, principal, case.id),
                    documents=repository.documents_for(session, principal, case.id),
                    visits=visits, events=events, timeline=_timeline(events, clocks_, exceptions), places=places)


def get_person(session: Session, principal: Principal, person_id: str) -> tuple[CasePerson, list[Measure]]:
    person = repository.get_person(session, principal, person_id)
    if person is None:
        raise NotFound("人员", "person")
    return person, [m for m in repository.measures_of(session, principal, person.case_id) if m.person_id == person.id]


def get_property(session: Session, principal: Principal, property_id: str) -> tuple[PropertyItem,
                                                                                      list[CustodyTransfer]]:
    item = repository.get_property(session, principal, property_id)
    if item is None:
        raise NotFound("涉案财物", "property item")
    return item, repository.custody_chain(session, principal, item.id)


def get_clock(session: Session, principal: Principal, clock_id: str) -> Clock:
    clock = repository.get_clock(session, principal, clock_id)
    if clock is None:
        raise NotFound("期限", "limit")
    return clock


def record_exception(session: Session, principal: Principal, clock_id: str, *, kind: str, at: datetime | None,
                     approver: str, document_no: str, note: str | None, resume: bool = False) -> Clock:
    """Record a lawful exception on a running limit (module docstring)."""
    clock = get_clock(session, principal, clock_id)
    rule = catalogue.rules()[clock.rule_code]
    exception = rule.exception(kind)
    if exception is None:
        options = "、".join(e.code for e in rule.exceptions) or "无"
        raise Invalid(f"“{rule.name_zh}”没有“{kind}”这一法定例外；可选：{options}",
                      f"'{rule.name_en}' has no lawful exception '{kind}'; options: {options}",
                      details={"field": "kind"})
    if clock.status not in (ClockStatus.RUNNING, ClockStatus.PAUSED):
        raise AppError("该期限已不在计算中（已超期或已结束），不能再登记例外；超期记录不可更改",
                       "This limit is no longer running (breached or ended): no exception can be recorded, "
                       "and a breach is never edited away", status=409, code="clock_closed")
    moment = as_utc(at) if at else utcnow()
    if moment < as_utc(clock.start_at):
        raise Invalid("例外时间早于期限起算时间", "The exception is earlier than the start of the limit",
                      details={"field": "at"})
    session.add(ClockException(clock_id=clock.id, division_code=clock.division_code, kind=kind, at=moment,
                               approver=approver, document_no=document_no, basis=exception.basis.text_zh[:200],
                               note=note, recorded_by=principal.username))
    words = f"{exception.name_zh}：批准人 {approver}，文书 {document_no}，依据 {exception.basis.text_zh}"
    data = {"exception": kind, "approver": approver, "document_no": document_no, "basis": exception.basis.text_zh,
            "at": moment.isoformat()}
    if exception.effect == "except":
        CLOCK_WORKFLOW.transition(session, clock, "except", principal, note=words, data=data)
        clocks.withdraw_warning(session, clock, words)
        return clock
    kind_ = "restart" if exception.effect == "restart" else ("resume" if resume else "pause")
    clocks.add_adjustment(clock, kind_, moment, kind)
    result = clocks.compute(session, clock)  # refuses (422) an adjustment the rule does not allow
    clock.due_at = result.due_at
    clock.warn_at = clocks.warn_at(clock, result.due_at)
    clock.explanation = result.explanation_zh
    CLOCK_WORKFLOW.transition(session, clock, "adjust_pause" if result.due_at is None else "adjust", principal,
                              note=words, data={**data, "effect": kind_})
    clocks.settle(session, SYSTEM, clock)
    return clock


@dataclass
class Board:
    counts: dict[str, int]
    live: list[tuple[Clock, CaseRecord | None]]
    breaches: list[tuple[Clock, CaseRecord | None]]
    exceptions: list[ClockException]


def board(session: Session, principal: Principal, *, limit: int = 50) -> Board:
    counts = {str(status): int(n) for status, n in repository.clock_counts(session, principal)}
    live = repository.live_clocks(session, principal, limit=limit)
    breaches = repository.recent_breaches(session, principal, limit=limit)
    cases = {c.id: c for c in repository.cases_by_ids(session, principal, {x.case_id for x in (*live, *breaches)})}
    return Board(counts=counts, live=[(c, cases.get(c.case_id)) for c in live],
                 breaches=[(c, cases.get(c.case_id)) for c in breaches],
                 exceptions=repository.recent_exceptions(session, principal, limit=limit))


def officers(case: CaseRecord) -> list[str]:
    return list(json.loads(case.officers or "[]"))


# ------------------------------------------------------------------ console: room board, property ledger, breach map


@dataclass
class Occupant:
    visit: RoomVisit
    room: Any
    person: CasePerson | None
    case: CaseRecord | None
    measure: Measure | None
    clock: Clock | None


def areas(session: Session, principal: Principal) -> list[tuple[Any, int]]:
    return [(area, int(n)) for area, n in repository.list_areas(session, principal)]


def room_board(session: Session, principal: Principal, area_id: str) -> tuple[Any, list[Any], list[Occupant]]:
    """Who is in the area now, in which room since when, on which measure, and that measure's
    running limit (the nearest deadline) — the case-handling area's live room board."""
    area, rows = repository.room_board(session, principal, area_id)
    if area is None:
        raise NotFound("办案区", "case-handling area")
    person_ids = {visit.person_id for visit, _room in rows}
    persons = {p.id: p for p in repository.persons_by_ids(session, principal, person_ids)}
    cases = {c.id: c for c in repository.cases_by_ids(session, principal, {v.case_id for v, _r in rows})}
    measures = repository.running_measures_of_persons(session, principal, person_ids)
    clocks_ = repository.clocks_of_measures(session, principal, [m.id for m in measures])
    live = [c for c in clocks_ if c.status in (ClockStatus.RUNNING, ClockStatus.PAUSED, ClockStatus.BREACHED)]
    out: list[Occupant] = []
    for visit, room in rows:
        mine = [m for m in measures if m.person_id == visit.person_id]
        limits = sorted((c for c in live if c.measure_id in {m.id for m in mine}),
                        key=lambda c: (c.due_at is None, c.due_at or utcnow()))
        clock = limits[0] if limits else None
        measure = next((m for m in mine if clock is not None and m.id == clock.measure_id), mine[0] if mine else None)
        out.append(Occupant(visit, room, persons.get(visit.person_id), cases.get(visit.case_id), measure, clock))
    return area, repository.rooms_of(session, principal, area.id), out


def property_ledger(session: Session, principal: Principal, *, status: str | None, offset: int,
                    limit: int) -> tuple[int, list[Any]]:
    return repository.property_page(session, principal, status=status, offset=offset, limit=limit)


def breach_map(session: Session, principal: Principal, division_code: str) -> tuple[list[dict[str, Any]],
                                                                                     list[dict[str, Any]]]:
    """Open breaches per handling unit, and summed per region one level below ``division_code``
    (a unit counts for the region its division lies in; a unit of the division itself only in the
    unit list)."""
    from civicgrid.authz.scoping import jurisdiction_prefix

    try:
        prefix = jurisdiction_prefix(division_code)
    except ValueError as exc:
        raise Invalid("区划代码不正确", "Invalid division code", details={"field": "division_code"}) from exc
    if not (prefix.startswith(principal.jurisdiction) or principal.jurisdiction.startswith(prefix)):
        raise NotFound("区划", "division")
    child = {2: 4, 4: 6, 6: 9, 9: 12}.get(len(prefix), 12)
    names = {row.id: row.name for row in repository.unit_tree(session)}
    units: list[dict[str, Any]] = []
    regions: dict[str, int] = {}
    for unit_id, code, total, still_open in repository.open_breaches_by_unit(session, principal, prefix):
        units.append({"unit_id": unit_id, "unit_name": names.get(unit_id, unit_id), "division_code": code,
                      "breaches": int(total), "open_breaches": int(still_open)})
        region = code[:child].ljust(12, "0")
        if code[:child].rstrip("0") and region != division_code and code[len(prefix):child].strip("0"):
            regions[region] = regions.get(region, 0) + int(still_open)
    units.sort(key=lambda u: (-u["open_breaches"], -u["breaches"], u["unit_name"]))
    return [{"code": c, "open_breaches": n} for c, n in sorted(regions.items())], units
