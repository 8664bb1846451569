"""Every query the simulator and the demo need of their own (reads only: all writes go through
the domains' services, so the timeline, audit chain, timers and figures stay genuine). They act
for the system: every read says so with ``authz.scoping.unscoped``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from civicgrid.authz.scoping import unscoped
from civicgrid.geo.models import Division, Grid
from civicgrid.matters.models import DuplicateCandidate, Matter, SupervisionOrder
from civicgrid.people.models import User
from civicgrid.timers.models import Timer, TimerState
from civicgrid.workflow.models import TimelineEvent


def _system() -> ColumnElement[bool]:
    return unscoped("the demo generator and the city simulator act for the system")


@dataclass(frozen=True)
class GridRow:
    """A grid with its label point and the urban–rural class of its village."""

    code: str
    lng: float
    lat: float
    urban_rural_code: str | None


def matter_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Matter).where(_system())) or 0)


def grids(session: Session) -> list[GridRow]:
    """Every grid, by code, with its village's urban–rural class (统计用城乡分类代码)."""
    stmt = (select(Grid.code, Grid.lng, Grid.lat, Division.urban_rural_code)
            .join(Division, Division.code == Grid.village_code).where(_system()).order_by(Grid.code))
    return [GridRow(str(code), float(lng), float(lat), ur) for code, lng, lat, ur in session.execute(stmt)]


def grid_boundary(session: Session, code: str) -> str | None:
    return session.scalar(select(Grid.boundary).where(Grid.code == code, _system()))


def division_names(session: Session, codes: Sequence[str]) -> dict[str, str]:
    rows = session.execute(select(Division.code, Division.name).where(Division.code.in_(list(codes)), _system()))
    return {str(code): str(name) for code, name in rows}


def user_with(session: Session, role: str, division_code: str) -> User | None:
    """The first account (by username) holding ``role`` at exactly ``division_code``."""
    return session.scalars(select(User).where(User.role_code == role, User.division_code == division_code, _system())
                           .order_by(User.username).limit(1)).first()


def user_named(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username, _system())).first()


def next_timer_due(session: Session) -> datetime | None:
    """When the earliest pending timer falls due (the simulator moves its clock there)."""
    return session.scalar(select(func.min(Timer.due_at)).where(Timer.state == TimerState.PENDING.value))


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Matter.status, func.count()).where(_system()).group_by(Matter.status))
    return {str(status): int(n) for status, n in rows}


def flag_counts(session: Session) -> dict[str, int]:
    """How many matters ran late, were escalated, reworked, supervised; links and urgings."""
    def count(*where: object) -> int:
        return int(session.scalar(select(func.count()).select_from(Matter).where(_system(), *where)) or 0)  # type: ignore[arg-type]

    urged = session.scalar(select(func.count(func.distinct(TimelineEvent.entity_id)))
                           .where(TimelineEvent.entity_type == "matter", TimelineEvent.action == "urge", _system()))
    auto = session.scalar(select(func.count(func.distinct(TimelineEvent.entity_id)))
                          .where(TimelineEvent.entity_type == "matter", TimelineEvent.action == "escalate",
                                 TimelineEvent.actor_id.is_(None), _system()))
    return {
        "overdue": count(Matter.overdue.is_(True)),
        "overdue_open": count(Matter.overdue.is_(True), Matter.closed_at.is_(None)),
        "escalated": count(Matter.escalations > 0),
        "auto_escalated": int(auto or 0),
        "reworked": count(Matter.rework_count > 0),
        "supervised": count(Matter.supervised.is_(True)),
        "urged": int(urged or 0),
        "duplicate_links": int(session.scalar(select(func.count()).select_from(DuplicateCandidate)
                                              .where(_system())) or 0),
        "supervision_orders": int(session.scalar(select(func.count()).select_from(SupervisionOrder)
                                                 .where(_system())) or 0),
    }


def fingerprint(session: Session) -> list[tuple[object, ...]]:
    """What a run produced, independent of random ids: one tuple per matter, by number."""
    stmt = select(Matter.number, Matter.type_code, Matter.grid_code, Matter.channel, Matter.status,
                  Matter.owner_level, Matter.settled_level, Matter.satisfaction, Matter.overdue,
                  Matter.escalations, Matter.rework_count, Matter.supervised, Matter.reported_at,
                  Matter.closed_at).where(_system()).order_by(Matter.number)
    return [tuple(row) for row in session.execute(stmt)]


def reported_range(session: Session) -> tuple[datetime | None, datetime | None]:
    row = session.execute(select(func.min(Matter.reported_at), func.max(Matter.reported_at)).where(_system())).one()
    return row[0], row[1]


def divisions_at(session: Session, level: str, prefix: str) -> list[tuple[str, str]]:
    """(code, name) of the divisions of a level under a prefix, by code."""
    stmt = (select(Division.code, Division.name)
            .where(Division.level == level, Division.code.like(prefix + "%"), _system()).order_by(Division.code))
    return [(str(code), str(name)) for code, name in session.execute(stmt)]


def grids_of_villages(session: Session, villages: Sequence[str]) -> list[str]:
    """Every grid code of the given villages, by code."""
    stmt = select(Grid.code).where(Grid.village_code.in_(list(villages)), _system()).order_by(Grid.code)
    return [str(code) for code in session.scalars(stmt)]


def demo_units_exist(session: Session, name: str | None = None) -> bool:
    """Whether demo org units exist (``name``: that one; other seeds — disputes — add their own)."""
    from civicgrid.people.orgs.models import OrgUnit

    query = select(func.count()).select_from(OrgUnit).where(OrgUnit.demo.is_(True), _system())
    if name is not None:
        query = query.where(OrgUnit.name == name)
    return bool(session.scalar(query))


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username, _system()))


def first_village(session: Session, township: str) -> str | None:
    """The first village of a township, by code."""
    return session.scalar(select(Division.code).where(Division.parent_code == township, Division.level == "village",
                                                      _system()).order_by(Division.code).limit(1))


def first_grid(session: Session, village: str) -> str | None:
    return session.scalar(select(Grid.code).where(Grid.village_code == village, _system()).order_by(Grid.code).limit(1))


def has_grids(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Grid).where(_system())))


# ---------------------------------------------------------------- supervision demo (simulate/supervision.py)


def supervision_case_count(session: Session) -> int:
    from civicgrid.supervision.models import CaseRecord

    return int(session.scalar(select(func.count()).select_from(CaseRecord).where(_system())) or 0)


def api_client(session: Session, client_id: str) -> Any:
    """The demo case system's API client (an ``ApiClient``) by id."""
    from civicgrid.apiclients.models import ApiClient

    return session.scalars(select(ApiClient).where(ApiClient.id == client_id, _system())).first()


def next_timer_due_of(session: Session, kinds: Sequence[str]) -> datetime | None:
    """When the earliest pending timer of ``kinds`` falls due."""
    return session.scalar(select(func.min(Timer.due_at)).where(Timer.state == TimerState.PENDING.value,
                                                               Timer.kind.in_(list(kinds))))


def supervision_outcome(session: Session) -> tuple[int, int]:
    """Breached clocks, and 迟报 (late-report) warnings raised."""
    from civicgrid.alerts.models import Alert
    from civicgrid.supervision.models import Clock

    breaches = session.scalar(select(func.count()).select_from(Clock).where(Clock.status == "breached", _system()))
    late = session.scalar(select(func.count()).select_from(Alert).where(Alert.rule_code == "supervision.late_report",
                                                                        _system()))
    return int(breaches or 0), int(late or 0)

# ---------------------------------------------------------------- rapid response (demo and simulator)


def demo_org_units_of(session: Session, type_codes: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """(id, name, type, division) of the demo org units of these types, by name."""
    from civicgrid.people.orgs.models import OrgUnit

    stmt = (select(OrgUnit.id, OrgUnit.name, OrgUnit.type_code, OrgUnit.division_code)
            .where(OrgUnit.demo.is_(True), OrgUnit.type_code.in_(list(type_codes)), _system()).order_by(OrgUnit.name))
    return [(str(i), str(n), str(t), str(d)) for i, n, t, d in session.execute(stmt)]


def org_area_grids(session: Session, org_unit_id: str) -> list[str]:
    """The grids of an org unit's responsibility area, by code."""
    from civicgrid.people.orgs.models import AreaGrid

    stmt = select(AreaGrid.grid_code).where(AreaGrid.unit_id == org_unit_id, _system()).order_by(
        AreaGrid.grid_code)
    return [str(code) for code in session.scalars(stmt)]


def demo_response_units(session: Session) -> list[tuple[str, str, str, int]]:
    """(id, call sign, type, members) of the demo response units, by call sign."""
    from civicgrid.response.models import ResponseUnit, UnitMember

    members = (select(func.count()).select_from(UnitMember).where(UnitMember.unit_id == ResponseUnit.id)
               .correlate(ResponseUnit).scalar_subquery())
    stmt = (select(ResponseUnit.id, ResponseUnit.call_sign, ResponseUnit.unit_type, members)
            .where(ResponseUnit.demo.is_(True), _system()).order_by(ResponseUnit.call_sign))
    return [(str(i), str(c), str(t), int(m or 0)) for i, c, t, m in session.execute(stmt)]


def live_assignments_of(session: Session, unit_ids: Sequence[str]) -> list[object]:
    """The assignments of these units not yet released, oldest order first."""
    from civicgrid.response.models import Assignment

    if not unit_ids:
        return []
    stmt = (select(Assignment).where(Assignment.unit_id.in_(list(unit_ids)), Assignment.status != "released",
                                     _system()).order_by(Assignment.ordered_at))
    return list(session.scalars(stmt))


def simulated_incidents(session: Session, statuses: Sequence[str], prefix: str) -> list[object]:
    """The simulator's incidents (their 110 number starts with ``prefix``) in these statuses."""
    from civicgrid.response.models import Incident

    stmt = (select(Incident).where(Incident.source == "110", Incident.source_ref.like(prefix + "%"),
                                   Incident.status.in_(list(statuses)), _system()).order_by(Incident.call_received_at))
    return list(session.scalars(stmt))
