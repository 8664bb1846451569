"""Who is calling: what the auth dependency hands every endpoint and service."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """An authenticated user: role, permissions (from the role table) and jurisdiction prefix."""

    user_id: str
    username: str
    role: str
    division_code: str
    jurisdiction: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    display_name: str = ""
    # A session limited to one step before the account may do anything else: "password_change"
    # (a password someone else chose) or "totp_enrolment" (a second factor is required). None: full.
    pending: str | None = None

    def can(self, permission: str) -> bool:
        return permission in self.permissions or "*" in self.permissions

    def governs(self, code: str | None) -> bool:
        """Whether a record's division or grid code lies inside this user's jurisdiction."""
        return code is not None and code.startswith(self.jurisdiction)
