"""Every query of the people domain. Lists and loads of users take the caller's principal and
apply the one scoping helper (``authz.scoping.visible``); login and authentication act for the
system (``unscoped``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import unscoped, visible
from civicgrid.kit.statements import DriverStatement
from civicgrid.people.models import AuthToken, LoginFailure, LoginLock, Role, RolePermission, User
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


def actor_names(session: Session, user_ids: Iterable[str]) -> list[tuple[str, str, str | None]]:
    """(user id, display name, org unit name) of the users who acted on a record the caller already
    sees (a timeline): names only, never the account itself."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return []
    stmt = (select(User.id, User.display_name, OrgUnit.name)
            .outerjoin(OrgUnit, OrgUnit.id == User.org_unit_id)
            .where(User.id.in_(wanted), unscoped("names of those who acted on a record the caller sees")))
    return [(str(uid), str(name), unit) for uid, name, unit in session.execute(stmt)]


def get_role(session: Session, code: str) -> Role | None:
    return session.get(Role, code)


def list_roles(session: Session) -> list[Role]:
    return list(session.scalars(select(Role).order_by(Role.code)).all())


def count_users_with_roles(session: Session, roles: tuple[str, ...]) -> int:
    """Unscoped: the install checks whether the administrators exist."""
    return session.scalar(select(func.count()).select_from(User).where(
        User.role_code.in_(roles), unscoped("the install checks whether the administrators exist"))) or 0


# ---------------------------------------------------------------- login failures and locks


def add_login_failure(session: Session, username: str, ip: str, at: datetime) -> None:
    session.add(LoginFailure(username=username, ip=ip, at=at))
    session.flush()


def count_failures_at(session: Session, username: str, ip: str, since: datetime) -> int:
    """Failures of one name from one address after ``since``."""
    return session.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.username == username, LoginFailure.ip == ip,
                                 LoginFailure.at > since)) or 0


def address_failures(session: Session, ip: str, since: datetime) -> tuple[int, datetime | None]:
    """How many failures came from one address after ``since``, and the earliest of them."""
    row = session.execute(select(func.count(), func.min(LoginFailure.at))
                          .where(LoginFailure.ip == ip, LoginFailure.at > since)).one()
    return int(row[0] or 0), row[1]


def clear_failures_at(session: Session, username: str, ip: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.ip == ip))


def purge_failures(session: Session, ip: str, before: datetime) -> None:
    """Forget one address's failures that no window counts any more."""
    session.execute(delete(LoginFailure).where(LoginFailure.ip == ip, LoginFailure.at <= before))


def get_lock(session: Session, username: str, ip: str) -> LoginLock | None:
    return session.get(LoginLock, (username, ip))


def set_lock(session: Session, username: str, ip: str, at: datetime, until: datetime) -> LoginLock:
    lock = session.get(LoginLock, (username, ip))
    if lock is None:
        lock = LoginLock(username=username, ip=ip, locked_at=at, locked_until=until)
        session.add(lock)
    else:
        lock.locked_at, lock.locked_until = at, until
    session.flush()
    return lock


def locked_names(session: Session, usernames: list[str], now: datetime) -> set[str]:
    """Which of these names are locked at some address now."""
    if not usernames:
        return set()
    return set(session.scalars(select(LoginLock.username).where(LoginLock.username.in_(usernames),
                                                                LoginLock.locked_until > now)).all())


def clear_locks(session: Session, username: str) -> None:
    """Lift every lock of a name (an administrator's unlock), and forget its failures."""
    session.execute(delete(LoginLock).where(LoginLock.username == username))
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))


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
    scope: str | None = None


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
                   u.division_code, u.is_active, permissions, u.org_unit_id, o.area_kind, o.area_version, t.scope)
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
                        area_version=int(row[13]) if row[12] is not None else None, scope=row[14])


def touch_token(session: Session, token_id: str, at: datetime) -> None:
    """Move last-seen forward (never backward: two requests may race)."""
    session.execute(update(AuthToken).where(AuthToken.id == token_id, AuthToken.last_seen_at < at)
                    .values(last_seen_at=at))


def revoke_token(session: Session, token_id: str, at: datetime) -> None:
    session.execute(update(AuthToken).where(AuthToken.id == token_id, AuthToken.revoked_at.is_(None))
                    .values(revoked_at=at))


def revoke_role_tokens(session: Session, role_code: str, at: datetime) -> None:
    """End the sessions of every holder of a role."""
    holders = select(User.id).where(User.role_code == role_code, unscoped(
        "a role's permissions changed: every holder's session ends, wherever they are")).scalar_subquery()
    session.execute(update(AuthToken).where(AuthToken.user_id.in_(holders), AuthToken.revoked_at.is_(None))
                    .values(revoked_at=at))


def set_token_scope(session: Session, token_id: str, scope: str | None) -> None:
    session.execute(update(AuthToken).where(AuthToken.id == token_id).values(scope=scope))


def revoke_user_tokens(session: Session, user_id: str, at: datetime, *, keep: str | None = None) -> int:
    """Revoke every live token of a user (but ``keep``, the one in use)."""
    conditions = [AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None)]
    if keep is not None:
        conditions.append(AuthToken.id != keep)
    result = session.execute(update(AuthToken).where(*conditions).values(revoked_at=at))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
