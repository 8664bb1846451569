"""Every query of the people domain. Lists and loads of users take the caller's principal and
apply the one scoping helper (``authz.scoping.visible``); login and authentication act for the
system (``unscoped``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import unscoped, visible
from civicgrid.kit.statements import DriverStatement
from civicgrid.people.models import AuthToken, LoginFailure, Role, RolePermission, User
from civicgrid.people.orgs.models import OrgUnit

# ---------------------------------------------------------------- users


def get_user_by_username(session: Session, username: str) -> User | None:
    """Unscoped: only the login path looks a user up by name."""
    return session.scalars(select(User).where(User.username == username,
                                              unscoped("login: the caller is not known yet"))).first()


def username_taken(session: Session, username: str) -> bool:
    return session.scalar(select(func.count()).select_from(User).where(
        User.username == username, unscoped("usernames are unique city-wide"))) != 0


def get_user(session: Session, user_id: str, principal: Principal) -> User | None:
    """A user the principal may see, or None (missing and out of scope look the same). Everyone
    sees their own account, though an org unit's area may not cover the division it is filed under."""
    return session.scalars(select(User).where(
        User.id == user_id, or_(visible(User.division_code, principal), User.id == principal.user_id))).first()


def list_users(session: Session, principal: Principal, *, offset: int, limit: int, role: str | None = None,
               phone_hashes: tuple[str, ...] = (), search: str | None = None) -> tuple[list[User], int]:
    """One page of users inside the jurisdiction, ordered by division then username, and the total."""
    conditions = [visible(User.division_code, principal)]
    if role:
        conditions.append(User.role_code == role)
    if phone_hashes:
        conditions.append(User.phone_hash.in_(phone_hashes))
    if search:
        conditions.append(User.username.contains(search, autoescape=True)
                          | User.display_name.contains(search, autoescape=True))
    total = session.scalar(select(func.count()).select_from(User).where(*conditions)) or 0
    rows = session.scalars(select(User).where(*conditions)
                           .order_by(User.division_code, User.username).offset(offset).limit(limit)).all()
    return list(rows), total


# ---------------------------------------------------------------- roles


def get_role(session: Session, code: str) -> Role | None:
    return session.get(Role, code)


def list_roles(session: Session) -> list[Role]:
    return list(session.scalars(select(Role).order_by(Role.code)).all())


# ---------------------------------------------------------------- login failures


def add_login_failure(session: Session, user_id: str, at: datetime, ip: str | None) -> None:
    session.add(LoginFailure(user_id=user_id, at=at, ip=ip))
    session.flush()


def count_login_failures(session: Session, user_id: str, since: datetime) -> int:
    return session.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.user_id == user_id, LoginFailure.at > since)) or 0


def clear_login_failures(session: Session, user_id: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.user_id == user_id))


# ---------------------------------------------------------------- tokens


def add_token(session: Session, token: AuthToken) -> None:
    session.add(token)
    session.flush()


@dataclass(frozen=True)
class TokenAccount:
    """A bearer token with what authentication needs of its user and role (one row)."""

    id: str
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    user_id: str
    username: str
    display_name: str
    role_code: str
    division_code: str
    is_active: bool
    permissions: frozenset[str]
    org_unit_id: str | None = None
    area_version: int | None = None  # set when the user's unit has a responsibility area


def _token_account_statement(dialect: str) -> Any:
    """Token, user, the role's permissions and the user's org unit (whether it has a responsibility
    area, and the area's version) in one statement. The permissions come aggregated into one
    space-separated string."""
    rp = RolePermission.__table__.c
    t, u, o = AuthToken.__table__.c, User.__table__.c, OrgUnit.__table__.c
    joined = (func.string_agg(rp.permission, " ") if dialect == "postgresql"
              else func.group_concat(rp.permission, " "))
    permissions = select(joined).where(rp.role_code == u.role_code).scalar_subquery()
    return (select(t.id, t.last_seen_at, t.expires_at, t.revoked_at, u.id, u.username, u.display_name, u.role_code,
                   u.division_code, u.is_active, permissions, u.org_unit_id, o.area_kind, o.area_version)
            .join_from(AuthToken.__table__, User.__table__, u.id == t.user_id)
            .outerjoin(OrgUnit.__table__, o.id == u.org_unit_id)
            .where(t.token_hash == bindparam("token_hash"), unscoped("authentication: the token names its user")))


# Every authenticated request runs it: compiled once per dialect, run on the driver.
_TOKEN_ACCOUNT = DriverStatement(_token_account_statement)


@lru_cache(maxsize=256)
def _permission_set(joined: str) -> frozenset[str]:
    return frozenset(joined.split())


def token_account(source: Session | Engine, token_hash: str) -> TokenAccount | None:
    """The token with this hash and its account, read with one statement: in the session's
    transaction, or given the engine, alone on a pooled connection (a read request's check)."""
    values = {"token_hash": token_hash}
    rows = (_TOKEN_ACCOUNT.query(source, values) if isinstance(source, Engine)
            else _TOKEN_ACCOUNT.execute(source.connection(), values))
    if not rows:
        return None
    row = rows[0]
    return TokenAccount(id=row[0], last_seen_at=row[1], expires_at=row[2], revoked_at=row[3], user_id=row[4],
                        username=row[5], display_name=row[6], role_code=row[7], division_code=row[8],
                        is_active=bool(row[9]), permissions=_permission_set(row[10] or ""), org_unit_id=row[11],
                        area_version=int(row[13]) if row[12] is not None else None)


def touch_token(session: Session, token_id: str, at: datetime) -> None:
    """Move last-seen forward (never backward: two requests may race)."""
    session.execute(update(AuthToken).where(AuthToken.id == token_id, AuthToken.last_seen_at < at)
                    .values(last_seen_at=at))


def revoke_token(session: Session, token_id: str, at: datetime) -> None:
    session.execute(update(AuthToken).where(AuthToken.id == token_id, AuthToken.revoked_at.is_(None))
                    .values(revoked_at=at))


def revoke_user_tokens(session: Session, user_id: str, at: datetime) -> int:
    result = session.execute(update(AuthToken)
                             .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
                             .values(revoked_at=at))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
