"""Org-unit API: types, units (scoped: 404 outside), departments, responsibility areas, and the
unit an account belongs to."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, status
from sqlalchemy.orm import Session

from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.kit.i18n import pick
from civicgrid.kit.pagination import Offset
from civicgrid.people.orgs import service
from civicgrid.people.orgs.models import Department, OrgUnit
from civicgrid.people.orgs.schemas import (
    AreaRead,
    AreaSet,
    AreaSummary,
    DepartmentCreate,
    DepartmentRead,
    MembershipRead,
    MembershipSet,
    OrgUnitCreate,
    OrgUnitPage,
    OrgUnitRead,
    OrgUnitTypeRead,
    OrgUnitUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["org units"])
_MISSING: dict[int | str, dict[str, Any]] = {404: {"description": "Missing or out of scope"}}


def _read(session: Session, unit: OrgUnit, grid_count: int, lang: str | None) -> OrgUnitRead:
    return OrgUnitRead(
        id=unit.id, name=unit.name, type_code=unit.type_code, type_name=service.type_name(unit.type_code, lang),
        division_code=unit.division_code, division_name=service.division_name(session, unit.division_code),
        parent_id=unit.parent_id,
        area=AreaSummary(kind=unit.area_kind, grid_count=grid_count, version=unit.area_version,
                         updated_at=unit.area_updated_at),
        current_grid_code=unit.current_grid_code, current_grid_at=unit.current_grid_at, demo=unit.demo,
        created_at=unit.created_at, updated_at=unit.updated_at)


def _one(session: Session, unit: OrgUnit, request: Request) -> OrgUnitRead:
    return _read(session, unit, service.area_counts(session, [unit]).get(unit.id, 0),
                 getattr(request.state, "lang", None))


def _department(d: Department) -> DepartmentRead:
    return DepartmentRead(id=d.id, unit_id=d.unit_id, code=d.code, name=d.name, matter_type_code=d.matter_type_code,
                          created_at=d.created_at)


@router.get("/org-unit-types", response_model=list[OrgUnitTypeRead])
def list_types(request: Request, principal: Principal = Depends(require("orgs.read"))) -> list[OrgUnitTypeRead]:
    """机构类型 — every org unit type (data, zh/en names)."""
    lang = getattr(request.state, "lang", None)
    return [OrgUnitTypeRead(code=t.code, name=pick(t.name_zh, t.name_en, lang), name_zh=t.name_zh, name_en=t.name_en,
                            group=t.group, mobile=t.mobile) for t in service.list_types()]


@router.get("/org-units", response_model=OrgUnitPage)
def list_units(session: DbSession, request: Request, offset: Offset = 0,
               limit: int = Query(50, ge=1, le=200), type_code: str | None = Query(None, max_length=40),
               division: str | None = Query(None, pattern=r"^\d{2,12}$", description="division code prefix"),
               q: str | None = Query(None, max_length=64),
               principal: Principal = Depends(require("orgs.read"))) -> OrgUnitPage:
    """机构列表 — the units inside the caller's scope."""
    rows, total = service.list_units(session, principal, offset=offset, limit=limit, type_code=type_code,
                                     division_prefix=division, search=q)
    counts = service.area_counts(session, rows)
    lang = getattr(request.state, "lang", None)
    return OrgUnitPage(items=[_read(session, u, counts.get(u.id, 0), lang) for u in rows], total=total,
                       offset=offset, limit=limit)


@router.post("/org-units", response_model=OrgUnitRead, status_code=status.HTTP_201_CREATED,
             responses={403: {"description": "Outside the caller's jurisdiction"}})
def create_unit(session: DbSession, body: OrgUnitCreate, request: Request,
                principal: Principal = Depends(require("orgs.manage"))) -> OrgUnitRead:
    """新建机构 — in a division the caller governs."""
    unit = service.create_unit(session, principal, name=body.name, type_code=body.type_code,
                               division_code=body.division_code, parent_id=body.parent_id)
    return _one(session, unit, request)


@router.get("/org-units/{unit_id}", response_model=OrgUnitRead, responses=_MISSING)
def get_unit(session: DbSession, unit_id: str, request: Request,
             principal: Principal = Depends(require("orgs.read"))) -> OrgUnitRead:
    """机构详情 — 404 outside the caller's scope."""
    return _one(session, service.get_unit(session, principal, unit_id), request)


@router.patch("/org-units/{unit_id}", response_model=OrgUnitRead, responses=_MISSING)
def update_unit(session: DbSession, unit_id: str, body: OrgUnitUpdate, request: Request,
                principal: Principal = Depends(require("orgs.manage"))) -> OrgUnitRead:
    """修改机构 — name, type, parent unit, current grid (a moving unit)."""
    changes = body.model_dump(include=body.model_fields_set)
    return _one(session, service.update_unit(session, principal, unit_id, changes), request)


@router.get("/org-units/{unit_id}/area", response_model=AreaRead, responses=_MISSING)
def get_area(session: DbSession, unit_id: str, principal: Principal = Depends(require("orgs.read"))) -> AreaRead:
    """责任区 — the unit's area as given and resolved to grids."""
    unit, grids = service.area_of(session, principal, unit_id)
    return AreaRead(unit_id=unit.id, kind=unit.area_kind, version=unit.area_version,
                    polygon=json.loads(unit.area_polygon) if unit.area_polygon else None,
                    grids=[g.grid_code for g in grids],
                    whole_villages=sorted({g.village_code for g in grids if g.whole_village}))


@router.put("/org-units/{unit_id}/area", response_model=AreaRead, responses=_MISSING)
def set_area(session: DbSession, unit_id: str, body: AreaSet,
             principal: Principal = Depends(require("orgs.manage"))) -> AreaRead:
    """设置责任区 — grid codes, or a GeoJSON polygon snapped to grids; neither clears it."""
    service.set_area(session, principal, unit_id, grids=body.grids, polygon=body.polygon)
    return get_area(session, unit_id, principal)


@router.get("/org-units/{unit_id}/departments", response_model=list[DepartmentRead], responses=_MISSING)
def list_departments(session: DbSession, unit_id: str,
                     principal: Principal = Depends(require("orgs.read"))) -> list[DepartmentRead]:
    """内设部门 — the departments of a unit."""
    return [_department(d) for d in service.list_departments(session, principal, unit_id)]


@router.post("/org-units/{unit_id}/departments", response_model=DepartmentRead,
             status_code=status.HTTP_201_CREATED, responses={**_MISSING, 409: {"description": "Code taken"}})
def create_department(session: DbSession, unit_id: str, body: DepartmentCreate,
                      principal: Principal = Depends(require("orgs.manage"))) -> DepartmentRead:
    """新建部门 — a department inside a unit (code unique within it)."""
    return _department(service.create_department(session, principal, unit_id, code=body.code, name=body.name,
                                                 matter_type_code=body.matter_type_code))


@router.put("/users/{user_id}/org-unit", response_model=MembershipRead, responses=_MISSING)
def set_membership(session: DbSession, user_id: str, body: MembershipSet,
                   principal: Principal = Depends(require("orgs.manage"))) -> MembershipRead:
    """所属机构 — put an account in an org unit (or none); both must be in the caller's scope."""
    user = service.assign_user(session, principal, user_id, body.org_unit_id)
    return MembershipRead(user_id=user.id, org_unit_id=user.org_unit_id)
