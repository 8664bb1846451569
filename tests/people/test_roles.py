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

FIXED_ROLES = {"sysadmin", "secadmin", "auditadmin",
               "admin", "city_plc_staff", "county_plc_staff", "city_commander", "county_commander",
               "station_commander", "township_officer", "village_officer", "grid_worker", "mediator", "elder_mediator",
               "petition_officer", "volunteer", "enforcement_supervisor", "auditor", "hotline_operator",
               "command_operator", "patrol_officer",
               "supervision_centre_staff", "police_legal_reviewer", "case_officer", "governance_centre_staff"}


def _perms(code: str) -> frozenset[str]:
    return next(r.permissions for r in load_roles() if r.code == code)


def _grantors(code: str) -> frozenset[str]:
    return next(r.granted_by for r in load_roles() if r.code == code)


def test_catalogue_has_every_role_and_separates_duties() -> None:
    """三员分立, GB/T 22239-2019 8.1.4.2 (管理用户权限分离) and 8.1.5.1–8.1.5.3 (系统管理, 审计管理,
    安全管理): three administrators, none holding another's powers."""
    assert {r.code for r in load_roles()} == FIXED_ROLES
    assert "users.manage" in _perms("sysadmin") and "users.manage" not in _perms("admin")
    assert {"roles.assign", "roles.manage"} <= _perms("secadmin") and "users.manage" not in _perms("secadmin")
    assert {"audit.read", "audit.verify"} <= _perms("auditadmin")
    assert "audit.read" in _perms("auditor")
    # Neither the system nor the business administrator reads the audit log or personal data in clear.
    for code in ("sysadmin", "secadmin", "admin"):
        assert not {"audit.read", "audit.verify", "pii.reveal"} & _perms(code), code
    for code in ("auditadmin", "auditor"):
        assert not {"users.manage", "roles.assign", "roles.manage"} & _perms(code), code
    holders = {r.code for r in load_roles() if "pii.reveal" in r.permissions}
    assert holders and holders < FIXED_ROLES
    assert not holders & {"grid_worker", "volunteer", "admin", "auditor", "sysadmin", "secadmin", "auditadmin"}
    # Who grants what: nobody grants an administrator; the audit administrator grants nothing; the
    # system administrator grants no reveal or audit role; the security administrator grants every other.
    for code in ("sysadmin", "secadmin", "auditadmin"):
        assert _grantors(code) == frozenset(), code
    for role in load_roles():
        assert "auditadmin" not in role.granted_by
        if role.code not in ("sysadmin", "secadmin", "auditadmin"):
            assert "secadmin" in role.granted_by, role.code
            sensitive = "pii.reveal" in role.permissions or any(p.startswith("audit.") for p in role.permissions)
            assert ("sysadmin" in role.granted_by) == (not sensitive), role.code
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


def test_catalogue_refuses_a_break_of_the_separation_of_duties() -> None:
    def edited(code: str, granted_by: list[str]) -> dict[str, object]:
        raw = json.loads(Path(ROLES_FILE).read_text(encoding="utf-8"))
        next(r for r in raw["roles"] if r["code"] == code)["granted_by"] = granted_by
        return raw

    with pytest.raises(ValueError, match="system administrator may not grant"):
        _parse(edited("mediator", ["sysadmin", "secadmin"]))
    with pytest.raises(ValueError, match="system administrator may not grant"):
        _parse(edited("auditor", ["sysadmin"]))
    with pytest.raises(ValueError, match="audit administrator grants nothing"):
        _parse(edited("grid_worker", ["auditadmin"]))
    with pytest.raises(ValueError, match="created at install only"):
        _parse(edited("auditadmin", ["secadmin"]))
    with pytest.raises(ValueError, match="unknown grantors"):
        _parse(edited("grid_worker", ["emperor"]))


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
