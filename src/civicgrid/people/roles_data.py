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


@dataclass(frozen=True)
class RoleSpec:
    """One role as shipped: code, names, description and the permissions it grants."""

    code: str
    name_zh: str
    name_en: str
    description: str
    permissions: frozenset[str]


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
        roles.append(RoleSpec(code, item["name_zh"], item["name_en"], item.get("description", ""), granted))
    return perms, roles


@lru_cache(maxsize=4)
def _load(path: Path) -> tuple[tuple[PermissionSpec, ...], tuple[RoleSpec, ...]]:
    perms, roles = _parse(json.loads(path.read_text(encoding="utf-8")))
    return tuple(perms), tuple(roles)


def load_roles(path: Path = ROLES_FILE) -> list[RoleSpec]:
    """The roles in the catalogue file (validated: every permission is declared)."""
    return list(_load(path)[1])


def load_permissions(path: Path = ROLES_FILE) -> list[PermissionSpec]:
    """Every permission the catalogue declares."""
    return list(_load(path)[0])
