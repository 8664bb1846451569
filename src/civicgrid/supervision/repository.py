"""Every query of the supervision records, scoped by the caller or marked as the system's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import unscoped, visible
from civicgrid.supervision.models import (
    CaseDocument,
    CasePerson,
    CaseRecord,
    Clock,
    ClockException,
    CustodyTransfer,
    HandlingArea,
    IntakeEvent,
    Measure,
    MeasureExtension,
    PropertyItem,
    Room,
    RoomVisit,
)
from civicgrid.workflow.models import TimelineEvent

INTAKE = "the intake resolves a sender's own references; the caller's jurisdiction is checked on the case"
TIMER = "a clock's timer acts for the system"


# ------------------------------------------------------------------ intake (system reads)


def event_seen(session: Session, sender_id: str, event_id: str) -> IntakeEvent | None:
    return session.scalars(select(IntakeEvent).where(IntakeEvent.sender_id == sender_id,
                                                     IntakeEvent.event_id == event_id, unscoped(INTAKE))).first()


def events_seen(session: Session, sender_id: str, event_ids: list[str]) -> dict[str, IntakeEvent]:
    """The logged events of ``sender_id`` among ``event_ids`` (a batch's duplicates, one query)."""
    if not event_ids:
        return {}
    rows = session.scalars(select(IntakeEvent).where(IntakeEvent.sender_id == sender_id,
                                                     IntakeEvent.event_id.in_(sorted(set(event_ids))),
                                                     unscoped(INTAKE)))
    return {row.event_id: row for row in rows}


def case_by_external(session: Session, sender_id: str, external_id: str) -> CaseRecord | None:
    return session.scalars(select(CaseRecord).where(CaseRecord.sender_id == sender_id,
                                                    CaseRecord.external_id == external_id, unscoped(INTAKE))).first()


def person_by_external(session: Session, case_id: str, external_id: str) -> CasePerson | None:
    return session.scalars(select(CasePerson).where(CasePerson.case_id == case_id,
                                                    CasePerson.external_id == external_id, unscoped(INTAKE))).first()


def measure_by_external(session: Session, case_id: str, external_id: str) -> Measure | None:
    return session.scalars(select(Measure).where(Measure.case_id == case_id, Measure.external_id == external_id,
                                                 unscoped(INTAKE))).first()


def cases_by_external(session: Session, sender_id: str, external_ids: list[str]) -> list[CaseRecord]:
    """The cases of ``sender_id`` among ``external_ids`` (a batch's cases, one query)."""
    if not external_ids:
        return []
    return list(session.scalars(select(CaseRecord).where(CaseRecord.sender_id == sender_id,
                                                         CaseRecord.external_id.in_(sorted(set(external_ids))),
                                                         unscoped(INTAKE))))


def persons_by_external(session: Session, case_ids: list[str], external_ids: list[str]) -> list[CasePerson]:
    """The persons of ``case_ids`` among ``external_ids`` (a batch's references, one query)."""
    if not case_ids or not external_ids:
        return []
    return list(session.scalars(select(CasePerson).where(CasePerson.case_id.in_(sorted(set(case_ids))),
                                                         CasePerson.external_id.in_(sorted(set(external_ids))),
                                                         unscoped(INTAKE))))


def measures_by_external(session: Session, case_ids: list[str], external_ids: list[str]) -> list[Measure]:
    """The measures of ``case_ids`` among ``external_ids`` (a batch's references, one query)."""
    if not case_ids or not external_ids:
        return []
    return list(session.scalars(select(Measure).where(Measure.case_id.in_(sorted(set(case_ids))),
                                                      Measure.external_id.in_(sorted(set(external_ids))),
                                                      unscoped(INTAKE))))


def property_by_external(session: Session, case_id: str, external_id: str) -> PropertyItem | None:
    return session.scalars(select(PropertyItem).where(PropertyItem.case_id == case_id,
                                                      PropertyItem.external_id == external_id,
                                                      unscoped(INTAKE))).first()


def area_by_code(session: Session, unit_id: str, code: str) -> HandlingArea | None:
    return session.scalars(select(HandlingArea).where(HandlingArea.unit_id == unit_id, HandlingArea.code == code,
                                                      unscoped(INTAKE))).first()


def room_by_code(session: Session, area_id: str, code: str) -> Room | None:
    return session.scalars(select(Room).where(Room.area_id == area_id, Room.code == code, unscoped(INTAKE))).first()


def open_visit(session: Session, person_id: str) -> RoomVisit | None:
    return session.scalars(select(RoomVisit).where(RoomVisit.person_id == person_id, RoomVisit.left_at.is_(None),
                                                   unscoped(INTAKE)).order_by(RoomVisit.entered_at.desc())).first()


def running_measures_of(session: Session, person_id: str) -> list[Measure]:
    return list(session.scalars(select(Measure).where(Measure.person_id == person_id, Measure.status == "running",
                                                      unscoped(INTAKE))))


def ended_measures_of(session: Session, person_id: str) -> list[Measure]:
    return list(session.scalars(select(Measure).where(Measure.person_id == person_id, Measure.status != "running",
                                                      Measure.ended_at.is_not(None), unscoped(INTAKE))))


def clocks_of_case(session: Session, case_id: str) -> list[Clock]:
    return list(session.scalars(select(Clock).where(Clock.case_id == case_id, unscoped(INTAKE))
                                .order_by(Clock.created_at, Clock.id)))


def activity_clocks(session: Session, case_id: str, final: list[str]) -> list[Clock]:
    """The case's own limits (not a measure's or an item's) still counting: those a new event may restart."""
    return list(session.scalars(select(Clock).where(Clock.case_id == case_id, Clock.subject_id == case_id,
                                                    Clock.status.not_in(final), unscoped(INTAKE))
                                .order_by(Clock.created_at, Clock.id)))


def clocks_of_measure(session: Session, measure_id: str) -> list[Clock]:
    return list(session.scalars(select(Clock).where(Clock.measure_id == measure_id, unscoped(INTAKE))))


def area_clocks_of_person(session: Session, person_id: str, rule_codes: list[str]) -> list[Clock]:
    """The person's limits of being inside a case-handling area (one per presence measure)."""
    if not rule_codes:
        return []
    return list(session.scalars(select(Clock).join(Measure, Measure.id == Clock.measure_id)
                                .where(Measure.person_id == person_id, Clock.rule_code.in_(rule_codes),
                                       unscoped(INTAKE)).order_by(Clock.start_at, Clock.id)))


def clock_by_rule(session: Session, case_id: str, subject_id: str, rule_code: str) -> Clock | None:
    return session.scalars(select(Clock).where(Clock.case_id == case_id, Clock.subject_id == subject_id,
                                               Clock.rule_code == rule_code, unscoped(INTAKE))).first()


def documents_of(session: Session, case_id: str) -> list[CaseDocument]:
    return list(session.scalars(select(CaseDocument).where(CaseDocument.case_id == case_id, unscoped(INTAKE))))


def clock_unscoped(session: Session, clock_id: str) -> Clock | None:
    return session.scalars(select(Clock).where(Clock.id == clock_id, unscoped(TIMER))).first()


def case_unscoped(session: Session, case_id: str) -> CaseRecord | None:
    return session.scalars(select(CaseRecord).where(CaseRecord.id == case_id, unscoped(TIMER))).first()


# ------------------------------------------------------------------ reads for a caller


def get_case(session: Session, principal: Principal, case_id: str) -> CaseRecord | None:
    return session.scalars(select(CaseRecord).where(CaseRecord.id == case_id,
                                                    visible(CaseRecord.division_code, principal))).first()


def list_cases(session: Session, principal: Principal, *, offset: int, limit: int,
               kind: str | None = None) -> tuple[int, list[CaseRecord]]:
    query = select(CaseRecord).where(visible(CaseRecord.division_code, principal))
    if kind:
        query = query.where(CaseRecord.kind == kind)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(CaseRecord.last_event_at.desc(), CaseRecord.id).offset(offset).limit(limit))
    return total, list(rows)


def persons_of(session: Session, principal: Principal, case_id: str) -> list[CasePerson]:
    return list(session.scalars(select(CasePerson).where(CasePerson.case_id == case_id,
                                                         visible(CasePerson.division_code, principal))
                                .order_by(CasePerson.created_at, CasePerson.id)))


def get_person(session: Session, principal: Principal, person_id: str) -> CasePerson | None:
    return session.scalars(select(CasePerson).where(CasePerson.id == person_id,
                                                    visible(CasePerson.division_code, principal))).first()


def measures_of(session: Session, principal: Principal, case_id: str) -> list[Measure]:
    return list(session.scalars(select(Measure).where(Measure.case_id == case_id,
                                                      visible(Measure.division_code, principal))
                                .order_by(Measure.started_at, Measure.id)))


def extensions_of(session: Session, principal: Principal, measure_ids: list[str]) -> list[MeasureExtension]:
    if not measure_ids:
        return []
    return list(session.scalars(select(MeasureExtension).where(MeasureExtension.measure_id.in_(measure_ids),
                                                               visible(MeasureExtension.division_code, principal))
                                .order_by(MeasureExtension.at)))


def clocks_for(session: Session, principal: Principal, case_id: str) -> list[Clock]:
    return list(session.scalars(select(Clock).where(Clock.case_id == case_id, visible(Clock.division_code, principal))
                                .order_by(Clock.start_at, Clock.id)))


def get_clock(session: Session, principal: Principal, clock_id: str) -> Clock | None:
    return session.scalars(select(Clock).where(Clock.id == clock_id, visible(Clock.division_code, principal))).first()


def exceptions_of(session: Session, principal: Principal, clock_ids: list[str]) -> list[ClockException]:
    if not clock_ids:
        return []
    return list(session.scalars(select(ClockException).where(ClockException.clock_id.in_(clock_ids),
                                                             visible(ClockException.division_code, principal))
                                .order_by(ClockException.recorded_at)))


def property_of(session: Session, principal: Principal, case_id: str) -> list[PropertyItem]:
    return list(session.scalars(select(PropertyItem).where(PropertyItem.case_id == case_id,
                                                           visible(PropertyItem.division_code, principal))
                                .order_by(PropertyItem.created_at, PropertyItem.id)))


def get_property(session: Session, principal: Principal, property_id: str) -> PropertyItem | None:
    return session.scalars(select(PropertyItem).where(PropertyItem.id == property_id,
                                                      visible(PropertyItem.division_code, principal))).first()


def custody_chain(session: Session, principal: Principal, property_id: str) -> list[CustodyTransfer]:
    return list(session.scalars(select(CustodyTransfer).where(CustodyTransfer.property_id == property_id,
                                                              visible(CustodyTransfer.division_code, principal))
                                .order_by(CustodyTransfer.at, CustodyTransfer.id)))


def documents_for(session: Session, principal: Principal, case_id: str) -> list[CaseDocument]:
    return list(session.scalars(select(CaseDocument).where(CaseDocument.case_id == case_id,
                                                           visible(CaseDocument.division_code, principal))
                                .order_by(CaseDocument.issued_at)))


def visits_of_case(session: Session, principal: Principal, case_id: str) -> list[RoomVisit]:
    return list(session.scalars(select(RoomVisit).where(RoomVisit.case_id == case_id,
                                                        visible(RoomVisit.division_code, principal))
                                .order_by(RoomVisit.entered_at)))


def live_clocks(session: Session, principal: Principal, *, limit: int) -> list[Clock]:
    """Running limits, nearest deadline first (the board's countdowns)."""
    return list(session.scalars(select(Clock).where(Clock.status.in_(["running", "paused"]),
                                                    visible(Clock.division_code, principal))
                                .order_by(Clock.due_at.is_(None), Clock.due_at).limit(limit)))


def clock_counts(session: Session, principal: Principal) -> list[Any]:
    return list(session.execute(select(Clock.status, func.count()).where(visible(Clock.division_code, principal))
                                .group_by(Clock.status)))


def room_board(session: Session, principal: Principal, area_id: str) -> tuple[HandlingArea | None, list[Any]]:
    area = session.scalars(select(HandlingArea).where(HandlingArea.id == area_id,
                                                      visible(HandlingArea.division_code, principal))).first()
    if area is None:
        return None, []
    rows = session.execute(select(RoomVisit, Room).outerjoin(Room, Room.id == RoomVisit.room_id)
                           .where(RoomVisit.area_id == area_id, RoomVisit.left_at.is_(None),
                                  visible(RoomVisit.division_code, principal)).order_by(RoomVisit.entered_at))
    return area, list(rows)


def timeline_of(session: Session, principal: Principal, entity_type: str, ids: list[str],
                division_code: str) -> list[TimelineEvent]:
    """Timeline entries of the case's records (read for a case already found in scope)."""
    if not ids:
        return []
    return list(session.scalars(select(TimelineEvent).where(TimelineEvent.entity_type == entity_type,
                                                            TimelineEvent.entity_id.in_(ids),
                                                            visible(TimelineEvent.division_code, principal))
                                .order_by(TimelineEvent.at, TimelineEvent.seq)))


def events_of_case(session: Session, principal: Principal, case_id: str) -> list[IntakeEvent]:
    return list(session.scalars(select(IntakeEvent).where(IntakeEvent.case_id == case_id,
                                                          visible(IntakeEvent.division_code, principal))
                                .order_by(IntakeEvent.event_at, IntakeEvent.received_at)))


def latest_event_at(session: Session, case_id: str) -> datetime | None:
    return session.scalar(select(func.max(IntakeEvent.event_at)).where(IntakeEvent.case_id == case_id,
                                                                       unscoped(INTAKE)))


def recent_breaches(session: Session, principal: Principal, *, limit: int) -> list[Clock]:
    return list(session.scalars(select(Clock).where(Clock.status == "breached",
                                                    visible(Clock.division_code, principal))
                                .order_by(Clock.breached_at.desc()).limit(limit)))


def cases_by_ids(session: Session, principal: Principal, ids: set[str]) -> list[CaseRecord]:
    if not ids:
        return []
    return list(session.scalars(select(CaseRecord).where(CaseRecord.id.in_(sorted(ids)),
                                                         visible(CaseRecord.division_code, principal))))


def recent_exceptions(session: Session, principal: Principal, *, limit: int) -> list[ClockException]:
    return list(session.scalars(select(ClockException).where(visible(ClockException.division_code, principal))
                                .order_by(ClockException.recorded_at.desc()).limit(limit)))


# ------------------------------------------------------------------ figures (supervision/figures.py)


def unit_tree(session: Session) -> list[Any]:
    """Every org unit's id, parent, name and division (the figures walk a unit's subtree; the unit
    itself is checked visible by the caller first, and the cases read are scoped)."""
    from civicgrid.people.orgs.models import OrgUnit

    return list(session.execute(select(OrgUnit.id, OrgUnit.parent_id, OrgUnit.name, OrgUnit.division_code)
                                .where(unscoped("figures walk the subtree of a unit the caller sees; rows read "
                                                "through it are scoped"))))


def _in_scope(principal: Principal, prefix: str, unit_ids: list[str] | None) -> Any:
    from civicgrid.authz.scoping import scope_clause

    where = [visible(CaseRecord.division_code, principal), scope_clause(CaseRecord.division_code, prefix)]
    if unit_ids is not None:
        where.append(CaseRecord.unit_id.in_(unit_ids))
    return select(CaseRecord.id).where(*where)


def figure_cases(session: Session, principal: Principal, prefix: str, unit_ids: list[str] | None) -> list[Any]:
    return list(session.execute(select(CaseRecord.id, CaseRecord.kind, CaseRecord.unit_id, CaseRecord.accepted_at)
                                .where(CaseRecord.id.in_(_in_scope(principal, prefix, unit_ids)))))


def figure_stage_events(session: Session, principal: Principal, prefix: str, unit_ids: list[str] | None,
                        before: datetime) -> list[Any]:
    return list(session.execute(select(IntakeEvent.case_id, IntakeEvent.event_at, IntakeEvent.payload)
                                .where(IntakeEvent.kind == "case.stage_changed", IntakeEvent.event_at < before,
                                       IntakeEvent.case_id.in_(_in_scope(principal, prefix, unit_ids)),
                                       visible(IntakeEvent.division_code, principal))
                                .order_by(IntakeEvent.event_at)))


def figure_breaches(session: Session, principal: Principal, prefix: str, unit_ids: list[str] | None,
                    lo: datetime, hi: datetime) -> list[Any]:
    return list(session.execute(select(Clock.rule_code, CaseRecord.unit_id)
                                .join(CaseRecord, CaseRecord.id == Clock.case_id)
                                .where(Clock.status == "breached", Clock.breached_at >= lo, Clock.breached_at < hi,
                                       Clock.case_id.in_(_in_scope(principal, prefix, unit_ids)),
                                       visible(Clock.division_code, principal))))


def figure_alerts(session: Session, principal: Principal, prefix: str, unit_ids: list[str] | None,
                  lo: datetime, hi: datetime) -> list[Any]:
    from civicgrid.alerts.models import Alert

    return list(session.execute(select(Alert.status, Alert.raised_at, Alert.ack_due_at, Alert.acknowledged_at,
                                       Alert.level)
                                .join(Clock, Clock.id == Alert.source_id)
                                .where(Alert.source_type == "supervision_clock", Alert.raised_at >= lo,
                                       Alert.raised_at < hi, visible(Alert.division_code, principal),
                                       Clock.case_id.in_(_in_scope(principal, prefix, unit_ids)))))


def figure_measures(session: Session, principal: Principal, prefix: str, unit_ids: list[str] | None,
                    lo: datetime, hi: datetime) -> list[Any]:
    return list(session.execute(select(Measure.kind, Measure.started_at, Measure.ended_at)
                                .where(Measure.started_at >= lo, Measure.started_at < hi,
                                       Measure.case_id.in_(_in_scope(principal, prefix, unit_ids)),
                                       visible(Measure.division_code, principal))))


def figure_custody(session: Session, principal: Principal, prefix: str, unit_ids: list[str] | None,
                   before: datetime) -> list[Any]:
    return list(session.execute(select(CustodyTransfer.property_id, PropertyItem.case_id, PropertyItem.value_fen,
                                       CustodyTransfer.action, CustodyTransfer.at)
                                .join(PropertyItem, PropertyItem.id == CustodyTransfer.property_id)
                                .where(CustodyTransfer.at < before,
                                       PropertyItem.case_id.in_(_in_scope(principal, prefix, unit_ids)),
                                       visible(CustodyTransfer.division_code, principal))
                                .order_by(CustodyTransfer.at, CustodyTransfer.id)))


# ------------------------------------------------------------------ console lists (areas, property, breach map)


def list_areas(session: Session, principal: Principal) -> list[Any]:
    """The case-handling areas the caller sees, with how many people are inside now."""
    inside = (select(RoomVisit.area_id, func.count(func.distinct(RoomVisit.person_id)).label("n"))
              .where(RoomVisit.left_at.is_(None), visible(RoomVisit.division_code, principal))
              .group_by(RoomVisit.area_id).subquery())
    return list(session.execute(select(HandlingArea, func.coalesce(inside.c.n, 0))
                                .outerjoin(inside, inside.c.area_id == HandlingArea.id)
                                .where(visible(HandlingArea.division_code, principal))
                                .order_by(HandlingArea.division_code, HandlingArea.title)))


def rooms_of(session: Session, principal: Principal, area_id: str) -> list[Room]:
    return list(session.scalars(select(Room).where(Room.area_id == area_id, visible(Room.division_code, principal))
                                .order_by(Room.code)))


def persons_by_ids(session: Session, principal: Principal, ids: set[str]) -> list[CasePerson]:
    if not ids:
        return []
    return list(session.scalars(select(CasePerson).where(CasePerson.id.in_(sorted(ids)),
                                                         visible(CasePerson.division_code, principal))))


def running_measures_of_persons(session: Session, principal: Principal, person_ids: set[str]) -> list[Measure]:
    if not person_ids:
        return []
    return list(session.scalars(select(Measure).where(Measure.person_id.in_(sorted(person_ids)),
                                                      Measure.status == "running",
                                                      visible(Measure.division_code, principal))))


def clocks_of_measures(session: Session, principal: Principal, measure_ids: list[str]) -> list[Clock]:
    if not measure_ids:
        return []
    return list(session.scalars(select(Clock).where(Clock.measure_id.in_(measure_ids),
                                                    visible(Clock.division_code, principal))))


def property_page(session: Session, principal: Principal, *, status: str | None, offset: int,
                  limit: int) -> tuple[int, list[Any]]:
    query = (select(PropertyItem, CaseRecord.title, CaseRecord.status, CaseRecord.kind)
             .join(CaseRecord, CaseRecord.id == PropertyItem.case_id)
             .where(visible(PropertyItem.division_code, principal)))
    if status:
        query = query.where(PropertyItem.status == status)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.execute(query.order_by(PropertyItem.created_at.desc(), PropertyItem.id).offset(offset).limit(limit))
    return total, list(rows)


def open_breaches_by_unit(session: Session, principal: Principal, prefix: str) -> list[Any]:
    """Per handling unit: its breached limits, and those whose breach warning is still open
    (raised, acknowledged or escalated, not yet handled)."""
    from civicgrid.alerts.models import OPEN_STATUSES, Alert
    from civicgrid.authz.scoping import scope_clause

    is_open = Alert.status.in_([str(s) for s in OPEN_STATUSES])
    return list(session.execute(
        select(CaseRecord.unit_id, CaseRecord.division_code, func.count(Clock.id),
               func.count(Alert.id).filter(is_open))
        .join(CaseRecord, CaseRecord.id == Clock.case_id)
        .outerjoin(Alert, and_(Alert.id == Clock.breach_alert_id, visible(Alert.division_code, principal)))
        .where(Clock.status == "breached", visible(Clock.division_code, principal),
               scope_clause(Clock.division_code, prefix))
        .group_by(CaseRecord.unit_id, CaseRecord.division_code)))


def place_titles(session: Session, principal: Principal, area_ids: set[str], room_ids: set[str]) -> dict[str, str]:
    """Titles of areas and rooms by id (the case page names the places)."""
    out: dict[str, str] = {}
    if area_ids:
        out.update({i: t for i, t in session.execute(select(HandlingArea.id, HandlingArea.title).where(
            HandlingArea.id.in_(sorted(area_ids)), visible(HandlingArea.division_code, principal)))})
    if room_ids:
        out.update({i: t for i, t in session.execute(select(Room.id, Room.title).where(
            Room.id.in_(sorted(room_ids)), visible(Room.division_code, principal)))})
    return out


def figure_disposal_deadlines(session: Session, principal: Principal, prefix: str,
                              unit_ids: list[str] | None) -> dict[str, datetime]:
    """Each held item's disposal deadline (the ``property_not_disposed`` clock opened when its case
    ended), by item id."""
    rows = session.execute(select(Clock.subject_id, Clock.due_at).where(
        Clock.rule_code == "property_not_disposed", Clock.due_at.is_not(None),
        Clock.case_id.in_(_in_scope(principal, prefix, unit_ids)), visible(Clock.division_code, principal)))
    return {str(subject): due for subject, due in rows if due is not None}
