"""Accounts and their sessions: roles, role permissions, users, login failures, bearer tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.clock import utcnow
from civicgrid.kit.ids import new_id
from civicgrid.kit.personal import Personal
from civicgrid.people.orgs import models as _orgs  # noqa: F401  (users.org_unit_id → org_units)

PHONE_CONTEXT = "users.phone"  # the phone's associated data: unchanged since the column was first written


class Role(Base):
    """A role (网格员, 指挥员, …): a named set of permissions, synced from ``data/roles.json``."""

    __tablename__ = "roles"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(96))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")

    permissions: Mapped[list[RolePermission]] = relationship(
        back_populates="role", cascade="all, delete-orphan", lazy="selectin",
        order_by="RolePermission.permission")

    @property
    def permission_set(self) -> frozenset[str]:
        return frozenset(p.permission for p in self.permissions)


class RolePermission(Base):
    """One permission a role grants (``<domain>.<action>``)."""

    __tablename__ = "role_permissions"

    role_code: Mapped[str] = mapped_column(String(40), ForeignKey("roles.code", ondelete="CASCADE"),
                                           primary_key=True)
    permission: Mapped[str] = mapped_column(String(64), primary_key=True)

    role: Mapped[Role] = relationship(back_populates="permissions")


class User(Base):
    """An account: a role and a jurisdiction (derived from ``division_code``, a 12-digit division
    or a 15-digit grid code). The phone number is personal data (a :class:`Personal` column,
    stored in ``phone_cipher``) plus a keyed hash for lookups; neither, nor the password hash or
    the TOTP secret, ever enters the audit chain.

    ``must_change_password``: the password was chosen by someone else (an administrator, the
    install, the demo), so the first login may only change it. ``totp_secret`` is the RFC 6238
    shared secret, encrypted with the platform cipher (context ``users.totp_secret``); it counts
    only once ``totp_confirmed_at`` is set (the user proved their authenticator with a code)."""

    __tablename__ = "users"
    __scope_column__ = "division_code"
    __audit_redact__ = frozenset({"password_hash", "phone_hash", "totp_secret"})
    __table_args__ = (
        Index("ix_users_division_code", "division_code",
              postgresql_ops={"division_code": "varchar_pattern_ops"}),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role_code: Mapped[str] = mapped_column(String(40), ForeignKey("roles.code"), index=True)
    division_code: Mapped[str] = mapped_column(String(15))
    password_hash: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column("phone_cipher", Personal(PHONE_CONTEXT, "phone", 255), default=None)
    phone_hash: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # No longer written: failure locks live in login_locks (per name and address).
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    totp_secret: Mapped[str | None] = mapped_column(String(255), default=None)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The org unit the account works for (people.orgs); its responsibility area, if it has one,
    # narrows the account's jurisdiction.
    org_unit_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("org_units.id"), default=None,
                                                    index=True)

    role: Mapped[Role] = relationship(lazy="joined")


class LoginFailure(Base):
    """One failed login, by the name typed (known or not) and the client address; kept only to
    count inside the window (per name and address for the lock, per address for the throttle).

    Pure bookkeeping, so not row-audited: the login service records ``auth.login_failed``
    and ``auth.locked`` in the audit chain itself."""

    __tablename__ = "login_failures"
    __audit__ = False
    __table_args__ = (Index("ix_login_failures_username_ip_at", "username", "ip", "at"),
                      Index("ix_login_failures_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginLock(Base):
    """A name locked at one client address after repeated failures there (423 until
    ``locked_until``). Per address, so a stranger elsewhere cannot keep the owner out."""

    __tablename__ = "login_locks"
    __audit__ = False

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthToken(Base):
    """A login session: an opaque bearer token, stored only as its keyed hash.

    Not row-audited (its last-seen time moves on every request); login and logout are
    recorded as ``auth.login`` / ``auth.logout`` events instead."""

    __tablename__ = "auth_tokens"
    __audit__ = False

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(255), default=None)
    # None: a full session; "password_change" / "totp_enrolment": limited to that step.
    scope: Mapped[str | None] = mapped_column(String(16), default=None)

    user: Mapped[User] = relationship(lazy="joined")
