"""Rules of the people domain: password policy, login with lockout, bearer tokens with idle and
absolute expiry, accounts inside a jurisdiction, personal data (phone) encrypted and masked,
and the role catalogue synced from data.

Services flush, never commit (DESIGN.md rule 2). Failed logins must persist although the
caller gets an error, so :func:`login` *returns* a failure instead of raising it; the
endpoint renders it and the request's transaction still commits.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
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
from civicgrid.kit.pii import derive_key, get_cipher, keyed_hash, mask_phone, normalize_phone
from civicgrid.people import passwords, repository, totp
from civicgrid.people.models import PHONE_CONTEXT, AuthToken, Role, RolePermission, User
from civicgrid.people.orgs import repository as org_repository
from civicgrid.people.repository import TokenAccount
from civicgrid.people.roles_data import (
    ADMIN_ROLES,
    REVEAL,
    SYSADMIN,
    grantors,
    is_sensitive,
    load_permissions,
    load_roles,
)
from civicgrid.reveal import service as reveal

TOTP_CONTEXT = "users.totp_secret"
PASSWORD_CHANGE = "password_change"
TOTP_ENROLMENT = "totp_enrolment"

# Move a token's last-seen time at most this often: a read request then almost never writes.
TOUCH_INTERVAL = timedelta(seconds=60)

_hasher = PasswordHasher()


class AccountLocked(AppError):
    """Too many failed logins: the account is locked for a while (HTTP 423)."""

    status = 423
    code = "account_locked"


class TooManyAttempts(AppError):
    """Too many failed logins from one client address: throttled for a while (HTTP 429)."""

    status = 429
    code = "too_many_attempts"


class NotGrantable(AppError):
    """A role the caller may not give (三员分立), or a grant to oneself (HTTP 403)."""

    status = 403
    code = "not_grantable"


class OutOfJurisdiction(AppError):
    """Creating or changing something outside the caller's jurisdiction."""

    status = 403
    code = "out_of_jurisdiction"


# ---------------------------------------------------------------- passwords


def check_password_policy(password: str, username: str | None = None) -> None:
    """Complexity, the common-password lists and the username (see :mod:`people.passwords`)."""
    passwords.check_password_policy(password, username)


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
                          area=_area_codes(source, area_unit, token.area_version or 0) if area_unit else None,
                          pending=token.scope)
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
    """A new session: the raw token (shown once, never stored), its user, and the step the
    session is limited to (None: a full session)."""

    access_token: str
    expires_in: int
    user: User
    principal: Principal
    pending: str | None = None


@dataclass(frozen=True)
class LoginFailed:
    """A refused login, to be rendered as an error response *after* its bookkeeping commits."""

    error: AppError


_WRONG = ("用户名或密码错误", "Wrong username or password")


def _retry_after(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def _locked_error(until: datetime, now: datetime) -> AccountLocked:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return AccountLocked(f"登录失败次数过多，账号已锁定，请 {minutes} 分钟后再试",
                         f"Too many failed logins: the account is locked; try again in {minutes} minutes",
                         details={"retry_after_seconds": _retry_after(until, now)})


def _throttled_error(until: datetime, now: datetime) -> TooManyAttempts:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return TooManyAttempts(f"此地址登录失败次数过多，请 {minutes} 分钟后再试",
                           f"Too many failed logins from this address; try again in {minutes} minutes",
                           details={"retry_after_seconds": _retry_after(until, now)})


def needs_second_factor(role: str, permissions: frozenset[str]) -> bool:
    """The three administrators and every holder of ``pii.reveal`` log in with a TOTP code
    (GB/T 22239-2019 8.1.4.1 d)."""
    return role in ADMIN_ROLES or REVEAL in permissions


def totp_enrolled(user: User) -> bool:
    return user.totp_secret is not None and user.totp_confirmed_at is not None


def pending_step(user: User) -> str | None:
    """What a new session of this user must do before anything else."""
    if user.must_change_password:
        return PASSWORD_CHANGE
    if needs_second_factor(user.role_code, user.role.permission_set) and not totp_enrolled(user):
        return TOTP_ENROLMENT
    return None


def login(session: Session, username: str, password: str, *, code: str | None = None, ip: str | None = None,
          user_agent: str | None = None) -> LoginSuccess | LoginFailed:
    """Check the password (and the TOTP code where one is enrolled) and open a session, or count
    the failure.

    Nothing in the answer tells a known name from an unknown one: both run exactly one argon2
    verification (an unknown name against a dummy hash), count their failures and lock alike.
    Failures count per (name, client address): ``login_max_failures`` within
    ``login_failure_window_minutes`` lock that name *at that address* for ``login_lock_minutes``
    (423), so a stranger cannot keep the owner out from elsewhere; and per address:
    ``login_address_max_failures`` failures from one address, whatever the names, throttle it
    (429) — that is what stops the stranger. Every outcome appends an audit event
    (``auth.login``, ``auth.login_failed``, ``auth.locked``, ``auth.throttled``).
    """
    settings = get_settings()
    now = utcnow()
    address = ip or "unknown"
    name = username[:64]
    window = timedelta(minutes=settings.login_failure_window_minutes)
    user = repository.get_user_by_username(session, username)
    set_actor(session, Actor(user.username if user else "anonymous", user.id if user else None))
    entity = user.id if user else None
    division = user.division_code if user else None

    count, earliest = repository.address_failures(session, address, now - window)
    if count >= settings.login_address_max_failures and earliest is not None:
        # The address is throttled whatever the name: no password is checked, no name learnt.
        record(session, "auth.throttled", "users", None, after={"username": name, "failures": count})
        return LoginFailed(_throttled_error(earliest + window, now))

    password_ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    lock = repository.get_lock(session, name, address)

    def fail(reason: str, error: AppError) -> LoginFailed:
        repository.add_login_failure(session, name, address, now)
        record(session, "auth.login_failed", "users", entity, division_code=division,
               after={"username": name, "reason": reason})
        if lock is not None and lock.locked_until > now:
            return LoginFailed(_locked_error(lock.locked_until, now))
        # Failures before the end of an earlier lock were spent on it.
        since = max(now - window, lock.locked_until) if lock is not None else now - window
        failures = repository.count_failures_at(session, name, address, since)
        repository.purge_failures(session, address, now - window)
        if failures >= settings.login_max_failures:
            until = now + timedelta(minutes=settings.login_lock_minutes)
            repository.set_lock(session, name, address, now, until)
            record(session, "auth.locked", "users", entity, division_code=division,
                   after={"username": name, "failures": failures, "locked_until": until})
            return LoginFailed(_locked_error(until, now))
        return LoginFailed(error)

    if lock is not None and lock.locked_until > now:
        return fail("locked", _locked_error(lock.locked_until, now))
    if user is None:
        return fail("unknown_user", NotAuthenticated(*_WRONG))
    if not password_ok or not user.is_active:
        return fail("wrong_password" if user.is_active else "disabled", NotAuthenticated(*_WRONG))
    if totp_enrolled(user):
        if not code:
            # Not a failure: the client asks for the code and sends both again.
            return LoginFailed(AppError("请输入动态验证码", "Enter the code from your authenticator app",
                                        status=401, code="totp_required"))
        step = totp.matching_step(_totp_secret(user), code, now, after=user.totp_last_step)
        if step is None:
            return fail("wrong_totp", AppError("动态验证码错误或已使用", "Wrong or already used authenticator code",
                                               status=401, code="totp_invalid"))
        user.totp_last_step = step

    repository.clear_failures_at(session, name, address)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    pending = pending_step(user)
    raw = secrets.token_urlsafe(32)
    repository.add_token(session, AuthToken(
        token_hash=token_hash(raw), user_id=user.id, created_at=now, last_seen_at=now,
        expires_at=now + timedelta(hours=settings.token_max_hours), ip=ip,
        user_agent=(user_agent or "")[:255] or None, scope=pending))
    record(session, "auth.login", "users", user.id, division_code=user.division_code,
           after={"username": user.username, **({"pending": pending} if pending else {})})
    principal = principal_of(user)
    return LoginSuccess(access_token=raw, expires_in=settings.token_idle_minutes * 60, user=user,
                        principal=replace(principal, pending=pending), pending=pending)


# ---------------------------------------------------------------- password change and second factor


def _own(session: Session, principal: Principal) -> User:
    return get_user(session, principal, principal.user_id)


def change_password(session: Session, principal: Principal, token_id: str, current: str, new: str) -> str | None:
    """Change one's own password; returns the step the session is still limited to (None: full).

    Ends every other session of the user; recorded as ``auth.password_changed``."""
    user = _own(session, principal)
    if not verify_password(user.password_hash, current):
        raise AppError("当前密码错误", "The current password is wrong", status=422, code="wrong_password",
                       details={"field": "current_password"})
    if current == new:
        raise Invalid("新密码不能与当前密码相同", "The new password must differ from the current one",
                      code="same_password", details={"field": "new_password"})
    check_password_policy(new, user.username)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    session.flush()
    now = utcnow()
    repository.revoke_user_tokens(session, user.id, now, keep=token_id)
    pending = pending_step(user)
    repository.set_token_scope(session, token_id, pending)
    record(session, "auth.password_changed", "users", user.id, division_code=user.division_code,
           after={"username": user.username})
    return pending


def _totp_secret(user: User) -> str:
    assert user.totp_secret is not None
    return get_cipher().decrypt(user.totp_secret, TOTP_CONTEXT)


@dataclass(frozen=True)
class TotpEnrolment:
    """A new, not yet confirmed TOTP secret: shown this once."""

    secret: str
    uri: str
    qr_svg: str


def begin_totp_enrolment(session: Session, principal: Principal) -> TotpEnrolment:
    """A fresh secret for the caller's authenticator app (replacing an unconfirmed one); 409 when
    one is already confirmed (a security administrator resets it)."""
    user = _own(session, principal)
    if totp_enrolled(user):
        raise Conflict("已绑定动态验证码；如需更换，请联系安全管理员重置",
                       "An authenticator is already enrolled; ask the security administrator to reset it",
                       code="totp_already_enrolled")
    secret = totp.new_secret()
    user.totp_secret = get_cipher().encrypt(secret, TOTP_CONTEXT)
    user.totp_confirmed_at = None
    user.totp_last_step = None
    session.flush()
    uri = totp.provisioning_uri(secret, user.username)
    return TotpEnrolment(secret=secret, uri=uri, qr_svg=totp.qr_svg_data_uri(uri))


def confirm_totp(session: Session, principal: Principal, token_id: str, code: str) -> str | None:
    """Prove the authenticator with one code; from then on every login needs a code. Returns the
    step the session is still limited to. Recorded as ``auth.totp_enrolled``."""
    user = _own(session, principal)
    if user.totp_secret is None or totp_enrolled(user):
        raise Conflict("没有待确认的动态验证码绑定", "No authenticator enrolment is waiting for a code",
                       code="no_totp_enrolment")
    now = utcnow()
    step = totp.matching_step(_totp_secret(user), code, now)
    if step is None:
        raise AppError("动态验证码错误", "Wrong authenticator code", status=422, code="totp_invalid",
                       details={"field": "code"})
    user.totp_confirmed_at = now
    user.totp_last_step = step
    session.flush()
    pending = pending_step(user)
    repository.set_token_scope(session, token_id, pending)
    record(session, "auth.totp_enrolled", "users", user.id, division_code=user.division_code,
           after={"username": user.username})
    return pending


# ---------------------------------------------------------------- accounts


def create_user(session: Session, *, username: str, display_name: str, role: str, division_code: str,
                password: str, phone: str | None = None, by: Principal | None = None,
                password_hash: str | None = None, must_change_password: bool = False) -> User:
    """Create an account. ``by`` (the caller; None for the CLI) may only create users inside its own
    jurisdiction and with a role its own role may grant (三员分立). ``password_hash`` lets bulk
    seeding reuse one argon2 hash of the same password. ``must_change_password``: the password was
    chosen by someone else, so the first login may only change it."""
    try:
        jurisdiction_prefix(division_code)
    except ValueError as exc:
        raise Invalid("区划代码应为 12 位区划代码或 15 位网格代码",
                      "division_code must be a 12-digit division code or a 15-digit grid code",
                      details={"field": "division_code"}) from exc
    if by is not None and not by.governs(division_code):
        raise OutOfJurisdiction("只能在本辖区内创建账号",
                                "You can only create accounts inside your own jurisdiction")
    target_role = repository.get_role(session, role)
    if target_role is None:
        raise Invalid(f"角色不存在：{role}", f"Unknown role: {role}", details={"field": "role"})
    if by is not None:
        check_grant(by, target_role)
    if repository.username_taken(session, username):
        raise Conflict(f"用户名已存在：{username}", f"Username already taken: {username}",
                       code="username_taken")
    if password_hash is None:
        check_password_policy(password, username)
        password_hash = hash_password(password)
    user = User(username=username, display_name=display_name, role_code=role, division_code=division_code,
                password_hash=password_hash, created_at=utcnow(), must_change_password=must_change_password)
    if phone:
        _set_phone(user, phone)
    session.add(user)
    session.flush()
    return user


def admins_exist(session: Session) -> bool:
    """Whether any of the three administrator roles has an account (the install ran)."""
    return repository.count_users_with_roles(session, ADMIN_ROLES) > 0


def init_admins(session: Session, *, division_code: str, accounts: list[tuple[str, str, str]]) -> list[User]:
    """Create the three administrators (role, username, password) at install, once: refused when
    any exists. Their passwords were typed by the installer, so each changes it at first login."""
    if admins_exist(session):
        raise Conflict("三员账号已初始化", "The administrators already exist", code="admins_exist")
    if sorted(role for role, _, _ in accounts) != sorted(ADMIN_ROLES):
        raise Invalid("须同时创建系统、安全、审计管理员",
                      "Create the system, security and audit administrators together")
    users = [create_user(session, username=name, display_name=_ADMIN_NAMES[role], role=role,
                         division_code=division_code, password=password, must_change_password=True)
             for role, name, password in accounts]
    record(session, "admins.init", "users", None, division_code=division_code,
           after={role: name for role, name, _ in accounts})
    return users


_ADMIN_NAMES = {"sysadmin": "系统管理员", "secadmin": "安全管理员", "auditadmin": "审计管理员"}


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


def locked_names(session: Session, users: list[User]) -> set[str]:
    """Which of these accounts are locked after failed logins, at some address, now."""
    return repository.locked_names(session, [u.username for u in users], utcnow())


# ---------------------------------------------------------------- 三员分立: who may grant what


def check_grant(by: Principal, role: Role, *, target: User | None = None) -> None:
    """Raise :class:`NotGrantable` unless ``by`` may give ``role`` (to ``target``).

    The role's ``granted_by`` (roles.json) must name the caller's role; whatever the data says,
    the system administrator never gives a role that holds a reveal, audit or role-administration
    permission *now* (the role's rows may have been edited since), and nobody grants to themselves.
    """
    if target is not None and target.id == by.user_id:
        raise NotGrantable("不能给自己授予角色", "You cannot grant a role to yourself")
    allowed = by.role in grantors(role.code)
    if by.role == SYSADMIN and any(is_sensitive(p) for p in role.permission_set):
        allowed = False
    if not allowed:
        raise NotGrantable(f"无权授予角色：{role.name_zh}（三员分立）",
                           f"You may not grant the role {role.name_en} (separation of duties)",
                           details={"role": role.code})


def set_role(session: Session, principal: Principal, user_id: str, role_code: str) -> User:
    """Give an account another role. The caller must be able to grant both the role it has and
    the new one; the account's sessions end (its permissions, and whether it needs a second
    factor, change)."""
    user = get_user(session, principal, user_id)
    role = repository.get_role(session, role_code)
    if role is None:
        raise Invalid(f"角色不存在：{role_code}", f"Unknown role: {role_code}", details={"field": "role"})
    check_grant(principal, user.role, target=user)
    check_grant(principal, role, target=user)
    before = user.role_code
    user.role_code = role.code
    session.flush()
    session.refresh(user, ["role"])
    repository.revoke_user_tokens(session, user.id, utcnow())
    record(session, "users.role_assigned", "users", user.id, division_code=user.division_code,
           after={"username": user.username, "from": before, "to": role.code})
    return user


def reset_totp(session: Session, principal: Principal, user_id: str) -> User:
    """Forget an account's authenticator (a lost phone): its sessions end and its next login
    enrols a new one. Only for accounts whose role the caller may grant, never one's own."""
    user = get_user(session, principal, user_id)
    check_grant(principal, user.role, target=user)
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    session.flush()
    repository.revoke_user_tokens(session, user.id, utcnow())
    record(session, "auth.totp_reset", "users", user.id, division_code=user.division_code,
           after={"username": user.username})
    return user


def set_active(session: Session, principal: Principal, user_id: str, active: bool) -> User:
    """Lock (``active=False``: sessions end, logins refused) or unlock an account; unlocking also
    lifts locks left by failed logins. Only accounts whose role the caller may grant."""
    user = get_user(session, principal, user_id)
    check_grant(principal, user.role, target=user)
    user.is_active = active
    session.flush()
    now = utcnow()
    if active:
        repository.clear_locks(session, user.username)
    else:
        repository.revoke_user_tokens(session, user.id, now)
    record(session, "users.unlocked" if active else "users.locked", "users", user.id,
           division_code=user.division_code, after={"username": user.username})
    return user


def role_name(role: Role, lang: str | None = None) -> str:
    return pick(role.name_zh, role.name_en, lang)


def actor_labels(session: Session, user_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """User id → (display name, org unit name) for the people named on a timeline the caller
    already sees (issue 11: "零陵区委政法委 蒋华", not a login name)."""
    return {uid: (name, unit) for uid, name, unit in repository.actor_names(session, user_ids)}


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


def set_role_permissions(session: Session, principal: Principal, code: str, permissions: set[str]) -> Role:
    """Replace the permissions a role grants (the security administrator's, 8.1.5.3). The three
    administrator roles are fixed; a role the system administrator may grant cannot be given a
    reveal or audit permission (grant it through a role only the security administrator grants).
    Holders' sessions end when the role gains ``pii.reveal`` (they need a second factor now).
    Row changes land in the audit chain; ``roles.permissions_set`` names the whole change.
    Note: ``civicgrid roles sync`` (and ``db upgrade``) bring shipped roles back to roles.json."""
    role = repository.get_role(session, code)
    if role is None:
        raise NotFound("角色", "role")
    known = {p.code for p in load_permissions()}
    unknown = permissions - known
    if unknown:
        raise Invalid(f"未知的权限：{', '.join(sorted(unknown))}", f"Unknown permissions: {', '.join(sorted(unknown))}",
                      details={"field": "permissions"})
    if role.code in ADMIN_ROLES:
        raise Conflict("三员角色的权限固定，不能修改", "The three administrator roles are fixed",
                       code="fixed_role")
    if SYSADMIN in grantors(role.code) and any(is_sensitive(p) for p in permissions):
        raise Conflict("系统管理员可授予的角色不能含有查看明文或审计权限（三员分立）",
                       "A role the system administrator may grant cannot reveal personal data or read the audit log",
                       code="separation_of_duties")
    have = {p.permission: p for p in role.permissions}
    before = sorted(have)
    for perm in sorted(permissions - have.keys()):
        role.permissions.append(RolePermission(permission=perm))
    for perm in sorted(have.keys() - permissions):
        role.permissions.remove(have[perm])
    session.flush()
    if REVEAL in permissions and REVEAL not in have:
        repository.revoke_role_tokens(session, role.code, utcnow())
    record(session, "roles.permissions_set", "roles", role.code,
           after={"before": before, "after": sorted(permissions)})
    return role


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


def masked_phone(user: User) -> str | None:
    """The account's phone number masked (138****5678), for a channel that must name it in a log."""
    return mask_phone(user.phone) if user.phone else None
