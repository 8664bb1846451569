"""Rules of org units: types as data, placement in the division tree, departments, responsibility
areas resolved to grids, and which unit an account belongs to.

A responsibility area is stored twice on purpose: as the caller gave it (``area_kind`` and, for a
drawn one, the polygon) and resolved to grids (``org_unit_area_grids``), so that scoping a request
is an indexed subquery (:func:`civicgrid.authz.scoping.area_clause`) and never geometry.
Services flush, never commit.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.audit.service import record
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import jurisdiction_prefix
from civicgrid.geo import service as geo_service
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, Conflict, Invalid, NotFound
from civicgrid.kit.i18n import pick
from civicgrid.people import service as people_service
from civicgrid.people.models import User
from civicgrid.people.orgs import repository
from civicgrid.people.orgs.models import AreaGrid, Department, OrgUnit
from civicgrid.people.orgs.types_data import OrgUnitType, get_type, load_types


class OutOfJurisdiction(AppError):
    """Placing a unit (or an area) outside the caller's jurisdiction."""

    status = 403
    code = "out_of_jurisdiction"


def _not_found() -> NotFound:
    return NotFound("机构", "org unit")


# ---------------------------------------------------------------- types


def list_types() -> list[OrgUnitType]:
    """Every org unit type (data: ``data/org_unit_types.json``)."""
    return load_types()


def unit_type(code: str) -> OrgUnitType:
    """The type with ``code``; :class:`Invalid` (422, in Chinese first) when there is none."""
    found = get_type(code)
    if found is None:
        raise Invalid(f"机构类型不存在：{code}", f"Unknown org unit type: {code}",
                      code="unknown_org_unit_type", details={"field": "type_code"})
    return found


def type_name(code: str, lang: str | None = None) -> str:
    found = get_type(code)
    return pick(found.name_zh, found.name_en, lang) if found else code


# ---------------------------------------------------------------- units


def get_unit(session: Session, principal: Principal, unit_id: str) -> OrgUnit:
    """A unit the caller may see; :class:`NotFound` otherwise (no existence leak)."""
    unit = repository.get_unit(session, unit_id, principal)
    if unit is None:
        raise _not_found()
    return unit


def list_units(session: Session, principal: Principal, *, offset: int = 0, limit: int = 50,
               type_code: str | None = None, division_prefix: str | None = None,
               search: str | None = None) -> tuple[list[OrgUnit], int]:
    """A page of the units the caller may see."""
    return repository.list_units(session, principal, offset=offset, limit=limit, type_code=type_code,
                                 division_prefix=division_prefix, search=search)


def area_counts(session: Session, units: list[OrgUnit]) -> dict[str, int]:
    return repository.area_counts(session, [u.id for u in units if u.area_kind])


def division_name(session: Session, code: str) -> str | None:
    return geo_service.name_of(session, code)


def _parent(session: Session, principal: Principal, parent_id: str | None) -> OrgUnit | None:
    if parent_id is None:
        return None
    parent = repository.get_unit(session, parent_id, principal)
    if parent is None:  # the same answer for a missing unit and one out of scope
        raise Invalid("上级机构不存在", "The parent org unit does not exist", details={"field": "parent_id"})
    return parent


def create_unit(session: Session, principal: Principal | None, *, name: str, type_code: str, division_code: str,
                parent_id: str | None = None, demo: bool = False) -> OrgUnit:
    """A new unit in a division the caller governs (``principal`` None: the CLI and the demo)."""
    unit_type(type_code)
    if geo_service.name_of(session, division_code) is None:
        raise Invalid(f"区划不存在：{division_code}", f"Unknown division: {division_code}",
                      details={"field": "division_code"})
    if principal is not None and not principal.governs(division_code):
        raise OutOfJurisdiction("只能在本辖区内设立机构", "You can only create org units inside your own jurisdiction")
    if principal is not None:
        _parent(session, principal, parent_id)
    unit = OrgUnit(name=name, type_code=type_code, division_code=division_code, parent_id=parent_id, demo=demo,
                   created_at=utcnow(), updated_at=utcnow())
    repository.add(session, unit)
    return unit


def update_unit(session: Session, principal: Principal, unit_id: str, changes: dict[str, Any]) -> OrgUnit:
    """Change a unit's name, type, parent or current grid (only the keys given)."""
    unit = get_unit(session, principal, unit_id)
    if "type_code" in changes and changes["type_code"] is not None:
        unit_type(changes["type_code"])
        unit.type_code = changes["type_code"]
    if changes.get("name") is not None:
        unit.name = changes["name"]
    if "parent_id" in changes:
        parent = _parent(session, principal, changes["parent_id"])
        ancestor = parent
        while ancestor is not None:  # a unit cannot sit below itself
            if ancestor.id == unit.id:
                raise Invalid("上级机构不能是本机构或其下级", "A unit cannot be placed below itself",
                              details={"field": "parent_id"})
            ancestor = (repository.unit_by_id(session, ancestor.parent_id, "a unit's parents, to refuse a loop")
                        if ancestor.parent_id else None)
        unit.parent_id = parent.id if parent else None
    if changes.get("current_grid_code") is not None:
        move_unit(session, unit, changes["current_grid_code"])
    session.flush()
    return unit


def move_unit(session: Session, unit: OrgUnit, grid_code: str) -> None:
    """Record the grid a moving unit is in now (inside the unit's division)."""
    prefix = jurisdiction_prefix(unit.division_code)
    if not geo_service.grid_villages(session, [grid_code], prefix):
        raise Invalid("网格不存在或不在本机构所在区划内", "Unknown grid, or not inside the unit's division",
                      details={"field": "current_grid_code"})
    unit.current_grid_code = grid_code
    unit.current_grid_at = utcnow()


# ---------------------------------------------------------------- responsibility areas


def set_area(session: Session, principal: Principal | None, unit_id: str, *, grids: list[str] | None = None,
             polygon: dict[str, Any] | None = None) -> OrgUnit:
    """Set (or, with neither given, clear) a unit's responsibility area.

    ``grids``: explicit 15-digit grid codes, each existing inside the unit's division; ``polygon``:
    GeoJSON in WGS-84, snapped to the grids of the unit's division whose representative point lies
    inside it. The resolved grids replace the old ones; one ``orgs.area_set`` audit event names
    the grids added and removed. ``principal`` None: the demo."""
    unit = (repository.get_unit(session, unit_id, principal) if principal is not None
            else repository.unit_by_id(session, unit_id, "the demo sets its units' areas"))
    if unit is None:
        raise _not_found()
    prefix = jurisdiction_prefix(unit.division_code)
    if polygon is not None:
        codes = geo_service.snap_to_grids(session, geo_service.area_polygon(polygon), prefix)
        if not codes:
            raise Invalid("多边形内没有本机构所在区划的网格", "The polygon holds no grid of the unit's division",
                          details={"field": "polygon"})
        kind: str | None = "polygon"
    elif grids:
        codes = sorted(set(grids))
        kind = "grids"
    else:
        codes, kind = [], None
    villages = geo_service.grid_villages(session, codes, prefix)
    unknown = [c for c in codes if c not in villages]
    if unknown:
        shown = "、".join(unknown[:5])
        raise Invalid(f"网格不存在或不在本机构所在区划内：{shown}",
                      f"Unknown grids, or not inside the unit's division: {', '.join(unknown[:5])}",
                      details={"field": "grids", "unknown": unknown[:50]})
    if principal is not None and not all(principal.governs(c) for c in codes):
        raise OutOfJurisdiction("责任区超出本辖区", "The area reaches outside your jurisdiction")
    totals = geo_service.grid_counts_by_village(session, sorted(set(villages.values())))
    per_village: dict[str, int] = {}
    for village in villages.values():
        per_village[village] = per_village.get(village, 0) + 1
    rows = [{"unit_id": unit.id, "grid_code": c, "village_code": villages[c],
             "whole_village": per_village[villages[c]] == totals.get(villages[c], -1)} for c in codes]
    before = {g.grid_code for g in repository.area_grids(session, unit.id)}
    repository.replace_area(session, unit.id, rows)
    unit.area_kind = kind
    unit.area_polygon = json.dumps(polygon, ensure_ascii=False, separators=(",", ":")) if polygon else None
    unit.area_version = (unit.area_version or 0) + 1
    unit.area_updated_at = utcnow()
    after = set(codes)
    record(session, "orgs.area_set", "org_units", unit.id, division_code=unit.division_code,
           after={"kind": kind, "grid_count": len(after), "version": unit.area_version,
                  "added": sorted(after - before)[:500], "removed": sorted(before - after)[:500]})
    session.flush()
    return unit


def area_of(session: Session, principal: Principal, unit_id: str) -> tuple[OrgUnit, list[AreaGrid]]:
    """A unit the caller may see and the resolved grids of its area."""
    unit = get_unit(session, principal, unit_id)
    return unit, repository.area_grids(session, unit.id)


# ---------------------------------------------------------------- departments


def list_departments(session: Session, principal: Principal, unit_id: str) -> list[Department]:
    get_unit(session, principal, unit_id)
    return repository.departments_of(session, unit_id, principal)


def create_department(session: Session, principal: Principal, unit_id: str, *, code: str, name: str,
                      matter_type_code: str | None = None) -> Department:
    """A department inside a unit the caller may see; its code is unique within the unit."""
    unit = get_unit(session, principal, unit_id)
    if repository.department_code_taken(session, unit.id, code):
        raise Conflict(f"部门代码已存在：{code}", f"Department code already used: {code}", code="department_code_taken")
    department = Department(unit_id=unit.id, code=code, name=name, matter_type_code=matter_type_code,
                            division_code=unit.division_code, created_at=utcnow())
    repository.add(session, department)
    return department


# ---------------------------------------------------------------- membership


def set_membership(session: Session, principal: Principal | None, user: User, unit_id: str | None) -> User:
    """Put an account in an org unit (or none). The unit must be one the caller may see."""
    if unit_id is not None:
        if principal is not None:
            get_unit(session, principal, unit_id)
        elif repository.unit_by_id(session, unit_id, "the demo puts its accounts in units") is None:
            raise _not_found()
    user.org_unit_id = unit_id
    session.flush()
    return user


def assign_user(session: Session, principal: Principal, user_id: str, unit_id: str | None) -> User:
    """The endpoint's path: the account must be in the caller's scope too (404 otherwise)."""
    return set_membership(session, principal, people_service.get_user(session, principal, user_id), unit_id)
