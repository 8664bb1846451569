"""Every query of the rapid-response tables, scoped by the caller (DESIGN.md rule 5)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import unscoped, visible
from civicgrid.geo.models import Division
from civicgrid.people.models import User
from civicgrid.people.orgs.models import AreaGrid, OrgUnit
from civicgrid.response.models import (
    Assignment,
    AssignmentStatus,
    Incident,
    ResponseUnit,
    RingZone,
    ShiftState,
    UnitMember,
    UnitShift,
    UnitTrackPoint,
)
from civicgrid.workflow.models import TimelineEvent

ACTIVE_ASSIGNMENT = (AssignmentStatus.ORDERED, AssignmentStatus.ACKNOWLEDGED, AssignmentStatus.EN_ROUTE,
                     AssignmentStatus.ON_SCENE)


def add(session: Session, row: Any) -> None:
    session.add(row)


# ---------------------------------------------------------------- units


def get_unit(session: Session, principal: Principal, unit_id: str) -> ResponseUnit | None:
    return session.scalars(select(ResponseUnit).where(ResponseUnit.id == unit_id,
                                                      visible(ResponseUnit.division_code, principal))).first()


def unit_by_id(session: Session, unit_id: str, reason: str) -> ResponseUnit | None:
    """A unit read for the system or for one of its members (``reason`` says which)."""
    return session.scalars(select(ResponseUnit).where(ResponseUnit.id == unit_id, unscoped(reason))).first()


def units_by_ids(session: Session, unit_ids: Iterable[str]) -> dict[str, ResponseUnit]:
    ids = list(set(unit_ids))
    if not ids:
        return {}
    rows = session.scalars(select(ResponseUnit).where(
        ResponseUnit.id.in_(ids), unscoped("units named on assignments the caller may already see")))
    return {u.id: u for u in rows}


def list_units(session: Session, principal: Principal, *, status: str | None, limit: int,
               offset: int) -> tuple[int, list[ResponseUnit]]:
    query = select(ResponseUnit).where(visible(ResponseUnit.division_code, principal))
    if status:
        query = query.where(ResponseUnit.status == status)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(ResponseUnit.call_sign).limit(limit).offset(offset))
    return total, list(rows)


def all_units(session: Session) -> list[ResponseUnit]:
    """Every unit, for the in-memory index (rebuilt at start)."""
    return list(session.scalars(select(ResponseUnit).where(unscoped("the dispatch index holds every unit"))))


def call_sign_taken(session: Session, call_sign: str) -> bool:
    return session.scalar(select(func.count()).select_from(ResponseUnit).where(
        ResponseUnit.call_sign == call_sign, unscoped("call signs are unique city-wide"))) != 0


def members_of(session: Session, unit_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {u: [] for u in unit_ids}
    if unit_ids:
        for unit_id, user_id in session.execute(select(UnitMember.unit_id, UnitMember.user_id)
                                                .where(UnitMember.unit_id.in_(list(unit_ids)))):
            out[unit_id].append(user_id)
    return out


def all_members(session: Session) -> list[tuple[str, str]]:
    return [(u, m) for u, m in session.execute(select(UnitMember.unit_id, UnitMember.user_id))]


def units_of_user(session: Session, user_id: str) -> list[str]:
    return list(session.scalars(select(UnitMember.unit_id).where(UnitMember.user_id == user_id)))


def latest_positions(session: Session) -> list[tuple[str, datetime, float, float]]:
    """(unit, at, lng, lat) of every unit's latest track point: what the index is rebuilt from."""
    latest = (select(UnitTrackPoint.unit_id, func.max(UnitTrackPoint.at).label("at"))
              .group_by(UnitTrackPoint.unit_id).subquery())
    rows = session.execute(
        select(UnitTrackPoint.unit_id, UnitTrackPoint.at, UnitTrackPoint.lng, UnitTrackPoint.lat)
        .join(latest, (latest.c.unit_id == UnitTrackPoint.unit_id) & (latest.c.at == UnitTrackPoint.at)))
    return [(u, at, lng, lat) for u, at, lng, lat in rows]


def purge_tracks(session: Session, before: datetime) -> int:
    result = session.execute(delete(UnitTrackPoint).where(UnitTrackPoint.at < before))
    return int(getattr(result, "rowcount", 0) or 0)


def track_of(session: Session, unit_id: str, since: datetime | None, limit: int) -> list[UnitTrackPoint]:
    query = select(UnitTrackPoint).where(UnitTrackPoint.unit_id == unit_id)
    if since is not None:
        query = query.where(UnitTrackPoint.at >= since)
    return list(session.scalars(query.order_by(UnitTrackPoint.at.desc()).limit(limit)))


# ---------------------------------------------------------------- shifts

LIVE_SHIFT = (ShiftState.PLANNED, ShiftState.ON, ShiftState.ENDING)


def get_shift(session: Session, principal: Principal, shift_id: str) -> UnitShift | None:
    return session.scalars(select(UnitShift).where(UnitShift.id == shift_id,
                                                   visible(UnitShift.division_code, principal))).first()


def list_shifts(session: Session, principal: Principal, *, unit_id: str | None, start: datetime,
                end: datetime) -> list[UnitShift]:
    """The shifts in the caller's jurisdiction overlapping [start, end), not cancelled."""
    query = select(UnitShift).where(visible(UnitShift.division_code, principal), UnitShift.starts_at < end,
                                    UnitShift.ends_at > start, UnitShift.state != ShiftState.CANCELLED)
    if unit_id:
        query = query.where(UnitShift.unit_id == unit_id)
    return list(session.scalars(query.order_by(UnitShift.starts_at, UnitShift.unit_id)))


def live_shifts_of_unit(session: Session, unit_id: str) -> list[UnitShift]:
    """A unit's shifts not ended or cancelled (for the system's timers: the unit's own rows)."""
    return list(session.scalars(select(UnitShift).where(
        UnitShift.unit_id == unit_id, UnitShift.state.in_([str(s) for s in LIVE_SHIFT]),
        unscoped("the shift timers act on the unit's own shifts")).order_by(UnitShift.starts_at)))


def shift_by_id(session: Session, shift_id: str, reason: str) -> UnitShift | None:
    return session.scalars(select(UnitShift).where(UnitShift.id == shift_id, unscoped(reason))).first()


def running_shift_ends(session: Session, unit_ids: Sequence[str], at: datetime) -> dict[str, datetime]:
    """When the shift running at ``at`` ends, by unit (units off shift are absent)."""
    if not unit_ids:
        return {}
    rows = session.execute(select(UnitShift.unit_id, UnitShift.ends_at).where(
        UnitShift.unit_id.in_(list(unit_ids)), UnitShift.starts_at <= at, UnitShift.ends_at > at,
        UnitShift.state.in_([str(s) for s in LIVE_SHIFT]), unscoped("the running shifts of units the caller sees")))
    return {unit_id: ends_at for unit_id, ends_at in rows}


def on_shift_members(session: Session, unit_ids: Sequence[str], at: datetime) -> dict[str, list[str]]:
    """The members named on the running shift of each unit at ``at`` (units with no running
    shift, or one that names nobody, are absent)."""
    out: dict[str, list[str]] = {}
    if not unit_ids:
        return out
    for shift in session.scalars(select(UnitShift).where(
            UnitShift.unit_id.in_(list(unit_ids)), UnitShift.starts_at <= at, UnitShift.ends_at > at,
            UnitShift.state == ShiftState.ON, unscoped("the running shifts of units being dispatched"))):
        if shift.members:
            out.setdefault(shift.unit_id, []).extend(shift.members)
    return out


# ---------------------------------------------------------------- incidents


def _incident_visible(principal: Principal, user_units: Sequence[str]) -> Any:
    """The incidents a caller sees: by jurisdiction, or through an assignment of a unit of theirs
    that is not yet released (an assignment grants its unit read access until released)."""
    clause = visible(Incident.division_code, principal)
    if not user_units:
        return clause
    granted = select(Assignment.incident_id).where(Assignment.unit_id.in_(list(user_units)),
                                                   Assignment.status.in_([str(s) for s in ACTIVE_ASSIGNMENT]),
                                                   unscoped("the caller's own units' live assignments"))
    return or_(clause, Incident.id.in_(granted))


def get_incident(session: Session, principal: Principal, incident_id: str,
                 user_units: Sequence[str] = ()) -> Incident | None:
    return session.scalars(select(Incident).where(Incident.id == incident_id,
                                                  _incident_visible(principal, user_units))).first()


def incident_by_id(session: Session, incident_id: str, reason: str) -> Incident | None:
    return session.scalars(select(Incident).where(Incident.id == incident_id, unscoped(reason))).first()


def list_incidents(session: Session, principal: Principal, *, statuses: Sequence[str] | None, limit: int,
                   offset: int, user_units: Sequence[str] = ()) -> tuple[int, list[Incident]]:
    query = select(Incident).where(_incident_visible(principal, user_units))
    if statuses:
        query = query.where(Incident.status.in_(list(statuses)))
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(Incident.call_received_at.desc(), Incident.id.desc())
                           .limit(limit).offset(offset))
    return total, list(rows)


def incidents_for_figures(session: Session, principal: Principal, start: datetime,
                          end: datetime) -> list[Incident]:
    return list(session.scalars(select(Incident).where(
        visible(Incident.division_code, principal), Incident.call_received_at >= start,
        Incident.call_received_at < end)))


def nearby_open_incidents(session: Session, lng: float, lat: float, since: datetime,
                          deg: float) -> list[Incident]:
    """Open incidents received since ``since`` within a box of ``deg`` around the point (merge
    proposals): the caller narrows to the real distance."""
    open_statuses = ("received", "dispatched", "on_scene")
    return list(session.scalars(select(Incident).where(
        Incident.call_received_at >= since, Incident.status.in_(open_statuses),
        Incident.lng.between(lng - deg, lng + deg), Incident.lat.between(lat - deg, lat + deg),
        unscoped("merge proposals compare the new incident with every nearby one; the answer lists "
                 "only numbers the caller may see"))))


def incident_by_source(session: Session, source: str, source_ref: str) -> Incident | None:
    return session.scalars(select(Incident).where(Incident.source == source, Incident.source_ref == source_ref,
                                                  unscoped("a 110 number is received once city-wide"))).first()


def timeline_of(session: Session, entity_type: str, entity_id: str) -> list[TimelineEvent]:
    """The steps of an incident or assignment the caller already holds (loaded through its scope)."""
    return list(session.scalars(select(TimelineEvent).where(
        TimelineEvent.entity_type == entity_type, TimelineEvent.entity_id == entity_id,
        unscoped("the steps of a record the caller already loaded through its scope (or its unit's assignment)"))
        .order_by(TimelineEvent.seq)))


# ---------------------------------------------------------------- assignments


def assignments_of(session: Session, incident_id: str) -> list[Assignment]:
    """The assignments of an incident the caller already holds (loaded through its scope)."""
    return list(session.scalars(select(Assignment).where(
        Assignment.incident_id == incident_id, unscoped("read with its incident, already scoped"))
        .order_by(Assignment.ordered_at, Assignment.id)))


def get_assignment(session: Session, assignment_id: str, reason: str) -> Assignment | None:
    return session.scalars(select(Assignment).where(Assignment.id == assignment_id, unscoped(reason))).first()


def active_assignments_of_unit(session: Session, unit_id: str) -> list[Assignment]:
    return list(session.scalars(select(Assignment).where(
        Assignment.unit_id == unit_id, Assignment.status.in_([str(s) for s in ACTIVE_ASSIGNMENT]),
        unscoped("a unit's status derives from its own assignments"))))


# ---------------------------------------------------------------- places


def village_classes(session: Session) -> list[tuple[str, str | None, str | None]]:
    """(village code, township code, urban–rural code) of every village."""
    rows = session.execute(select(Division.code, Division.parent_code, Division.urban_rural_code).where(
        Division.level == "village", unscoped("the urban–rural classes of the whole city are reference data")))
    return [(c, p, u) for c, p, u in rows]


def station_of_grid(session: Session, grid_code: str) -> str | None:
    """The police station whose responsibility area holds the grid, else one filed under the
    grid's township."""
    found = session.scalar(select(OrgUnit.id).join(AreaGrid, AreaGrid.unit_id == OrgUnit.id).where(
        AreaGrid.grid_code == grid_code, OrgUnit.type_code == "police_station",
        unscoped("locating an incident finds the station of its grid for the system")).limit(1))
    if found is not None:
        return str(found)
    found = session.scalar(select(OrgUnit.id).where(
        OrgUnit.type_code == "police_station", OrgUnit.division_code == grid_code[:9] + "000",
        unscoped("locating an incident finds the station of its township")).order_by(OrgUnit.id).limit(1))
    return str(found) if found is not None else None


def org_unit(session: Session, org_unit_id: str) -> OrgUnit | None:
    return session.scalars(select(OrgUnit).where(OrgUnit.id == org_unit_id,
                                                 unscoped("a response unit names its org unit"))).first()


def org_unit_names(session: Session, ids: Iterable[str]) -> dict[str, str]:
    wanted = [i for i in set(ids) if i]
    if not wanted:
        return {}
    return {i: n for i, n in session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_(wanted), unscoped("names of stations shown beside rows already scoped")))}


def user_names(session: Session, ids: Iterable[str]) -> dict[str, str]:
    wanted = [i for i in set(ids) if i]
    if not wanted:
        return {}
    return {i: n for i, n in session.execute(select(User.id, User.display_name).where(
        User.id.in_(wanted), unscoped("names of the members of units the caller already sees")))}


def active_zones(session: Session) -> list[RingZone]:
    return list(session.scalars(select(RingZone).where(RingZone.active.is_(True),
                                                       unscoped("the ring zones of the whole city classify places"))))


def list_zones(session: Session, principal: Principal) -> list[RingZone]:
    return list(session.scalars(select(RingZone).where(visible(RingZone.division_code, principal))
                                .order_by(RingZone.created_at)))


def get_zone(session: Session, principal: Principal, zone_id: str) -> RingZone | None:
    return session.scalars(select(RingZone).where(RingZone.id == zone_id,
                                                  visible(RingZone.division_code, principal))).first()


def incidents_near(session: Session, lng: float, lat: float, since: datetime, until: datetime,
                   deg: float) -> list[Incident]:
    """Incidents (any status but merged) received in ``[since, until)`` within a box of ``deg``
    around the point: the caller narrows to the real distance."""
    return list(session.scalars(select(Incident).where(
        Incident.call_received_at >= since, Incident.call_received_at < until, Incident.status != "merged",
        Incident.lng.between(lng - deg, lng + deg), Incident.lat.between(lat - deg, lat + deg),
        unscoped("other modules' rules count police calls at a place for the system; the answer "
                 "carries numbers and times, no personal data")).order_by(Incident.call_received_at)))
