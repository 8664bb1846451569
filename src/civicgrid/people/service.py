"""Rules of the people domain: password policy, login with lockout, bearer tokens with idle and
absolute expiry, accounts inside a jurisdiction, personal data (phone) encrypted and masked,
and the role catalogue synced from data.

Services flush, never commit (DESIGN.md rule 2). Failed logins must persist although the
caller gets an error, so :func:`login` *returns* a failure instead of raising it; the
endpoint renders it and the request's transaction still commits.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from civicgrid.audit.service import Actor, record, set_actor
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import jurisdiction_prefix
from civicgrid.config import get_settings
from civicgrid.geo import service as geo_service
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, Conflict, Invalid, NotAuthenticated, NotFound
from civicgrid.kit.i18n import pick
from civicgrid.kit.personal import lookup_hash, lookup_hashes
from civicgrid.kit.pii import derive_key, keyed_hash, normalize_phone
from civicgrid.people import repository
from civicgrid.people.models import PHONE_CONTEXT, AuthToken, Role, RolePermission, User
from civicgrid.people.orgs import repository as org_repository
from civicgrid.people.repository import TokenAccount
from civicgrid.people.roles_data import load_roles
from civicgrid.reveal import service as reveal

# Move a token's last-seen time at most this often: a read request then almost never writes.
TOUCH_INTERVAL = timedelta(seconds=60)

_hasher = PasswordHasher()


class AccountLocked(AppError):
    """Too many failed logins: the account is locked for a while (HTTP 423)."""

    status = 423
    code = "account_locked"


class OutOfJurisdiction(AppError):
    """Creating or changing something outside the caller's jurisdiction."""

    status = 403
    code = "out_of_jurisdiction"


# ---------------------------------------------------------------- passwords


_CLASSES = (
    (re.compile(r"[a-z]"), "小写字母", "lower-case letters"),
    (re.compile(r"[A-Z]"), "大写字母", "upper-case letters"),
    (re.compile(r"\d"), "数字", "digits"),
    (re.compile(r"[^A-Za-z0-9]"), "符号", "symbols"),
)
MIN_PASSWORD_LENGTH = 8
MIN_PASSWORD_CLASSES = 3


def check_password_policy(password: str) -> None:
    """Raise :class:`Invalid` (422) unless the password has ≥ 8 characters from ≥ 3 of the four
    classes (lower, upper, digit, symbol) — 等保 2.0 identity authentication, complexity."""
    classes = sum(1 for pattern, _, _ in _CLASSES if pattern.search(password))
    if len(password) < MIN_PASSWORD_LENGTH or classes < MIN_PASSWORD_CLASSES:
        raise Invalid(
            f"密码不符合要求：至少 {MIN_PASSWORD_LENGTH} 位，且包含小写字母、大写字母、数字、符号中的至少 "
            f"{MIN_PASSWORD_CLASSES} 类",
            f"Password does not meet the policy: at least {MIN_PASSWORD_LENGTH} characters from at least "
            f"{MIN_PASSWORD_CLASSES} of lower-case letters, upper-case letters, digits and symbols",
            code="weak_password", details={"field": "password"})


def hash_password(password: str) -> str:
    """argon2id with the library's RFC 9106 parameters."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_hex(16))


# ---------------------------------------------------------------- principals and tokens


def token_hash(raw_token: str) -> str:
    """Tokens are stored only as this keyed hash: a copy of the table logs nobody in."""
    return keyed_hash(raw_token, _token_key(get_settings().secret_key))


@lru_cache(maxsize=4)
def _token_key(secret: str) -> bytes:
    return derive_key("auth-token-hmac", secret)


def principal_of(user: User) -> Principal:
    """The Principal a user acts as: role permissions and the jurisdiction prefix of the division.
    (Without the unit's area: the login response shows the account; requests authenticate.)"""
    return Principal(user_id=user.id, username=user.username, role=user.role_code,
                     division_code=user.division_code, jurisdiction=jurisdiction_prefix(user.division_code),
                     permissions=user.role.permission_set, display_name=user.display_name,
                     org_unit_id=user.org_unit_id)


def authenticate(source: Session | Engine, raw_token: str) -> tuple[Principal, TokenAccount]:
    """The principal behind a bearer token; :class:`NotAuthenticated` when it is unknown, revoked,
    idle longer than the idle timeout, past its absolute lifetime, or its user is disabled.
    One statement, in the session's transaction or (given the engine) alone: every
    authenticated request runs it."""
    token = repository.token_account(source, token_hash(raw_token)) if raw_token else None
    if token is None or token.revoked_at is not None:
        raise NotAuthenticated("登录状态无效，请重新登录", "Invalid or revoked token; please log in again")
    now = utcnow()
    idle = timedelta(minutes=get_settings().token_idle_minutes)
    if now >= token.expires_at or now - token.last_seen_at > idle:
        raise NotAuthenticated("登录已超时，请重新登录", "Session expired; please log in again")
    if not token.is_active:
        raise NotAuthenticated("账号已停用", "Account is disabled")
    area_unit = token.org_unit_id if token.area_version is not None else None
    principal = Principal(user_id=token.user_id, username=token.username, role=token.role_code,
                          division_code=token.division_code, jurisdiction=jurisdiction_prefix(token.division_code),
                          permissions=token.permissions, display_name=token.display_name,
                          org_unit_id=token.org_unit_id, area_unit_id=area_unit,
                          area=_area_codes(source, area_unit, token.area_version or 0) if area_unit else None)
    return principal, token


_area_cache: dict[tuple[str, str, int], frozenset[str]] = {}
_AREA_CACHE_SIZE = 1024


def _area_codes(source: Session | Engine, unit_id: str, version: int) -> frozenset[str]:
    """A unit's area codes (grids and wholly covered villages) for the principal's in-memory
    checks, cached per database, unit and area version: the token statement reads the version, so
    a change made by any process is seen on the next request, and a steady request stays one
    statement."""
    engine = source if isinstance(source, Engine) else source.get_bind().engine
    key = (str(engine.url), unit_id, version)
    codes = _area_cache.get(key)
    if codes is None:
        codes = org_repository.area_codes(source, unit_id)
        if len(_area_cache) >= _AREA_CACHE_SIZE:
            _area_cache.clear()
        _area_cache[key] = codes
    return codes


def needs_touch(token: TokenAccount, now: datetime | None = None) -> bool:
    """Whether the token's last-seen time is stale enough to be worth a write."""
    return (now or utcnow()) - token.last_seen_at >= TOUCH_INTERVAL


def touch_token(session: Session, token_id: str) -> None:
    """Record activity on a token (the idle timeout counts from here)."""
    repository.touch_token(session, token_id, utcnow())


def logout(session: Session, principal: Principal, token_id: str) -> None:
    """Revoke the token the caller used; recorded as ``auth.logout``."""
    repository.revoke_token(session, token_id, utcnow())
    record(session, "auth.logout", "users", principal.user_id, division_code=principal.division_code)


# ---------------------------------------------------------------- login


@dataclass(frozen=True)
class LoginSuccess:
    """A new session: the raw token (shown once, never stored) and its user."""

    access_token: str
    expires_in: int
    user: User
    principal: Principal


@dataclass(frozen=True)
class LoginFailed:
    """A refused login, to be rendered as an error response *after* its bookkeeping commits."""

    error: AppError


_WRONG = ("用户名或密码错误", "Wrong username or password")


def _locked_error(until: datetime, now: datetime) -> AccountLocked:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return AccountLocked(f"登录失败次数过多，账号已锁定，请 {minutes} 分钟后再试",
                         f"Too many failed logins: the account is locked; try again in {minutes} minutes",
                         details={"retry_after_seconds": max(1, int((until - now).total_seconds()))})


def login(session: Session, username: str, password: str, *, ip: str | None = None,
          user_agent: str | None = None) -> LoginSuccess | LoginFailed:
    """Check the password and open a session, or count the failure.

    ``login_max_failures`` failures within ``login_failure_window_minutes`` lock the account for
    ``login_lock_minutes`` (423). Every outcome appends an audit event: ``auth.login``,
    ``auth.login_failed`` or ``auth.locked``. Unknown users and wrong passwords get the same
    answer and take the same time (a dummy hash is verified).
    """
    settings = get_settings()
    now = utcnow()
    user = repository.get_user_by_username(session, username)
    set_actor(session, Actor(user.username if user else "anonymous", user.id if user else None))
    if user is None:
        verify_password(_dummy_hash(), password)
        record(session, "auth.login_failed", "users", None,
               after={"username": username[:64], "reason": "unknown_user"})
        return LoginFailed(NotAuthenticated(*_WRONG))
    if user.locked_until is not None and user.locked_until > now:
        record(session, "auth.login_failed", "users", user.id, division_code=user.division_code,
               after={"username": user.username, "reason": "locked"})
        return LoginFailed(_locked_error(user.locked_until, now))
    if not verify_password(user.password_hash, password) or not user.is_active:
        reason = "wrong_password" if user.is_active else "disabled"
        repository.add_login_failure(session, user.id, now, ip)
        record(session, "auth.login_failed", "users", user.id, division_code=user.division_code,
               after={"username": user.username, "reason": reason})
        since = now - timedelta(minutes=settings.login_failure_window_minutes)
        failures = repository.count_login_failures(session, user.id, since)
        if failures >= settings.login_max_failures:
            user.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
            # The failures that caused the lock are spent: after it ends, counting starts afresh.
            repository.clear_login_failures(session, user.id)
            record(session, "auth.locked", "users", user.id, division_code=user.division_code,
                   after={"username": user.username, "failures": failures, "locked_until": user.locked_until})
            session.flush()
            return LoginFailed(_locked_error(user.locked_until, now))
        return LoginFailed(NotAuthenticated(*_WRONG))

    repository.clear_login_failures(session, user.id)
    if user.locked_until is not None:
        user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    raw = secrets.token_urlsafe(32)
    repository.add_token(session, AuthToken(
        token_hash=token_hash(raw), user_id=user.id, created_at=now, last_seen_at=now,
        expires_at=now + timedelta(hours=settings.token_max_hours), ip=ip,
        user_agent=(user_agent or "")[:255] or None))
    record(session, "auth.login", "users", user.id, division_code=user.division_code,
           after={"username": user.username})
    return LoginSuccess(access_token=raw, expires_in=settings.token_idle_minutes * 60, user=user,
                        principal=principal_of(user))


# ---------------------------------------------------------------- accounts


def create_user(session: Session, *, username: str, display_name: str, role: str, division_code: str,
                password: str, phone: str | None = None, by: Principal | None = None,
                password_hash: str | None = None) -> User:
    """Create an account. ``by`` (the caller; None for the CLI) may only create users inside its own
    jurisdiction. ``password_hash`` lets bulk seeding reuse one argon2 hash of the same password."""
    try:
        jurisdiction_prefix(division_code)
    except ValueError as exc:
        raise Invalid("区划代码应为 12 位区划代码或 15 位网格代码",
                      "division_code must be a 12-digit division code or a 15-digit grid code",
                      details={"field": "division_code"}) from exc
    if by is not None and not by.governs(division_code):
        raise OutOfJurisdiction("只能在本辖区内创建账号",
                                "You can only create accounts inside your own jurisdiction")
    if repository.get_role(session, role) is None:
        raise Invalid(f"角色不存在：{role}", f"Unknown role: {role}", details={"field": "role"})
    if repository.username_taken(session, username):
        raise Conflict(f"用户名已存在：{username}", f"Username already taken: {username}",
                       code="username_taken")
    if password_hash is None:
        check_password_policy(password)
        password_hash = hash_password(password)
    user = User(username=username, display_name=display_name, role_code=role, division_code=division_code,
                password_hash=password_hash, created_at=utcnow())
    if phone:
        _set_phone(user, phone)
    session.add(user)
    session.flush()
    return user


def _set_phone(user: User, raw: str) -> None:
    phone = normalize_phone(raw)
    user.phone = phone  # encrypted by its column type
    user.phone_hash = lookup_hash(phone, PHONE_CONTEXT)


def phone_lookup_hashes(raw: str) -> tuple[str, ...]:
    """The keyed hashes to find users by phone number (validates the number first)."""
    return lookup_hashes(normalize_phone(raw), PHONE_CONTEXT)


def get_user(session: Session, principal: Principal, user_id: str) -> User:
    """A user inside the caller's jurisdiction; :class:`NotFound` otherwise (no existence leak)."""
    user = repository.get_user(session, user_id, principal)
    if user is None:
        raise NotFound("账号", "user")
    return user


def list_users(session: Session, principal: Principal, *, offset: int = 0, limit: int = 50,
               role: str | None = None, phone: str | None = None,
               search: str | None = None) -> tuple[list[User], int]:
    """A page of the users inside the caller's jurisdiction (optionally by role, phone or name)."""
    return repository.list_users(session, principal, offset=offset, limit=limit, role=role,
                                 phone_hashes=phone_lookup_hashes(phone) if phone else (), search=search)


def reveal_phone(session: Session, principal: Principal, user_id: str, purpose: str) -> str | None:
    """The clear phone number of a user in scope, through the audited reveal (one ``pii.reveal``
    entry naming the field and the purpose)."""
    return reveal.reveal(session, principal, "user", user_id, "phone", purpose)


reveal.register(reveal.Revealable("user", "users", get_user, frozenset({"phone"})))


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def role_name(role: Role, lang: str | None = None) -> str:
    return pick(role.name_zh, role.name_en, lang)


def division_name(session: Session, code: str) -> str | None:
    """The name of a user's division or grid, from the geo domain (None before divisions are imported)."""
    return geo_service.name_of(session, code)


# ---------------------------------------------------------------- roles


def list_roles(session: Session) -> list[Role]:
    """Every role with its permissions."""
    return repository.list_roles(session)


@dataclass(frozen=True)
class SyncReport:
    """What :func:`sync_roles` changed."""

    added_roles: list[str]
    updated_roles: list[str]
    granted: list[str]
    revoked: list[str]


def sync_roles(session: Session) -> SyncReport:
    """Bring the roles tables in line with ``data/roles.json`` (idempotent, audited row by row).

    Roles that the file does not name (created by an administrator or a test) are left alone.
    """
    added: list[str] = []
    updated: list[str] = []
    granted: list[str] = []
    revoked: list[str] = []
    for spec in load_roles():
        role = repository.get_role(session, spec.code)
        if role is None:
            role = Role(code=spec.code, name_zh=spec.name_zh, name_en=spec.name_en,
                        description=spec.description)
            session.add(role)
            added.append(spec.code)
        elif (role.name_zh, role.name_en, role.description) != (spec.name_zh, spec.name_en, spec.description):
            role.name_zh, role.name_en, role.description = spec.name_zh, spec.name_en, spec.description
            updated.append(spec.code)
        have = {p.permission: p for p in role.permissions}
        for perm in sorted(spec.permissions - have.keys()):
            role.permissions.append(RolePermission(permission=perm))
            granted.append(f"{spec.code}:{perm}")
        for perm in sorted(have.keys() - spec.permissions):
            role.permissions.remove(have[perm])
            revoked.append(f"{spec.code}:{perm}")
    session.flush()
    return SyncReport(added, updated, granted, revoked)
