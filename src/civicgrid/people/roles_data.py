"""The shipped role catalogue (``data/roles.json``): roles and their permissions as data.

Read by the 0003 migration (seeding a fresh database) and by :func:`people.service.sync_roles`
(bringing an existing database in line after the file changed). Kept free of ORM imports so
the migration does not depend on how the models look later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

ROLES_FILE = Path(__file__).resolve().parent / "data" / "roles.json"

# 三员分立 (GB/T 22239-2019 8.1.4.2 管理用户权限分离; 8.1.5.1–8.1.5.3): three administrators,
# created only at install (``civicgrid admins init``), granted by nobody.
SYSADMIN, SECADMIN, AUDITADMIN = "sysadmin", "secadmin", "auditadmin"
ADMIN_ROLES = (SYSADMIN, SECADMIN, AUDITADMIN)
REVEAL = "pii.reveal"


def is_sensitive(permission: str) -> bool:
    """A permission the system administrator may never hand out: revealing personal data, reading
    the audit log, or the administrators' own powers over roles."""
    return permission == REVEAL or permission.startswith("audit.") or permission in ("roles.assign",
                                                                                    "roles.manage")


@dataclass(frozen=True)
class RoleSpec:
    """One role as shipped: code, names, description and the permissions it grants."""

    code: str
    name_zh: str
    name_en: str
    description: str
    permissions: frozenset[str]
    granted_by: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PermissionSpec:
    """One permission string with its names in both languages."""

    code: str
    name_zh: str
    name_en: str


def _parse(raw: dict[str, Any]) -> tuple[list[PermissionSpec], list[RoleSpec]]:
    perms = [PermissionSpec(code, names["zh"], names["en"]) for code, names in raw["permissions"].items()]
    known = {p.code for p in perms}
    for p in perms:
        domain, _, action = p.code.partition(".")
        if not domain or not action or "." in action:
            raise ValueError(f"permission {p.code!r} is not <domain>.<action>")
    roles: list[RoleSpec] = []
    seen: set[str] = set()
    for item in raw["roles"]:
        code = item["code"]
        if code in seen:
            raise ValueError(f"role {code!r} is listed twice")
        seen.add(code)
        granted = frozenset(item["permissions"])
        unknown = granted - known
        if unknown:
            raise ValueError(f"role {code!r} names unknown permissions: {sorted(unknown)}")
        roles.append(RoleSpec(code, item["name_zh"], item["name_en"], item.get("description", ""), granted,
                              frozenset(item.get("granted_by", ()))))
    _check_separation(roles)
    return perms, roles


def _check_separation(roles: list[RoleSpec]) -> None:
    """Refuse a catalogue that breaks 三员分立: an unknown grantor, an administrator role that
    someone may grant, the audit administrator granting anything, or the system administrator
    granting a role that reveals personal data or reads the audit log."""
    codes = {r.code for r in roles}
    for role in roles:
        unknown = role.granted_by - codes
        if unknown:
            raise ValueError(f"role {role.code!r} names unknown grantors: {sorted(unknown)}")
        if role.code in ADMIN_ROLES and role.granted_by:
            raise ValueError(f"role {role.code!r} is created at install only: it may name no grantor")
        if AUDITADMIN in role.granted_by:
            raise ValueError(f"role {role.code!r}: the audit administrator grants nothing")
        if SYSADMIN in role.granted_by and any(is_sensitive(p) for p in role.permissions):
            raise ValueError(f"role {role.code!r} reveals personal data or reads the audit log: "
                             "the system administrator may not grant it")


@lru_cache(maxsize=4)
def _load(path: Path) -> tuple[tuple[PermissionSpec, ...], tuple[RoleSpec, ...]]:
    perms, roles = _parse(json.loads(path.read_text(encoding="utf-8")))
    return tuple(perms), tuple(roles)


def load_roles(path: Path = ROLES_FILE) -> list[RoleSpec]:
    """The roles in the catalogue file (validated: every permission is declared)."""
    return list(_load(path)[1])


def grantors(code: str, path: Path = ROLES_FILE) -> frozenset[str]:
    """The roles that may give ``code`` to an account. A role the catalogue does not ship (made
    by hand or by a test) is the security administrator's to grant."""
    for role in _load(path)[1]:
        if role.code == code:
            return role.granted_by
    return frozenset({SECADMIN})


def load_permissions(path: Path = ROLES_FILE) -> list[PermissionSpec]:
    """Every permission the catalogue declares."""
    return list(_load(path)[0])
