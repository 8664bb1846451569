"""Every query of org units, departments and responsibility areas. Loads and lists are scoped
with :func:`civicgrid.authz.scoping.visible` on the unit's division code; departments (a child
table) are scoped through their unit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import unscoped, visible
from civicgrid.kit.statements import DriverStatement
from civicgrid.people.orgs.models import AreaGrid, Department, OrgUnit


def _unit_visible(principal: Principal) -> Any:
    """Units in the caller's scope, and the caller's own unit (a station's user sees its station
    although the station is filed under the county, which its area only partly covers)."""
    if principal.org_unit_id is None:
        return visible(OrgUnit.division_code, principal)
    return or_(visible(OrgUnit.division_code, principal), OrgUnit.id == principal.org_unit_id)


def get_unit(session: Session, unit_id: str, principal: Principal) -> OrgUnit | None:
    """A unit the caller may see, or None (missing and out of scope look the same)."""
    return session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id, _unit_visible(principal)))


def list_units(session: Session, principal: Principal, *, offset: int, limit: int, type_code: str | None = None,
               division_prefix: str | None = None, search: str | None = None) -> tuple[list[OrgUnit], int]:
    """One page of the units the caller may see, by division then name, and the total."""
    conditions = [_unit_visible(principal)]
    if type_code:
        conditions.append(OrgUnit.type_code == type_code)
    if division_prefix:
        conditions.append(OrgUnit.division_code.like(division_prefix + "%"))
    if search:
        conditions.append(OrgUnit.name.contains(search, autoescape=True))
    total = session.scalar(select(func.count()).select_from(OrgUnit).where(*conditions)) or 0
    rows = session.scalars(select(OrgUnit).where(*conditions)
                           .order_by(OrgUnit.division_code, OrgUnit.name).offset(offset).limit(limit)).all()
    return list(rows), int(total)


def add(session: Session, row: OrgUnit | Department) -> None:
    session.add(row)
    session.flush()


def area_counts(session: Session, unit_ids: list[str]) -> dict[str, int]:
    """How many grids each unit's area holds (units without an area are left out)."""
    if not unit_ids:
        return {}
    stmt = (select(AreaGrid.unit_id, func.count()).where(AreaGrid.unit_id.in_(unit_ids))
            .group_by(AreaGrid.unit_id))
    return {unit_id: int(n) for unit_id, n in session.execute(stmt)}


# ---------------------------------------------------------------- departments


def departments_of(session: Session, unit_id: str, principal: Principal) -> list[Department]:
    """The departments of a unit the caller may see (scoped through the unit)."""
    stmt = (select(Department).join(OrgUnit, OrgUnit.id == Department.unit_id)
            .where(Department.unit_id == unit_id, _unit_visible(principal)).order_by(Department.code))
    return list(session.scalars(stmt))


def department_code_taken(session: Session, unit_id: str, code: str) -> bool:
    stmt = select(func.count()).select_from(Department).where(
        Department.unit_id == unit_id, Department.code == code,
        unscoped("a department code is unique within its unit, whoever can see the other departments"))
    return (session.scalar(stmt) or 0) != 0


# ---------------------------------------------------------------- responsibility areas


def area_grids(session: Session, unit_id: str) -> list[AreaGrid]:
    """The resolved grids of a unit's area, by code (the caller has loaded the unit in scope)."""
    return list(session.scalars(select(AreaGrid).where(AreaGrid.unit_id == unit_id).order_by(AreaGrid.grid_code)))


def replace_area(session: Session, unit_id: str, rows: list[dict[str, Any]]) -> None:
    """Replace a unit's resolved grids with ``rows`` (unit_id, grid_code, village_code, whole_village)."""
    session.execute(delete(AreaGrid).where(AreaGrid.unit_id == unit_id))
    if rows:
        session.execute(insert(AreaGrid), rows)


_AREA_CODES = DriverStatement(lambda _d: select(AreaGrid.__table__.c.grid_code, AreaGrid.__table__.c.village_code,
                                                AreaGrid.__table__.c.whole_village)
                              .where(AreaGrid.__table__.c.unit_id == bindparam("unit_id")))


def area_codes(source: Session | Engine, unit_id: str) -> frozenset[str]:
    """The codes an area holds for in-memory checks: its grids and the villages wholly inside it.
    Read alone given the engine (a read request's authentication), else in the session."""
    values = {"unit_id": unit_id}
    rows = (_AREA_CODES.query(source, values) if isinstance(source, Engine)
            else _AREA_CODES.execute(source.connection(), values))
    codes: set[str] = set()
    for grid, village, whole in rows:
        codes.add(grid)
        if whole:
            codes.add(village)
    return frozenset(codes)


def unit_by_id(session: Session, unit_id: str, reason: str) -> OrgUnit | None:
    """A unit by id for the system (the demo, walking a loaded unit's parents): ``reason`` says why."""
    return session.scalars(select(OrgUnit).where(OrgUnit.id == unit_id, unscoped(reason))).first()
