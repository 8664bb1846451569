"""Who is calling: what the auth dependency hands every endpoint and service."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """An authenticated user: role, permissions (from the role table) and jurisdiction prefix.

    ``org_unit_id`` is the org unit (机构) the account belongs to, if any. When that unit has a
    responsibility area (责任区), ``area_unit_id`` names it and ``area`` holds the area's grid codes
    and the codes of the villages lying wholly inside it: the area narrows the jurisdiction,
    never widens it. SQL scoping uses a subquery on ``area_unit_id``
    (:func:`civicgrid.authz.scoping.visible`); ``area`` serves in-memory checks (:meth:`governs`).
    """

    user_id: str
    username: str
    role: str
    division_code: str
    jurisdiction: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    display_name: str = ""
    org_unit_id: str | None = None
    area_unit_id: str | None = None
    area: frozenset[str] | None = None
    # A session limited to one step before the account may do anything else: "password_change"
    # (a password someone else chose) or "totp_enrolment" (a second factor is required). None: full.
    pending: str | None = None

    def can(self, permission: str) -> bool:
        return permission in self.permissions or "*" in self.permissions

    def governs(self, code: str | None) -> bool:
        """Whether a record's division or grid code lies inside this user's jurisdiction (and, for a
        user of a unit with a responsibility area, inside that area: a grid of the area or a
        village wholly inside it)."""
        if code is None or not code.startswith(self.jurisdiction):
            return False
        return self.area is None or code in self.area
