"""The rules of rapid response: units, incidents and their intake (desk, 110, matters), the
recommendation by travel time, dispatch through the inbox, the assignment steps, the 1-3-5 ring
of each incident and the figures. Services flush, never commit (the request does)."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from civicgrid.alerts import service as alerts
from civicgrid.authz.principal import Principal
from civicgrid.db import after_commit
from civicgrid.geo import service as geo
from civicgrid.inbox import service as inbox
from civicgrid.inbox.models import Kind
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, Invalid, NotFound
from civicgrid.numbering import service as numbering
from civicgrid.realtime import hub
from civicgrid.response import places, repository
from civicgrid.response.index import Candidate, UnitEntry, UnitIndex, index_for
from civicgrid.response.models import (
    Assignment,
    AssignmentStatus,
    Incident,
    IncidentSource,
    IncidentStatus,
    ResponseUnit,
    ShiftState,
    UnitMember,
    UnitShift,
    UnitStatus,
    UnitType,
)
from civicgrid.response.params import get_params, great_circle_m
from civicgrid.response.workflow import (
    ACK_DUE_KIND,
    ASSIGNMENT_WORKFLOW,
    INCIDENT_WORKFLOW,
    SHIFT_END_KIND,
    SHIFT_START_KIND,
    TIER_RANK,
    UNIT_STATUS_ACTION,
    UNIT_WORKFLOW,
    ack_deadline,
    command_tier,
    tier_of,
    unit_status_from,
)
from civicgrid.timers import service as timers
from civicgrid.timers.models import Timer
from civicgrid.workflow.engine import SYSTEM

LOCAL = ZoneInfo("Asia/Shanghai")
MERGE_METRES = 100.0
MERGE_WITHIN = timedelta(minutes=10)
STATION_TYPE = "police_station"

RULE_PRIORITY = alerts.Rule("response.priority_one", "一级警情", "Priority-1 incident")
RULE_NO_ACK = alerts.Rule("response.order_not_acknowledged", "派警指令60秒未确认", "Order not acknowledged in 60 s")
RULE_RING_MISSED = alerts.Rule("response.ring_missed", "未达到快反圈时限", "Rapid-response ring missed",
                               legal_basis="湖南省城市快警 1、3、5 分钟快反；永州 农村 15 分钟")


def county_of(code: str) -> str:
    return code[:6] + "000000"


def _tier(principal: Principal) -> str:
    """city / county / station: the tier of command a caller's jurisdiction gives."""
    return tier_of(principal)


def _check_command(principal: Principal, incident: Incident) -> None:
    """After a higher tier took over command, a lower tier sees the incident but no longer
    commands it (dispatch, cancel, transfer, merge, close)."""
    current = command_tier(incident)
    if TIER_RANK[_tier(principal)] < TIER_RANK[current]:
        names = {"county": ("县（区）局指挥中台", "the county command"), "city": ("市局指挥总台", "the city command")}
        zh, en = names.get(current, (current, current))
        raise AppError(f"该警情已由{zh}接管指挥", f"Command of this incident was taken over by {en}", status=409,
                       code="command_taken_over")


# ---------------------------------------------------------------- units


def create_unit(session: Session, principal: Principal, *, call_sign: str, unit_type: str, org_unit_id: str,
                members: Sequence[str]) -> ResponseUnit:
    """Register a unit under an org unit of the caller's jurisdiction (off duty until it signs on)."""
    if unit_type not in set(UnitType):
        raise Invalid(f"未知警力类型：{unit_type}", f"Unknown unit type: {unit_type}", details={"field": "unit_type"})
    org = repository.org_unit(session, org_unit_id)
    if org is None or not principal.governs(org.division_code):
        raise NotFound("机构", "org unit")
    if repository.call_sign_taken(session, call_sign):
        raise Invalid("呼号已被使用", "Call sign already in use", details={"field": "call_sign"})
    unit = ResponseUnit(call_sign=call_sign, unit_type=unit_type, org_unit_id=org.id,
                        division_code=org.division_code, created_at=utcnow())
    UNIT_WORKFLOW.start(session, unit, principal, action="register", status=UnitStatus.OFF_DUTY)
    session.flush()
    for user_id in dict.fromkeys(members):
        repository.add(session, UnitMember(unit_id=unit.id, user_id=user_id))
    session.flush()
    _index_after_commit(session, unit, list(dict.fromkeys(members)))
    return unit


def _index_after_commit(session: Session, unit: ResponseUnit, members: list[str] | None = None) -> None:
    """Put the unit's committed state into this process's index."""
    index = index_for(session)
    if members is None:
        entry = index.get(unit.id)
        members_set = entry.members if entry is not None else frozenset()
    else:
        members_set = frozenset(members)
    snapshot = UnitEntry(unit.id, unit.call_sign, unit.unit_type, unit.division_code, unit.org_unit_id,
                         str(unit.status), members_set)
    after_commit(session, lambda: index.put(snapshot))


def get_unit(session: Session, principal: Principal, unit_id: str) -> ResponseUnit:
    unit = repository.get_unit(session, principal, unit_id)
    if unit is None and _is_member(session, principal, unit_id):
        unit = repository.unit_by_id(session, unit_id, "a member reads their own unit")
    if unit is None:
        raise NotFound("警力单元", "unit")
    return unit


def _is_member(session: Session, principal: Principal, unit_id: str) -> bool:
    return unit_id in repository.units_of_user(session, principal.user_id)


def acting_for(principal: Principal, code: str) -> Principal:
    """The caller acting as a member of a unit on a record the unit was sent to: the record's
    code becomes their jurisdiction for this step (an assignment grants it; the timeline still
    names them)."""
    return replace(principal, jurisdiction=code, area=None, area_unit_id=None)


def unit_action(session: Session, principal: Principal, unit_id: str, action: str, note: str | None) -> ResponseUnit:
    """Sign on / off, stand down / up: a member for their unit, or a unit manager in scope."""
    if action not in ("sign_on", "sign_off", "stand_down", "stand_up"):
        raise Invalid("该状态由派警自动决定", "That status follows from the unit's assignments")
    if _is_member(session, principal, unit_id):
        unit = repository.unit_by_id(session, unit_id, "a member acts for their own unit")
        assert unit is not None
        actor = acting_for(principal, unit.division_code)
    else:
        unit = get_unit(session, principal, unit_id)
        actor = principal
    UNIT_WORKFLOW.transition(session, unit, action, actor, note=note)
    session.flush()
    _index_after_commit(session, unit)
    return unit


def list_units(session: Session, principal: Principal, *, status: str | None, limit: int,
               offset: int) -> tuple[int, list[ResponseUnit]]:
    return repository.list_units(session, principal, status=status, limit=limit, offset=offset)


def members_of(session: Session, unit_ids: Sequence[str]) -> dict[str, list[str]]:
    return repository.members_of(session, unit_ids)


def derive_unit_status(session: Session, unit_id: str, *, unit: ResponseUnit | None = None,
                       live: Sequence[Assignment] | None = None) -> None:
    """Move the unit to the status its live assignments give it (a system step on its timeline).

    A caller that already holds the unit and knows its live assignments (a dispatch: the unit
    was available, so its live assignments are the ones just ordered) passes them instead of
    having them read again."""
    if unit is None:
        unit = repository.unit_by_id(session, unit_id, "a unit's status derives from its assignments")
        if unit is None:
            return
    target = unit_status_from(live if live is not None else repository.active_assignments_of_unit(session, unit_id))
    current = UnitStatus(unit.status)
    if target is None:
        if current in (UnitStatus.ASSIGNED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE):
            UNIT_WORKFLOW.transition(session, unit, "released", SYSTEM)
            session.flush()
            _end_shift_after_release(session, unit)
    elif target != current:
        UNIT_WORKFLOW.transition(session, unit, UNIT_STATUS_ACTION[target], SYSTEM)
    session.flush()
    _index_after_commit(session, unit)


# ---------------------------------------------------------------- shifts

SHIFT_MAX = timedelta(hours=24)


def _shift_key(shift_id: str, edge: str) -> str:
    return f"response_shift:{shift_id}:{edge}"


def create_shift(session: Session, principal: Principal, unit_id: str, *, starts_at: datetime, ends_at: datetime,
                 members: Sequence[str] = (), note: str | None = None) -> UnitShift:
    """Plan a duty period (班次) of a unit in the caller's jurisdiction: at most 24 hours, not
    overlapping another of its shifts, its members among the unit's (none named: all of them).
    A timer signs the unit on when it starts (at once when it already has) and off when it ends."""
    unit = repository.get_unit(session, principal, unit_id)
    if unit is None:
        raise NotFound("警力单元", "unit")
    if ends_at <= starts_at or ends_at - starts_at > SHIFT_MAX:
        raise Invalid("班次须在开始之后结束，且不超过 24 小时",
                      "A shift ends after it starts and lasts at most 24 hours", details={"field": "ends_at"})
    now = utcnow()
    if ends_at <= now:
        raise Invalid("班次的结束时间已过", "The shift would already be over", details={"field": "ends_at"})
    unit_members = set(repository.members_of(session, [unit.id])[unit.id])
    named = list(dict.fromkeys(members))
    if any(m not in unit_members for m in named):
        raise Invalid("班次人员须是该警力单元的成员", "Members of a shift must be members of the unit",
                      details={"field": "members"})
    for other in repository.live_shifts_of_unit(session, unit.id):
        if other.starts_at < ends_at and other.ends_at > starts_at:
            raise Invalid("与该警力单元的其他班次时间重叠", "Overlaps another shift of the unit",
                          details={"field": "starts_at"})
    shift = UnitShift(unit_id=unit.id, division_code=unit.division_code, starts_at=starts_at, ends_at=ends_at,
                      member_ids=json.dumps(named), note=(note or None), state=ShiftState.PLANNED,
                      created_by=principal.user_id or None, created_at=now)
    repository.add(session, shift)
    session.flush()
    if starts_at <= now:
        shift_started(session, shift.id)
    else:
        timers.arm(session, kind=SHIFT_START_KIND, key=_shift_key(shift.id, "start"), due_at=starts_at,
                   ref_type="response_shift", ref_id=shift.id, division_code=shift.division_code)
    timers.arm(session, kind=SHIFT_END_KIND, key=_shift_key(shift.id, "end"), due_at=ends_at,
               ref_type="response_shift", ref_id=shift.id, division_code=shift.division_code)
    return shift


def running_shift_ends(session: Session, unit_ids: Sequence[str]) -> dict[str, datetime]:
    return repository.running_shift_ends(session, unit_ids, utcnow())


def list_shifts(session: Session, principal: Principal, *, unit_id: str | None, start: datetime,
                end: datetime) -> list[UnitShift]:
    return repository.list_shifts(session, principal, unit_id=unit_id, start=start, end=end)


def cancel_shift(session: Session, principal: Principal, shift_id: str) -> UnitShift:
    """Cancel a shift not yet over: its timers stop; a running one ends now (the unit goes off
    duty, after its assignments are released when it is out on one)."""
    shift = repository.get_shift(session, principal, shift_id)
    if shift is None:
        raise NotFound("班次", "shift")
    if shift.state not in (ShiftState.PLANNED, ShiftState.ON):
        raise AppError("该班次已结束或已取消", "The shift is already over or cancelled", status=409,
                       code="shift_over")
    timers.cancel(session, _shift_key(shift.id, "start"))
    timers.cancel(session, _shift_key(shift.id, "end"))
    running = shift.state == ShiftState.ON
    shift.state = ShiftState.CANCELLED
    session.flush()
    if running:
        _leave_duty(session, shift)
    return shift


def _covering(session: Session, unit_id: str, at: datetime, *, besides: str) -> bool:
    return any(s.id != besides and s.starts_at <= at < s.ends_at and s.state != ShiftState.ENDING
               for s in repository.live_shifts_of_unit(session, unit_id))


def shift_started(session: Session, shift_id: str) -> None:
    """A shift begins: the unit signs on (off duty → available) and the recommendation finds it."""
    shift = repository.shift_by_id(session, shift_id, "the shift timer acts for the system")
    if shift is None or shift.state != ShiftState.PLANNED:
        return
    shift.state = ShiftState.ON
    unit = repository.unit_by_id(session, shift.unit_id, "the shift timer signs its unit on")
    if unit is not None and unit.status == UnitStatus.OFF_DUTY:
        UNIT_WORKFLOW.transition(session, unit, "sign_on", SYSTEM, note="班次开始 / shift started")
        session.flush()
        _index_after_commit(session, unit)
    session.flush()


def shift_ended(session: Session, shift_id: str) -> None:
    """A shift is over: the unit signs off (off duty: no longer recommended or dispatched) unless
    another of its shifts runs now; a unit out on an assignment signs off once released."""
    shift = repository.shift_by_id(session, shift_id, "the shift timer acts for the system")
    if shift is None or shift.state not in (ShiftState.PLANNED, ShiftState.ON):
        return
    shift.state = ShiftState.ENDED
    session.flush()
    _leave_duty(session, shift)


def _leave_duty(session: Session, shift: UnitShift) -> None:
    unit = repository.unit_by_id(session, shift.unit_id, "the shift timer signs its unit off")
    if unit is None or _covering(session, unit.id, utcnow(), besides=shift.id):
        return
    if unit.status in (UnitStatus.AVAILABLE, UnitStatus.UNAVAILABLE):
        UNIT_WORKFLOW.transition(session, unit, "sign_off", SYSTEM, note="班次结束 / shift ended")
        session.flush()
        _index_after_commit(session, unit)
    elif unit.status != UnitStatus.OFF_DUTY:
        shift.state = ShiftState.ENDING  # out on an assignment: off duty once released
        session.flush()


def _end_shift_after_release(session: Session, unit: ResponseUnit) -> None:
    """The unit's last assignment was released after its shift ended: it goes off duty now."""
    ending = [s for s in repository.live_shifts_of_unit(session, unit.id) if s.state == ShiftState.ENDING]
    if not ending:
        return
    for shift in ending:
        shift.state = ShiftState.ENDED
    session.flush()
    if not _covering(session, unit.id, utcnow(), besides="") and unit.status == UnitStatus.AVAILABLE:
        UNIT_WORKFLOW.transition(session, unit, "sign_off", SYSTEM, note="班次结束 / shift ended")
        session.flush()


@timers.handler(SHIFT_START_KIND)
def _on_shift_start(session: Session, timer: Timer) -> None:
    shift_started(session, timer.ref_id)


@timers.handler(SHIFT_END_KIND)
def _on_shift_end(session: Session, timer: Timer) -> None:
    shift_ended(session, timer.ref_id)


def my_work(session: Session, principal: Principal) -> list[tuple[ResponseUnit, list[tuple[Assignment, Incident]]]]:
    """The caller's units (as a member) with their live assignments and the incidents those
    send them to, oldest order first (the phone page)."""
    out: list[tuple[ResponseUnit, list[tuple[Assignment, Incident]]]] = []
    for unit_id in _user_units(session, principal):
        unit = repository.unit_by_id(session, unit_id, "a member reads their own unit")
        if unit is None:
            continue
        orders: list[tuple[Assignment, Incident]] = []
        for assignment in sorted(repository.active_assignments_of_unit(session, unit_id), key=lambda a: a.ordered_at):
            incident = repository.incident_by_id(session, assignment.incident_id,
                                                 "an assignment grants its unit the incident until released")
            if incident is not None:
                orders.append((assignment, incident))
        out.append((unit, orders))
    return out


def unit_index(session: Session) -> UnitIndex:
    return index_for(session)


# ---------------------------------------------------------------- incidents


@dataclass
class Created:
    incident: Incident
    recommendations: list[Candidate]
    merge_candidates: list[Incident] = field(default_factory=list)
    auto_dispatched: list[Assignment] = field(default_factory=list)


def _number(session: Session, at: datetime) -> str:
    """JQ + the local day + the day's sequence (numbering: unique under concurrent writers)."""
    day, seq = numbering.next_number(session, "incident", at)
    return f"JQ{day}{seq:05d}"


def _locate(session: Session, lng: float, lat: float) -> str:
    grid = geo.locate_code(session, lng, lat)
    if grid is None:
        raise Invalid("该位置不在本市任何网格内", "The place lies in no grid of the city",
                      details={"field": "lng"})
    return grid


def create_incident(session: Session, principal: Principal, *, category: str, priority: int, lng: float,
                    lat: float, summary: str = "", source: str = IncidentSource.DESK, source_ref: str | None = None,
                    source_clock: dict[str, Any] | None = None, call_received_at: datetime | None = None,
                    k: int | None = None) -> Created:
    """Receive an incident: locate it (grid → station area → county), classify its place (urban
    class, ring zone and target), start its life cycle, propose merges (the same place ± 100 m
    within 10 minutes), raise a priority-1 incident to the county view, rank the available units
    by ETA, and dispatch the first when the category says so."""
    params = get_params()
    if category not in params.categories:
        raise Invalid(f"未知警情类别：{category}", f"Unknown incident category: {category}",
                      details={"field": "category"})
    grid = _locate(session, lng, lat)
    if not principal.governs(grid):
        raise Invalid("该位置不在您的管辖范围内", "The place lies outside your jurisdiction", details={"field": "lng"})
    now = utcnow()
    zone, klass = places.ring_zone(session, grid, lng, lat)
    target = params.ring_target(zone, priority) or params.ring_target("town", priority) or 300
    incident = Incident(
        number=_number(session, now), category=category, priority=priority, summary=summary, lng=lng, lat=lat,
        division_code=grid, county_code=county_of(grid), station_id=repository.station_of_grid(session, grid),
        urban_class=klass, source=str(source), source_ref=source_ref,
        source_clock=(json.dumps(source_clock, ensure_ascii=False, sort_keys=True, default=str)
                      if source_clock else None),
        call_received_at=call_received_at or now, ring_zone=zone, ring_target_seconds=target,
        ring_basis=params.ring_basis, created_by=principal.user_id or None, created_at=now)
    merge = [i for i in repository.nearby_open_incidents(session, lng, lat, now - MERGE_WITHIN, 0.002)
             if great_circle_m(lng, lat, i.lng, i.lat) <= MERGE_METRES and principal.governs(i.division_code)]
    INCIDENT_WORKFLOW.start(session, incident, principal, action="receive", status=IncidentStatus.RECEIVED,
                            data={"source": str(source), "source_ref": source_ref, "zone": zone,
                                  "target_seconds": target})
    session.flush()
    if priority == 1:
        alerts.raise_alert(session, rule=RULE_PRIORITY, level="orange",
                           reasons=[alerts.Reason(f"一级警情 {incident.number}：{summary[:60]}",
                                                  f"Priority-1 incident {incident.number}")],
                           division_code=incident.county_code, source_type="response_incident",
                           source_id=incident.id, source_label=incident.number, ack_within=timedelta(minutes=5))
    recommendations = recommend(session, incident, k=k)
    created = Created(incident, recommendations, merge)
    if params.categories[category].get("auto_dispatch"):
        first = next((c for c in recommendations if not c.cross_border), None)
        if first is not None:
            created.auto_dispatched = dispatch(session, principal, incident.id, [first.unit_id])
    return created


def recommend(session: Session, incident: Incident, *, k: int | None = None,
              types: Iterable[str] | None = None) -> list[Candidate]:
    """The available units that reach the incident first, by ETA (the in-memory index)."""
    params = get_params()
    return index_for(session).nearest(incident.lng, incident.lat, county=incident.county_code[:6],
                                      urban_class=incident.urban_class, params=params, k=k or params.k,
                                      types=frozenset(types) if types else None)


def receive_110(session: Session, principal: Principal, items: Sequence[dict[str, Any]]) -> list[Created]:
    """Incidents from the 110 call-handling system: each keeps its 110 incident number
    (``number_110``) and the source's clock points (``clock``: ``call_received_at`` and any other
    the source gives, ISO times). A number already received answers the incident it made
    (idempotent), without recommendations."""
    out: list[Created] = []
    for item in items:
        existing = repository.incident_by_source(session, IncidentSource.CALL_110, str(item["number_110"]))
        if existing is not None:
            out.append(Created(existing, []))
            continue
        clock = dict(item.get("clock") or {})
        received = clock.get("call_received_at")
        out.append(create_incident(
            session, principal, category=item["category"], priority=int(item["priority"]), lng=float(item["lng"]),
            lat=float(item["lat"]), summary=str(item.get("summary") or ""), source=IncidentSource.CALL_110,
            source_ref=str(item["number_110"]), source_clock=clock,
            call_received_at=received if isinstance(received, datetime) else
            (datetime.fromisoformat(received) if received else None)))
    return out


def incident_from_matter(session: Session, principal: Principal, matter_id: str, *, category: str, priority: int,
                         summary: str | None = None, k: int | None = None) -> Created:
    """Transfer a reported matter (a grid worker's report of a fight, say) to the police: an
    incident at the matter's place with its words, ``source`` matter and ``source_ref`` the
    matter's id, the matter's number and report time kept among the source's clock points. A
    matter the caller cannot see is 404; one already transferred (and not cancelled or merged) 409."""
    from civicgrid.matters import service as matters

    matter = matters.get(session, principal, matter_id)
    existing = repository.incident_by_source(session, IncidentSource.MATTER, matter.id)
    if existing is not None and existing.status not in (IncidentStatus.CANCELLED, IncidentStatus.MERGED):
        raise AppError(f"该事项已转为警情 {existing.number}",
                       f"The matter was already transferred as {existing.number}", status=409,
                       code="matter_already_transferred")
    words = summary if summary is not None else "：".join(p for p in (matter.title, matter.description) if p)
    return create_incident(session, principal, category=category, priority=priority, lng=matter.lng, lat=matter.lat,
                           summary=words[:2000], source=IncidentSource.MATTER, source_ref=matter.id,
                           source_clock={"matter_number": matter.number, "matter_reported_at": matter.reported_at},
                           k=k)


def _user_units(session: Session, principal: Principal) -> list[str]:
    return repository.units_of_user(session, principal.user_id) if principal.user_id else []


def get_incident(session: Session, principal: Principal, incident_id: str) -> Incident:
    """An incident in the caller's jurisdiction, or one a unit of theirs is sent to (until
    released); 404 otherwise."""
    incident = repository.get_incident(session, principal, incident_id, _user_units(session, principal))
    if incident is None:
        raise NotFound("警情", "incident")
    return incident


def list_incidents(session: Session, principal: Principal, *, statuses: Sequence[str] | None, limit: int,
                   offset: int) -> tuple[int, list[Incident]]:
    return repository.list_incidents(session, principal, statuses=statuses, limit=limit, offset=offset,
                                     user_units=_user_units(session, principal))


def assignments_of(session: Session, incident: Incident) -> list[Assignment]:
    return repository.assignments_of(session, incident.id)


def timeline(session: Session, incident: Incident) -> list[Any]:
    return repository.timeline_of(session, "response_incident", incident.id)


def _scoped_incident(session: Session, principal: Principal, incident_id: str) -> Incident:
    incident = repository.get_incident(session, principal, incident_id)
    if incident is None:
        raise NotFound("警情", "incident")
    return incident


def dispatch(session: Session, principal: Principal, incident_id: str, unit_ids: Sequence[str]) -> list[Assignment]:
    """Send units (派警): an assignment per unit, its order in each member's inbox (acknowledge,
    re-pushed at 15 s, raised at 60 s), a 60 s acknowledgement deadline, the incident to
    ``dispatched``. Only available units; a unit of another county needs the county or city tier."""
    incident = _scoped_incident(session, principal, incident_id)
    _check_command(principal, incident)
    if incident.status not in (IncidentStatus.RECEIVED, IncidentStatus.DISPATCHED, IncidentStatus.ON_SCENE):
        raise AppError("该警情已结束，不能派警", "The incident is no longer open", status=409, code="incident_closed")
    if not unit_ids:
        raise Invalid("请选择要派出的警力", "Choose at least one unit", details={"field": "unit_ids"})
    params = get_params()
    index = index_for(session)
    units = repository.units_by_ids(session, unit_ids)
    members = repository.members_of(session, list(units))
    now = utcnow()
    members.update(repository.on_shift_members(session, list(units), now))  # the shift's members, when named
    recipients = inbox.active_users(session, {m for ms in members.values() for m in ms})  # one read for all orders
    made: list[Assignment] = []
    for unit_id in dict.fromkeys(unit_ids):
        unit = units.get(unit_id)
        if unit is None:
            raise NotFound("警力单元", "unit")
        if unit.status != UnitStatus.AVAILABLE:
            raise AppError(f"{unit.call_sign} 当前不可派（{unit.status}）",
                           f"{unit.call_sign} is not available ({unit.status})", status=409, code="unit_not_available")
        cross = not unit.division_code.startswith(incident.county_code[:6])
        if cross and _tier(principal) == "station":
            raise AppError("跨区域调派须由县（区）局或市局指挥台下令",
                           "Dispatching a unit of another county needs the county or city tier",
                           status=403, code="cross_border_needs_higher_tier")
        entry = index.get(unit.id)
        distance = eta = None
        if entry is not None and entry.lng is not None and entry.lat is not None:
            d = great_circle_m(incident.lng, incident.lat, entry.lng, entry.lat)
            distance, eta = int(d), int(params.eta_seconds(unit.unit_type, incident.urban_class, d))
        assignment = Assignment(incident_id=incident.id, unit_id=unit.id, division_code=incident.division_code,
                                cross_border=cross, eta_seconds=eta, distance_m=distance,
                                ordered_by=principal.user_id or None, ordered_at=now)
        ASSIGNMENT_WORKFLOW.start(session, assignment, principal, action="order", status=AssignmentStatus.ORDERED,
                                  data={"unit": unit.call_sign, "eta_seconds": eta, "cross_border": cross},
                                  deadlines=ack_deadline)
        session.flush()
        items = inbox.send(session, recipients=members.get(unit.id, []), kind=Kind.ORDER,
                           title=(f"派警：{incident.number} {params.categories[incident.category]['zh']}",
                                  f"Dispatch: {incident.number} {params.categories[incident.category]['en']}"),
                           body=(incident.summary, incident.summary), link=("response_assignment", assignment.id),
                           division_code=incident.division_code, needs_ack=True, sender_id=principal.user_id or None,
                           known_users=recipients)
        assignment.order_item_ids = json.dumps([i.id for i in items])
        made.append(assignment)
    if incident.status == IncidentStatus.RECEIVED:
        INCIDENT_WORKFLOW.transition(session, incident, "dispatch", principal,
                                     data={"units": [units[u].call_sign for u in dict.fromkeys(unit_ids)]})
    session.flush()
    for assignment in made:  # each unit was available: its only live assignment is this order
        derive_unit_status(session, assignment.unit_id, unit=units[assignment.unit_id], live=[assignment])
    _notify_units(session, incident)
    return made


def _notify_units(session: Session, incident: Incident) -> None:
    """Push the incident's state to the members of units sent to it (their user channels: an
    assignment grants the pushes whatever the member's jurisdiction)."""
    live = [a for a in repository.assignments_of(session, incident.id) if a.status != AssignmentStatus.RELEASED]
    members = repository.members_of(session, [a.unit_id for a in live])
    for user_id in {m for ms in members.values() for m in ms}:
        hub.publish(session, channel=f"user:{user_id}", event="response.incident",
                    data={"id": incident.id, "number": incident.number, "status": str(incident.status)},
                    division_code=None)


def assignment_action(session: Session, principal: Principal, assignment_id: str, action: str, *,
                      note: str | None = None, lng: float | None = None, lat: float | None = None) -> Assignment:
    """A step of an assignment: acknowledge / depart / arrive / release by a member of its unit
    (whatever their jurisdiction), or release by a commander who sees the incident."""
    assignment = repository.get_assignment(session, assignment_id, "checked below: the unit's member or the "
                                           "incident's scope")
    if assignment is None:
        raise NotFound("派警", "assignment")
    incident = repository.incident_by_id(session, assignment.incident_id, "the assignment's own incident")
    assert incident is not None
    member = _is_member(session, principal, assignment.unit_id) and principal.can("dispatch.respond")
    if member:
        actor = acting_for(principal, assignment.division_code)
    elif repository.get_incident(session, principal, incident.id) is not None:
        actor = principal
    else:
        raise NotFound("派警", "assignment")
    ASSIGNMENT_WORKFLOW.transition(session, assignment, action, actor, note=note, lng=lng, lat=lat)
    session.flush()
    if action == "acknowledge":
        if incident.acknowledged_at is None:
            incident.acknowledged_at = assignment.acknowledged_at
        _settle_order_items(session, principal, assignment, member)
    elif action == "depart":
        _settle_order_items(session, principal, assignment, member)
    elif action == "arrive":
        if incident.acknowledged_at is None:
            incident.acknowledged_at = assignment.acknowledged_at
        _settle_order_items(session, principal, assignment, member)
        _arrived(session, actor, incident, assignment)
    session.flush()
    derive_unit_status(session, assignment.unit_id)
    _notify_units(session, incident)
    return assignment


def _settle_order_items(session: Session, principal: Principal, assignment: Assignment, member: bool) -> None:
    """The order is acknowledged: the member's own inbox item is acknowledged, and the re-push and
    raise of the other members' copies stop (one member answers for the unit)."""
    for item_id in json.loads(assignment.order_item_ids or "[]"):
        if member:
            try:
                inbox.acknowledge(session, principal, item_id)
                continue
            except NotFound:
                pass
        timers.cancel(session, inbox.repush_key(item_id))
        timers.cancel(session, inbox.raise_key(item_id))


def _arrived(session: Session, actor: Principal, incident: Incident, assignment: Assignment) -> None:
    """First unit on scene: the incident is on scene and its ring is decided; later units are
    reinforcement."""
    at = assignment.on_scene_at or utcnow()
    if incident.first_on_scene_at is None and incident.status == IncidentStatus.DISPATCHED:
        assignment.wave = "first"
        INCIDENT_WORKFLOW.transition(session, incident, "arrive", actor, data={"unit_id": assignment.unit_id})
        incident.first_on_scene_at = at
        _decide_ring(session, incident)
    else:
        assignment.wave = "reinforcement"
        if incident.reinforcement_on_scene_at is None:
            incident.reinforcement_on_scene_at = at


def _decide_ring(session: Session, incident: Incident) -> None:
    start = incident.call_received_at if incident.ring_basis == "call" else (incident.dispatched_at
                                                                              or incident.call_received_at)
    assert incident.first_on_scene_at is not None
    incident.arrival_seconds = max(0, round((incident.first_on_scene_at - start).total_seconds()))
    incident.ring_hit = incident.arrival_seconds <= incident.ring_target_seconds
    if not incident.ring_hit:
        alerts.raise_alert(session, rule=RULE_RING_MISSED, level="yellow",
                           reasons=[alerts.Reason(
                               f"{incident.number} 到场用时 {incident.arrival_seconds} 秒，超过 "
                               f"{incident.ring_target_seconds} 秒时限（{incident.ring_zone}）",
                               f"{incident.number} arrived after {incident.arrival_seconds} s, over the "
                               f"{incident.ring_target_seconds} s target ({incident.ring_zone})")],
                           division_code=incident.county_code, source_type="response_incident",
                           source_id=incident.id, source_label=incident.number)


def ack_overdue(session: Session, assignment_id: str) -> None:
    """Timer: the order was not acknowledged within 60 s — raise the incident to the county view."""
    assignment = repository.get_assignment(session, assignment_id, "the acknowledgement timer acts for the system")
    if assignment is None or assignment.status != AssignmentStatus.ORDERED:
        return
    incident = repository.incident_by_id(session, assignment.incident_id, "the acknowledgement timer")
    if incident is None:
        return
    unit = repository.unit_by_id(session, assignment.unit_id, "the acknowledgement timer names the unit")
    sign = unit.call_sign if unit is not None else assignment.unit_id
    alerts.raise_alert(session, rule=RULE_NO_ACK, level="orange",
                       reasons=[alerts.Reason(f"{sign} 60 秒内未确认派警指令（{incident.number}）",
                                              f"{sign} did not acknowledge the order within 60 s ({incident.number})")],
                       division_code=incident.county_code, source_type="response_assignment",
                       source_id=assignment.id, source_label=incident.number, ack_within=timedelta(minutes=5))


@timers.handler(ACK_DUE_KIND)
def _on_ack_due(session: Session, timer: Timer) -> None:
    """The acknowledgement timer of an order fired (registered here, beside what it does: the
    workflow module only names the kind)."""
    ack_overdue(session, timer.ref_id)


def incident_action(session: Session, principal: Principal, incident_id: str, action: str, *,
                    note: str | None = None, data: dict[str, Any] | None = None) -> Incident:
    """handle / file_report (the response report) / close / cancel / transfer / merge / take_over
    (a higher tier takes over command: on the timeline, and the lower tier no longer commands it);
    a member of a unit sent to it may handle it and file the report."""
    data = dict(data or {})
    incident = repository.get_incident(session, principal, incident_id)
    actor = principal
    if incident is None:
        user_units = _user_units(session, principal)
        incident = repository.get_incident(session, principal, incident_id, user_units)
        if incident is None:
            raise NotFound("警情", "incident")
        if action not in ("handle", "file_report"):
            raise NotFound("警情", "incident")
        actor = acting_for(principal, incident.division_code)
    if actor is principal and action in ("cancel", "transfer", "merge", "close"):
        _check_command(principal, incident)
    if action == "merge":
        target = repository.get_incident(session, principal, str(data.get("merged_into") or ""))
        if target is None:
            raise Invalid("要并入的警情不存在", "The incident to merge into does not exist",
                          details={"field": "merged_into"})
    INCIDENT_WORKFLOW.transition(session, incident, action, actor, note=note, data=data)
    session.flush()
    if incident.status in (IncidentStatus.CANCELLED, IncidentStatus.TRANSFERRED, IncidentStatus.MERGED,
                           IncidentStatus.CLOSED):
        for assignment in repository.assignments_of(session, incident.id):
            if assignment.status != AssignmentStatus.RELEASED:
                ASSIGNMENT_WORKFLOW.transition(session, assignment, "release", SYSTEM,
                                               note=f"警情{incident.status} / incident {incident.status}")
                session.flush()
                derive_unit_status(session, assignment.unit_id)
    _notify_units(session, incident)
    return incident


def command_tier_of(incident: Incident) -> str:
    return command_tier(incident)


def allowed_incident_actions(incident: Incident, principal: Principal) -> list[str]:
    return INCIDENT_WORKFLOW.allowed_actions(incident, principal)


# ---------------------------------------------------------------- figures


def _percentile(values: list[int], q: float) -> float | None:
    """Nearest-rank percentile (docs/figures.md): the smallest value with at least q of the values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(q * 100) * len(ordered) // 100))
    return float(ordered[rank - 1])


@dataclass
class RingFigure:
    key: str
    incidents: int = 0
    arrived: int = 0
    within: int = 0
    arrivals: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "incidents": self.incidents, "arrived": self.arrived, "within_target": self.within,
                "share_within_target": (self.within / self.arrived) if self.arrived else None,
                "median_arrival_seconds": statistics.median(self.arrivals) if self.arrivals else None,
                "p90_arrival_seconds": _percentile(self.arrivals, 0.9)}


GROUPS = ("county", "station", "ring", "category", "hour")


def ring_figures(session: Session, principal: Principal, *, start: datetime, end: datetime,
                 by: str) -> list[dict[str, Any]]:
    """The 1-3-5 figures of the incidents received in [start, end) that the caller may see, grouped
    by county, station, ring zone, category or local hour of the call (docs/figures.md)."""
    if by not in GROUPS:
        raise Invalid(f"分组须为 {'、'.join(GROUPS)} 之一", f"by must be one of {', '.join(GROUPS)}",
                      details={"field": "by"})
    groups: dict[str, RingFigure] = defaultdict(lambda: RingFigure(""))
    for incident in repository.incidents_for_figures(session, principal, start, end):
        if incident.status in (IncidentStatus.CANCELLED, IncidentStatus.MERGED):
            continue
        key = {"county": incident.county_code, "station": incident.station_id or "",
               "ring": incident.ring_zone, "category": incident.category,
               "hour": f"{incident.call_received_at.astimezone(LOCAL).hour:02d}"}[by]
        figure = groups[key]
        figure.key = key
        figure.incidents += 1
        if incident.arrival_seconds is not None:
            figure.arrived += 1
            figure.arrivals.append(incident.arrival_seconds)
            figure.within += 1 if incident.ring_hit else 0
    return [groups[k].as_dict() for k in sorted(groups)]


# ---------------------------------------------------------------- positions


def report_positions(index: UnitIndex, url: str, principal: Principal, unit_id: str,
                     points: Sequence[tuple[float, float, datetime | None, float | None, float | None]]) -> int:
    """Positions of a unit from one of its members (a REST call or a WebSocket frame): telemetry
    (:mod:`civicgrid.response.telemetry`) — the index moves now, the track is written in the next
    batch, no request transaction, no audit entry. A member of the unit, or a caller whose
    jurisdiction holds the unit (a station's vehicle terminal account); anyone else gets 404."""
    from civicgrid.response import telemetry

    entry = index.get(unit_id)
    if entry is None or not (principal.user_id in entry.members or principal.governs(entry.division_code)):
        raise NotFound("警力单元", "unit")
    now = utcnow()
    batch = [telemetry.Point(unit_id, at or now, lng, lat, speed, heading) for lng, lat, at, speed, heading in points]
    return telemetry.accept(index, url, batch)


# ---------------------------------------------------------------- ring zones


def create_zone(session: Session, principal: Principal, *, zone: str, label: str, division_code: str,
                polygon: dict[str, Any]) -> Any:
    """Draw a key-site or central-city zone (a GeoJSON polygon, WGS-84) in the caller's jurisdiction;
    it overrides the default zone of the places it covers for incidents received from now on."""
    from shapely.geometry import mapping

    from civicgrid.response.models import RingZone

    if not principal.governs(division_code):
        raise NotFound("区划", "division")
    geom = geo.area_polygon(polygon)
    row = RingZone(zone=zone, label=label, division_code=division_code, polygon=json.dumps(mapping(geom)),
                   active=True, created_at=utcnow())
    repository.add(session, row)
    session.flush()
    after_commit(session, places.forget_zones)
    return row


def list_zones(session: Session, principal: Principal) -> list[Any]:
    return repository.list_zones(session, principal)


# ---------------------------------------------------------------- names (what a person reads)


def place_codes(grid: str) -> list[str]:
    """The county, township and village codes above a grid (15 digits), then the grid."""
    return [grid[:6] + "000000", grid[:9] + "000", grid[:12], grid]


def names(session: Session, *, org_unit_ids: Iterable[str] = (), codes: Iterable[str] = (),
          user_ids: Iterable[str] = ()) -> dict[str, str]:
    """Names by id or code in a few queries: org units, divisions (12 digits), grids (15 digits)
    and the display names of members — the console shows these, never the codes."""
    wanted = set(codes)
    out = dict(repository.org_unit_names(session, org_unit_ids))
    out.update(geo.names_of(session, {c for c in wanted if len(c) == 12}))
    out.update(geo.grid_names_of(session, {c for c in wanted if len(c) == 15}))
    out.update(repository.user_names(session, user_ids))
    return out


def place_name(found: dict[str, str], grid: str) -> str | None:
    """"零陵区 朝阳街道 某某社区": the names above a grid, each once."""
    parts: list[str] = []
    for code in place_codes(grid)[:3]:
        name = found.get(code)
        if name and name not in parts:
            parts.append(name)
    return " ".join(parts) or None


# ---------------------------------------------------------------- read by other modules


@dataclass(frozen=True)
class PoliceCall:
    """A police call (警情) as other modules see it: what, when, how far from the point asked about."""

    incident_id: str
    number: str
    category: str
    received_at: datetime
    distance_m: float
    ring_hit: bool | None = None  # first unit on scene within the 1-3-5 ring; None until one arrived


def calls_near(session: Session, lng: float, lat: float, *, since: datetime, until: datetime,
               radius_m: float) -> list[PoliceCall]:
    """The police calls received in ``[since, until)`` within ``radius_m`` metres of a point —
    the one way other modules (the disputes' early warning) read incidents by place."""
    deg = radius_m / 111_000 * 1.5  # a box that holds the circle at Yongzhou's latitudes
    found = []
    for incident in repository.incidents_near(session, lng, lat, since, until, deg):
        distance = great_circle_m(lng, lat, incident.lng, incident.lat)
        if distance <= radius_m:
            found.append(PoliceCall(incident.id, incident.number, incident.category, incident.call_received_at,
                                    round(distance, 1), incident.ring_hit))
    return found
