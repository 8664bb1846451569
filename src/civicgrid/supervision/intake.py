"""Event intake: what the case-handling systems report, applied by event time.

``apply_batch(session, principal, sender, events)`` applies a batch (docs/api/supervision.md):
each event carries the sender's event id and the moment it happened. The batch is applied in
event-time order, each event in a savepoint of its own: one that cannot follow the record is
refused with its reason (and rolled back alone); the rest are applied. The same event twice (same
sender and event id) changes nothing. Clocks are settled from facts with their event times
(:mod:`civicgrid.supervision.clocks`), so out-of-order and late events converge on the same
result, and a late event that proves a limit was kept withdraws its breach as late data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.kit.clock import as_utc, utcnow
from civicgrid.kit.errors import AppError
from civicgrid.kit.ids import new_id
from civicgrid.people.orgs import repository as orgs
from civicgrid.realtime import hub
from civicgrid.supervision import catalogue, clocks, repository
from civicgrid.supervision.models import (
    PRESENCE_MEASURES,
    CaseDocument,
    CasePerson,
    CaseRecord,
    Clock,
    ClockStatus,
    CustodyTransfer,
    HandlingArea,
    IntakeEvent,
    Measure,
    MeasureExtension,
    MeasureKind,
    MeasureStatus,
    PropertyItem,
    PropertyStatus,
    Room,
    RoomVisit,
)
from civicgrid.supervision.workflow import MEASURE_WORKFLOW, PROPERTY_WORKFLOW, case_workflow

EVENT_KINDS = ("case.opened", "case.stage_changed", "measure.started", "measure.extended", "measure.ended",
               "property.moved", "person.entered", "person.left", "document.issued")
MAX_BATCH = 1000


class Refused(AppError):
    """An event that cannot follow the record (answered in the batch, never raised out of it)."""

    status = 422
    code = "event_refused"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Ref = Field(min_length=1, max_length=64)


class PersonIn(_Strict):
    id: str = Ref
    role: Literal["suspect", "offender", "victim", "witness"] = "suspect"
    name: str | None = Field(default=None, max_length=50)
    id_number: str | None = Field(default=None, max_length=18)
    minor_under_14: bool = False


class CaseOpened(_Strict):
    case: str = Ref
    kind: Literal["criminal", "administrative"]
    unit_id: str = Field(min_length=32, max_length=32)
    title: str = Field(min_length=1, max_length=200)
    case_no: str | None = Field(default=None, max_length=64)
    category: str | None = Field(default=None, max_length=64)
    officers: list[str] = Field(default_factory=list, max_length=20)
    enterprise_involved: bool = False
    amount_fen: int | None = Field(default=None, ge=0)
    incident_no: str | None = Field(default=None, max_length=64)
    fast_track: bool = False
    persons: list[PersonIn] = Field(default_factory=list, max_length=200)


class StageChanged(_Strict):
    case: str = Ref
    stage: str = Field(min_length=1, max_length=32)


class MeasureStarted(_Strict):
    case: str = Ref
    measure: str = Ref
    kind: MeasureKind
    person: PersonIn | str


class MeasureExtended(_Strict):
    case: str = Ref
    measure: str | None = Field(default=None, max_length=64)
    limit: str = Field(min_length=1, max_length=64)
    to: str = Field(min_length=1, max_length=64)
    approver: str = Field(min_length=1, max_length=100)
    document_no: str = Field(min_length=1, max_length=100)
    article: str = Field(min_length=1, max_length=200)


class MeasureEnded(_Strict):
    case: str = Ref
    measure: str = Ref
    reason: str | None = Field(default=None, max_length=64)


class PropertyMoved(_Strict):
    case: str = Ref
    item: str = Ref
    action: Literal["seize", "transfer", "return", "confiscate", "auction", "destroy"]
    description: str | None = Field(default=None, max_length=200)
    measure: Literal["seized", "sealed", "frozen", "impounded"] | None = None
    value_fen: int | None = Field(default=None, ge=0)
    owner_name: str | None = Field(default=None, max_length=50)
    label_no: str | None = Field(default=None, max_length=64)
    from_holder: str | None = Field(default=None, max_length=100)
    to_holder: str | None = Field(default=None, max_length=100)
    place: str | None = Field(default=None, max_length=200)


class PersonMoved(_Strict):
    case: str = Ref
    person: str = Ref
    area: str = Ref
    area_title: str | None = Field(default=None, max_length=100)
    room: str | None = Field(default=None, max_length=64)
    room_title: str | None = Field(default=None, max_length=100)
    room_type: str | None = Field(default=None, max_length=32)


class DocumentIssued(_Strict):
    case: str = Ref
    doc_type: str = Field(min_length=1, max_length=40)
    document_no: str | None = Field(default=None, max_length=100)
    measure: str | None = Field(default=None, max_length=64)


PAYLOADS: dict[str, type[_Strict]] = {
    "case.opened": CaseOpened, "case.stage_changed": StageChanged, "measure.started": MeasureStarted,
    "measure.extended": MeasureExtended, "measure.ended": MeasureEnded, "property.moved": PropertyMoved,
    "person.entered": PersonMoved, "person.left": PersonMoved, "document.issued": DocumentIssued,
}


@dataclass
class EventIn:
    event_id: str
    kind: str
    at: datetime
    data: dict[str, Any]
    index: int = 0


@dataclass
class Outcome:
    index: int
    event_id: str
    outcome: str  # applied / duplicate / refused
    reason_zh: str | None = None
    reason_en: str | None = None
    field: str | None = None


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    refused: int = 0
    results: list[Outcome] = field(default_factory=list)


def _refuse(zh: str, en: str, where: str | None = None) -> Refused:
    return Refused(zh, en, details={"field": where} if where else None)


_CASES = "supervision.intake.cases"  # session.info: the cases a batch has resolved, by (sender, reference)
_TOUCHED = "supervision.intake.touched"  # session.info: each case's latest applied event in the batch, by id
_REFS = "supervision.intake.refs"  # session.info: the batch's persons and measures by reference (_Refs)


@dataclass
class _Refs:
    """A batch's persons and measures by (table, case id, reference): those its events name, read
    with one query per table before the first event, and those its events create. ``checked``:
    the references whose absence is known too (read and not found); ``new_cases``: the cases the
    batch opened, whose every person and measure is one it created. A row created by an event
    that was refused left the session with its savepoint's rollback, and is not found."""

    found: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    checked: set[tuple[str, str, str]] = field(default_factory=set)
    new_cases: set[str] = field(default_factory=set)


def _ref(session: Session, table: str, case_id: str, ref: str, read: Any) -> Any:
    """The person or measure ``ref`` of the case from the batch's references, else ``read()``."""
    refs: _Refs | None = session.info.get(_REFS)
    if refs is None:
        return read()
    key = (table, case_id, ref)
    row = refs.found.get(key)
    if row is not None and row in session:
        return row
    if key in refs.checked or case_id in refs.new_cases:
        return None
    return read()


def _remember(session: Session, table: str, case_id: str, ref: str, row: Any) -> None:
    refs: _Refs | None = session.info.get(_REFS)
    if refs is not None:
        refs.found[(table, case_id, ref)] = row


def _prefetch(session: Session, sender: str, events: list[EventIn]) -> None:
    """Read the cases, persons and measures a batch names, one query per table (before its first
    event; what its events create is remembered as they go)."""
    def text(value: Any) -> str | None:
        return value.strip() if isinstance(value, str) else None

    case_refs: set[str] = set()
    person_refs: set[str] = set()
    measure_refs: set[str] = set()
    for ev in events:
        data = ev.data if isinstance(ev.data, dict) else {}
        person = data.get("person")
        for into, value in ((case_refs, data.get("case")), (measure_refs, data.get("measure")),
                            (person_refs, person.get("id") if isinstance(person, dict) else person)):
            if (ref := text(value)) is not None:
                into.add(ref)
    cases = repository.cases_by_external(session, sender, sorted(case_refs))
    session.info[_CASES].update({(sender, case.external_id): case for case in cases})
    refs = _Refs()
    ids = [case.id for case in cases]
    for table, wanted, rows in (
            ("person", person_refs, repository.persons_by_external(session, ids, sorted(person_refs))),
            ("measure", measure_refs, repository.measures_by_external(session, ids, sorted(measure_refs)))):
        refs.checked.update((table, case_id, ref) for case_id in ids for ref in wanted)
        refs.found.update({(table, row.case_id, row.external_id): row for row in rows})
    session.info[_REFS] = refs


def _case(session: Session, principal: Principal, sender: str, ref: str) -> CaseRecord:
    known = session.info.get(_CASES)
    case = known.get((sender, ref)) if known is not None else None
    if case is None:
        case = repository.case_by_external(session, sender, ref)
    if case is None or not principal.governs(case.division_code):
        raise _refuse(f"未知案件：{ref}", f"Unknown case: {ref}", "case")
    return case


def _person(session: Session, case: CaseRecord, raw: PersonIn | str) -> CasePerson:
    ref = raw if isinstance(raw, str) else raw.id
    person = _ref(session, "person", case.id, ref, lambda: repository.person_by_external(session, case.id, ref))
    if person is None:
        if isinstance(raw, str):
            raise _refuse(f"案件中没有该人员：{ref}", f"No such person in the case: {ref}", "person")
        person = CasePerson(case_id=case.id, external_id=raw.id, division_code=case.division_code, role=raw.role,
                            person_name=raw.name, id_number=raw.id_number, minor_under_14=raw.minor_under_14)
        session.add(person)
        session.flush()
        _remember(session, "person", case.id, ref, person)
    return person


def _measure(session: Session, case: CaseRecord, ref: str) -> Measure:
    measure = _ref(session, "measure", case.id, ref, lambda: repository.measure_by_external(session, case.id, ref))
    if measure is None:
        raise _refuse(f"案件中没有该措施：{ref}", f"No such measure in the case: {ref}", "measure")
    return measure


def _touch(case: CaseRecord, at: datetime) -> None:
    if at > case.last_event_at:
        case.last_event_at = at


# ------------------------------------------------------------------ one handler per kind


def _case_opened(session: Session, principal: Principal, sender: str, ev: EventIn, p: CaseOpened,
                 log: IntakeEvent) -> CaseRecord:
    if repository.case_by_external(session, sender, p.case) is not None:
        raise _refuse(f"案件已存在：{p.case}", f"The case already exists: {p.case}", "case")
    unit = orgs.unit_by_id(session, p.unit_id, "the intake resolves the handling unit a sender names")
    if unit is None or not principal.governs(unit.division_code):
        raise _refuse("办案单位不存在或不在本辖区", "Unknown handling unit, or outside your jurisdiction", "unit_id")
    case = CaseRecord(sender_id=sender, external_id=p.case, kind=p.kind, case_no=p.case_no, title=p.title,
                      category=p.category, unit_id=unit.id, division_code=unit.division_code,
                      officers=json.dumps(p.officers, ensure_ascii=False), enterprise_involved=p.enterprise_involved,
                      amount_fen=p.amount_fen, incident_no=p.incident_no, fast_track=p.fast_track,
                      accepted_at=ev.at, stage_at=ev.at, last_event_at=ev.at)
    case_workflow(p.kind).start(session, case, principal, action="accept", status="accepted",
                                data={"event_at": ev.at.isoformat(), "sender": sender})
    session.flush()
    refs: _Refs | None = session.info.get(_REFS)
    if refs is not None:
        refs.new_cases.add(case.id)
    for raw in p.persons:
        _person(session, case, raw)
    for rule in catalogue.rules_for_stage("accepted", case.kind, case.fast_track):
        clocks.open_clock(session, principal, case, rule, ev.at, case.id, fresh=True)
    return case


def _stage_changed(session: Session, principal: Principal, sender: str, ev: EventIn, p: StageChanged,
                   log: IntakeEvent) -> CaseRecord:
    case = _case(session, principal, sender, p.case)
    flow = case_workflow(case.kind)
    if ev.at < case.stage_at:
        raise _refuse(f"阶段变更时间早于当前阶段（{case.status}）的时间", "The stage change is earlier than the "
                      f"current stage ({case.status})", "at")
    action = next((t.action for t in flow.actions_from(case.status) if t.target == p.stage), None)
    if action is None:
        allowed = sorted({t.target for t in flow.actions_from(case.status)})
        raise _refuse(f"案件当前阶段（{case.status}）不能变更为“{p.stage}”，可变更为：{'、'.join(allowed) or '无'}",
                      f"The case at stage '{case.status}' cannot move to '{p.stage}'; possible: "
                      f"{', '.join(allowed) or 'none'}", "stage")
    entry = flow.transition(session, case, action, principal, data={"event_at": ev.at.isoformat(), "sender": sender})
    case.stage_at = ev.at
    session.flush()
    for clock in repository.clocks_of_case(session, case.id):
        rule = catalogue.rules()[clock.rule_code]
        if p.stage in rule.met_stages and clock.met_at is None and clock.start_at <= ev.at:
            clock.met_at = ev.at
            clocks.settle(session, principal, clock, log)
    for rule in catalogue.rules_for_stage(p.stage, case.kind, case.fast_track):
        clocks.open_clock(session, principal, case, rule, ev.at, entry.id)
    held = [i for i in repository.property_of(session, principal, case.id) if i.status == PropertyStatus.HELD]
    for rule in catalogue.rules_for_stage(p.stage, case.kind, case.fast_track, per="held_property"):
        for item in held:  # each item still held when the case ends has its own disposal limit
            clocks.open_clock(session, principal, case, rule, ev.at, item.id)
    return case


def _measure_started(session: Session, principal: Principal, sender: str, ev: EventIn, p: MeasureStarted,
                     log: IntakeEvent) -> CaseRecord:
    case = _case(session, principal, sender, p.case)
    if _ref(session, "measure", case.id, p.measure,
            lambda: repository.measure_by_external(session, case.id, p.measure)) is not None:
        raise _refuse(f"措施已存在：{p.measure}", f"The measure already exists: {p.measure}", "measure")
    person = _person(session, case, p.person)
    measure = Measure(case_id=case.id, person_id=person.id, external_id=p.measure, division_code=case.division_code,
                      kind=str(p.kind), started_at=ev.at)
    MEASURE_WORKFLOW.start(session, measure, principal, action="start", status=MeasureStatus.RUNNING,
                           data={"event_at": ev.at.isoformat(), "kind": str(p.kind)})
    session.flush()
    _remember(session, "measure", case.id, p.measure, measure)
    for rule in catalogue.rules_for_measure(str(p.kind), case.kind):
        clocks.open_clock(session, principal, case, rule, ev.at, measure.id, measure.id, fresh=True)
    return case


def _own_limit(session: Session, measure: Measure) -> Clock | None:
    """The measure's own duration limit: the clock of the rule watching its kind that its end meets."""
    for clock in repository.clocks_of_measure(session, measure.id):
        rule = catalogue.rules()[clock.rule_code]
        if measure.kind in rule.measures and rule.measure_end is not None and not rule.in_area:
            return clock
    return None


def _still_in_area(session: Session, principal: Principal, case: CaseRecord, measure: Measure, at: datetime) -> None:
    """A presence measure ended at ``at`` while its person is still inside a case-handling area
    (entered by then, not yet left): the area limits (``in_area`` rules) take over from the
    measure's own limit — counted from the measure's start by that limit as it stood (extended or
    not) — until the person leaves. While the measure runs its own limit watches the same
    deadline, so there is one breach, not two; one already breached (or not counting: its rule
    disabled) stands alone."""
    visit = repository.open_visit(session, measure.person_id)
    own = _own_limit(session, measure)
    if visit is None or visit.entered_at > at or own is None or own.status != ClockStatus.MET:
        return
    for rule in catalogue.area_rules():
        clocks.open_clock(session, principal, case, rule, measure.started_at, measure.id, measure.id,
                          statutory_code=own.statutory_code)


def _measure_extended(session: Session, principal: Principal, sender: str, ev: EventIn, p: MeasureExtended,
                      log: IntakeEvent) -> CaseRecord:
    case = _case(session, principal, sender, p.case)
    rule = catalogue.rules().get(p.limit)
    if rule is None:
        raise _refuse(f"未知的时限规则：{p.limit}", f"Unknown limit: {p.limit}", "limit")
    if rule.extension(p.to) is None:
        options = "、".join(e.to for e in rule.extensions) or "无"
        raise _refuse(f"“{rule.name_zh}”不能延长为 {p.to}；可延长为：{options}",
                      f"'{rule.name_en}' cannot be extended to {p.to}; options: {options}", "to")
    measure = _measure(session, case, p.measure) if p.measure else None
    clock = repository.clock_by_rule(session, case.id, measure.id if measure else case.id, rule.code)
    if clock is None:
        raise _refuse(f"没有正在计算的“{rule.name_zh}”期限", f"No running '{rule.name_en}' limit", "limit")
    current = clocks.compute(session, clock)
    if current.due_at is not None and ev.at > current.due_at:
        raise _refuse(f"延长审批时间 {ev.at.isoformat()} 晚于原期限届满时间，不能补正超期",
                      "The extension was approved after the limit had expired: it cannot cure the breach", "at")
    if clock.status in clocks.FINAL:
        raise _refuse("该期限已结束，不能延长", "This limit has ended and cannot be extended", "limit")
    session.add(MeasureExtension(clock_id=clock.id, measure_id=measure.id if measure else None,
                                 division_code=case.division_code, limit_code=rule.code, to_statutory=p.to,
                                 approver=p.approver, document_no=p.document_no, article=p.article, at=ev.at))
    clock.statutory_code = p.to
    if measure is not None and measure.status == MeasureStatus.RUNNING:
        MEASURE_WORKFLOW.transition(session, measure, "extend", principal,
                                    note=f"{p.approver} 批准，文书 {p.document_no}，依据 {p.article}",
                                    data={"limit": rule.code, "to": p.to, "event_at": ev.at.isoformat()})
    clocks.settle(session, principal, clock, log)
    return case


def _end_measure(session: Session, principal: Principal, measure: Measure, at: datetime, reason: str | None,
                 log: IntakeEvent) -> None:
    if measure.status != MeasureStatus.RUNNING:
        raise _refuse("措施已结束", "The measure has already ended", "measure")
    if at < measure.started_at:
        raise _refuse("结束时间早于开始时间", "The end is earlier than the start", "at")
    measure.ended_at, measure.end_reason = at, reason
    MEASURE_WORKFLOW.transition(session, measure, "end", principal, note=reason,
                                data={"event_at": at.isoformat()})
    for clock in repository.clocks_of_measure(session, measure.id):
        rule = catalogue.rules()[clock.rule_code]
        if clock.met_at is None and rule.measure_end in ("meet", "stop"):
            clock.met_at = at
            clocks.settle(session, principal, clock, log, stop=rule.measure_end == "stop")


def _measure_ended(session: Session, principal: Principal, sender: str, ev: EventIn, p: MeasureEnded,
                   log: IntakeEvent) -> CaseRecord:
    case = _case(session, principal, sender, p.case)
    measure = _measure(session, case, p.measure)
    _end_measure(session, principal, measure, ev.at, p.reason, log)
    if measure.kind in PRESENCE_MEASURES:
        _still_in_area(session, principal, case, measure, ev.at)
    return case


PROPERTY_ACTIONS = {"return": "return", "confiscate": "confiscate", "auction": "auction", "destroy": "destroy",
                    "transfer": "transfer"}


def _property_moved(session: Session, principal: Principal, sender: str, ev: EventIn, p: PropertyMoved,
                    log: IntakeEvent) -> CaseRecord:
    case = _case(session, principal, sender, p.case)
    item = repository.property_by_external(session, case.id, p.item)
    if p.action == "seize":
        if item is not None:
            raise _refuse(f"财物已登记：{p.item}", f"The item is already recorded: {p.item}", "item")
        if not p.description or not p.measure:
            raise _refuse("扣押登记须写明财物名称与措施（查封、扣押、冻结、扣留）",
                          "A seizure needs the description and the measure", "description")
        item = PropertyItem(case_id=case.id, external_id=p.item, division_code=case.division_code,
                            description=p.description, measure=p.measure, value_fen=p.value_fen,
                            owner_person_name=p.owner_name, storage_place=p.place, label_no=p.label_no,
                            holder=p.to_holder)
        PROPERTY_WORKFLOW.start(session, item, principal, action="seize", status=PropertyStatus.HELD,
                                data={"event_at": ev.at.isoformat()})
    else:
        if item is None:
            raise _refuse(f"未登记的财物：{p.item}", f"Unknown item: {p.item}", "item")
        if p.action == "transfer" and item.holder and p.from_holder and p.from_holder != item.holder:
            raise _refuse(f"移交人（{p.from_holder}）不是当前保管人（{item.holder}）",
                          f"The giver ({p.from_holder}) is not the current holder ({item.holder})", "from_holder")
        PROPERTY_WORKFLOW.transition(session, item, PROPERTY_ACTIONS[p.action], principal,
                                     data={"event_at": ev.at.isoformat(), "from": p.from_holder, "to": p.to_holder})
        item.holder = p.to_holder or item.holder
        if p.place:
            item.storage_place = p.place
        for rule in catalogue.rules().values():
            clock = repository.clock_by_rule(session, case.id, item.id, rule.code) if rule.per else None
            if clock is not None and p.action in rule.met_property and clock.met_at is None:
                clock.met_at = ev.at
                clocks.settle(session, principal, clock, log)
    session.flush()
    session.add(CustodyTransfer(property_id=item.id, division_code=case.division_code, at=ev.at, action=p.action,
                                from_holder=p.from_holder, to_holder=p.to_holder, place=p.place))
    return case


def _area_and_room(session: Session, case: CaseRecord, p: PersonMoved) -> tuple[HandlingArea, Room | None]:
    area = repository.area_by_code(session, case.unit_id, p.area)
    if area is None:
        area = HandlingArea(unit_id=case.unit_id, division_code=case.division_code, code=p.area,
                            title=p.area_title or p.area)
        session.add(area)
        session.flush()
    room = None
    if p.room:
        room = repository.room_by_code(session, area.id, p.room)
        if room is None:
            room = Room(area_id=area.id, division_code=case.division_code, code=p.room, title=p.room_title or p.room,
                        room_type=p.room_type)
            session.add(room)
            session.flush()
    return area, room


def _announce_move(session: Session, case: CaseRecord, area_id: str, room_id: str | None, person: CasePerson,
                   action: str, at: datetime) -> None:
    """Tell the area's live room board that someone entered, moved room or left (after commit, to
    the jurisdictions that govern the case's division; ids only — names are personal data read
    through the board's scoped query)."""
    hub.publish(session, channel=f"entity:supervision_area:{area_id}", event=f"supervision_area.{action}",
                data={"area_id": area_id, "room_id": room_id, "person_id": person.id, "case_id": case.id,
                      "at": at.isoformat()},
                division_code=case.division_code)


def _person_entered(session: Session, principal: Principal, sender: str, ev: EventIn, p: PersonMoved,
                    log: IntakeEvent) -> CaseRecord:
    case = _case(session, principal, sender, p.case)
    person = _person(session, case, p.person)
    area, room = _area_and_room(session, case, p)
    current = repository.open_visit(session, person.id)
    if current is not None:
        if ev.at < current.entered_at:
            raise _refuse("进入时间早于上一次进入的时间", "Earlier than the previous entry", "at")
        current.left_at = ev.at  # moving between rooms closes the previous stay
    session.add(RoomVisit(area_id=area.id, room_id=room.id if room else None, person_id=person.id, case_id=case.id,
                          division_code=case.division_code, entered_at=ev.at))
    _announce_move(session, case, area.id, room.id if room else None, person,
                   "moved" if current is not None else "entered", ev.at)
    if current is None:  # an entry reported late, before the end of a presence measure already applied
        for measure in repository.ended_measures_of(session, person.id):
            if (measure.kind in PRESENCE_MEASURES and measure.ended_at is not None
                    and measure.started_at <= ev.at <= measure.ended_at):
                _still_in_area(session, principal, case, measure, measure.ended_at)
    return case


def _person_left(session: Session, principal: Principal, sender: str, ev: EventIn, p: PersonMoved,
                 log: IntakeEvent) -> CaseRecord:
    case = _case(session, principal, sender, p.case)
    person = _person(session, case, p.person)
    current = repository.open_visit(session, person.id)
    if current is not None:
        if ev.at < current.entered_at:
            raise _refuse("离开时间早于进入时间", "Leaving earlier than entering", "at")
        current.left_at = ev.at
        _announce_move(session, case, current.area_id, None, person, "left", ev.at)
    for measure in repository.running_measures_of(session, person.id):
        if measure.kind in PRESENCE_MEASURES and measure.started_at <= ev.at:
            _end_measure(session, principal, measure, ev.at, "left_area", log)
    for clock in repository.area_clocks_of_person(session, person.id, [r.code for r in catalogue.area_rules()]):
        if clock.met_at is None and clock.start_at <= ev.at:  # leaving the area meets its limits
            clock.met_at = ev.at
            clocks.settle(session, principal, clock, log)
    return case


def _document_issued(session: Session, principal: Principal, sender: str, ev: EventIn, p: DocumentIssued,
                     log: IntakeEvent) -> CaseRecord:
    case = _case(session, principal, sender, p.case)
    measure = _measure(session, case, p.measure) if p.measure else None
    session.add(CaseDocument(case_id=case.id, measure_id=measure.id if measure else None,
                             division_code=case.division_code, doc_type=p.doc_type, document_no=p.document_no,
                             issued_at=ev.at))
    session.flush()
    for clock in repository.clocks_of_case(session, case.id):
        rule = catalogue.rules()[clock.rule_code]
        if (p.doc_type in rule.met_documents and clock.met_at is None and clock.start_at <= ev.at
                and (measure is None or clock.measure_id == measure.id)):
            clock.met_at = ev.at
            clocks.settle(session, principal, clock, log)
    return case


HANDLERS = {
    "case.opened": _case_opened, "case.stage_changed": _stage_changed, "measure.started": _measure_started,
    "measure.extended": _measure_extended, "measure.ended": _measure_ended, "property.moved": _property_moved,
    "person.entered": _person_entered, "person.left": _person_left, "document.issued": _document_issued,
}


def _canonical(ev: EventIn) -> str:
    return json.dumps({"kind": ev.kind, "at": ev.at.isoformat(), "data": ev.data}, ensure_ascii=False,
                      sort_keys=True, default=str)


def apply_one(session: Session, principal: Principal, sender: str, ev: EventIn,
              logged: dict[str, IntakeEvent] | None = None) -> Outcome:
    """Apply one event in a savepoint; refusals roll back that event only. ``logged``: the
    sender's events already logged, by event id, when the caller read them for a whole batch
    (an applied event is added to it)."""
    seen = logged.get(ev.event_id) if logged is not None else repository.event_seen(session, sender, ev.event_id)
    if seen is not None:
        if seen.payload != _canonical(ev):
            return Outcome(ev.index, ev.event_id, "refused", "同一事件编号已用于不同内容",
                           "The event id was already used for different content", "event_id")
        return Outcome(ev.index, ev.event_id, "duplicate")
    model = PAYLOADS.get(ev.kind)
    if model is None:
        return Outcome(ev.index, ev.event_id, "refused", f"未知事件类型：{ev.kind}", f"Unknown event kind: {ev.kind}",
                       "kind")
    try:
        payload = model.model_validate(ev.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        return Outcome(ev.index, ev.event_id, "refused", f"字段 {where} 不符合要求：{first['msg']}",
                       f"Field {where}: {first['msg']}", where)
    savepoint = session.begin_nested()
    try:
        # The log row is written with its case, once the handler has found or made it (a 迟报
        # warning names it by id before then).
        log = IntakeEvent(id=new_id(), sender_id=sender, event_id=ev.event_id, kind=ev.kind, event_at=ev.at,
                          received_at=utcnow(), payload=_canonical(ev), outcome="applied")
        case = HANDLERS[ev.kind](session, principal, sender, ev, payload, log)  # type: ignore[operator]
        log.case_id, log.division_code = case.id, case.division_code
        session.add(log)
        if _TOUCHED not in session.info:  # a batch stamps each case once, at its end
            _touch(case, ev.at)
        clocks.new_activity(session, principal, case, ev.at, log)
        session.flush()
        savepoint.commit()
    except AppError as exc:
        savepoint.rollback()
        return Outcome(ev.index, ev.event_id, "refused", exc.zh, exc.en, (exc.details or {}).get("field"))
    if logged is not None:
        logged[ev.event_id] = log
    known = session.info.get(_CASES)
    if known is not None:
        known[(sender, case.external_id)] = case
    touched = session.info.get(_TOUCHED)
    if touched is not None and (case.id not in touched or ev.at > touched[case.id][1]):
        touched[case.id] = (case, ev.at)
    return Outcome(ev.index, ev.event_id, "applied")


def apply_batch(session: Session, principal: Principal, sender: str, events: list[EventIn]) -> BatchResult:
    """Apply ``events`` from ``sender`` in event-time order (module docstring); flushes, never commits."""
    if len(events) > MAX_BATCH:
        raise _refuse(f"每批最多 {MAX_BATCH} 条事件", f"At most {MAX_BATCH} events per batch", "events")
    result = BatchResult()
    for i, ev in enumerate(events):
        ev.index = i
        ev.at = as_utc(ev.at)
    # One read finds the batch's duplicates, one per table the cases, persons and measures it names
    # (those it creates are kept for its later events), and each case's latest event time is
    # written once, at the end.
    logged = repository.events_seen(session, sender, [ev.event_id for ev in events])
    session.info[_CASES] = {}
    session.info[_TOUCHED] = {}
    try:
        _prefetch(session, sender, events)
        for ev in sorted(events, key=lambda e: (e.at, e.index)):
            outcome = apply_one(session, principal, sender, ev, logged)
            result.results.append(outcome)
            if outcome.outcome == "applied":
                result.applied += 1
            elif outcome.outcome == "duplicate":
                result.duplicates += 1
            else:
                result.refused += 1
        for case, at in session.info[_TOUCHED].values():
            _touch(case, at)
        session.flush()
    finally:
        session.info.pop(_CASES, None)
        session.info.pop(_TOUCHED, None)
        session.info.pop(_REFS, None)
    result.results.sort(key=lambda o: o.index)
    return result


__all__ = ["EVENT_KINDS", "BatchResult", "Clock", "EventIn", "Outcome", "apply_batch", "apply_one"]
