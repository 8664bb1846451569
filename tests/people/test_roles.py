"""Roles as data: the shipped catalogue, its validation, and sync_roles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.people import service
from civicgrid.people.models import Role, RolePermission
from civicgrid.people.roles_data import ROLES_FILE, _parse, load_permissions, load_roles
from tests.factories import create_user

FIXED_ROLES = {"admin", "city_plc_staff", "county_plc_staff", "city_commander", "county_commander",
               "station_commander", "township_officer", "village_officer", "grid_worker", "mediator",
               "petition_officer", "volunteer", "enforcement_supervisor", "auditor", "hotline_operator"}


def _perms(code: str) -> frozenset[str]:
    return next(r.permissions for r in load_roles() if r.code == code)


def test_catalogue_has_every_role_and_separates_duties() -> None:
    assert {r.code for r in load_roles()} == FIXED_ROLES
    assert "users.manage" in _perms("admin")
    assert "audit.read" in _perms("auditor")
    # 三员分立: the administrator neither reads the audit log nor personal data in clear.
    assert not {"audit.read", "pii.reveal"} & _perms("admin")
    assert not {"users.manage"} & _perms("auditor")
    holders = {r.code for r in load_roles() if "pii.reveal" in r.permissions}
    assert holders and holders < FIXED_ROLES
    assert not holders & {"grid_worker", "volunteer", "admin", "auditor"}
    domains = {p.code.split(".")[0] for p in load_permissions()}
    assert {"matters", "disputes", "dispatch", "volunteers", "supervision", "campaign", "personnel", "pilot",
            "dashboards"} <= domains


def test_catalogue_rejects_unknown_permissions_and_duplicates() -> None:
    raw = json.loads(Path(ROLES_FILE).read_text(encoding="utf-8"))
    raw["roles"][0]["permissions"].append("nuclear.launch")
    with pytest.raises(ValueError, match=r"nuclear\.launch"):
        _parse(raw)
    raw = json.loads(Path(ROLES_FILE).read_text(encoding="utf-8"))
    raw["roles"].append(raw["roles"][0])
    with pytest.raises(ValueError, match="twice"):
        _parse(raw)


def test_migrated_tables_match_the_catalogue_and_sync_is_idempotent(db: Session) -> None:
    for spec in load_roles():
        role = db.get(Role, spec.code)
        assert role is not None and role.permission_set == spec.permissions
    report = service.sync_roles(db)
    assert report == service.SyncReport([], [], [], [])


def test_sync_restores_drifted_rows(db: Session) -> None:
    grid = db.get(Role, "grid_worker")
    assert grid is not None
    grid.name_zh = "改错的名字"
    grid.permissions.append(RolePermission(permission="users.manage"))
    grid.permissions = [p for p in grid.permissions if p.permission != "matters.report"]
    db.flush()
    report = service.sync_roles(db)
    assert report.updated_roles == ["grid_worker"]
    assert report.granted == ["grid_worker:matters.report"]
    assert report.revoked == ["grid_worker:users.manage"]
    db.expire_all()
    assert db.get(Role, "grid_worker").permission_set == _perms("grid_worker")  # type: ignore[union-attr]
    actions = db.execute(select(RolePermission).where(RolePermission.role_code == "grid_worker")).all()
    assert len(actions) == len(_perms("grid_worker"))


def test_principal_carries_role_permissions_and_jurisdiction(db: Session) -> None:
    user = create_user(db, role="township_officer", division_code="431102001000")
    principal = service.principal_of(user)
    assert isinstance(principal, Principal)
    assert principal.jurisdiction == "431102001"
    assert principal.permissions == _perms("township_officer")
    assert principal.governs("431102001002003") and not principal.governs("431102002001")
