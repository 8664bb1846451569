"""Test factories (no fixture files): users with a role and a jurisdiction, logins over HTTP,
and the out-of-jurisdiction check every domain runs against its own rows.

    user = create_user(db, role="grid_worker", division_code="431102001001001")
    user = make_user_committed(engine, role="county_plc_staff", division_code="431102000000")
    token = login(live_server.url, user.username)   # sends the TOTP code where one is needed
    httpx.get(url, headers=auth_headers(token))
    assert_out_of_scope_404(live_server.url, token, f"/api/v1/grids/{other_county_grid}")
"""

from __future__ import annotations

import itertools
import time
import uuid
from functools import lru_cache
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from civicgrid.db import transaction
from civicgrid.kit.clock import utcnow
from civicgrid.kit.pii import get_cipher
from civicgrid.people import service, totp
from civicgrid.people.models import Role, RolePermission, User

DEFAULT_PASSWORD = "Test#Pass2026"
_counter = itertools.count(1)
# The authenticator of every factory user that needs a second factor (the three administrators,
# holders of pii.reveal): username → TOTP secret, and the last step a login used (a code counts once).
TOTP_SECRETS: dict[str, str] = {}
_last_step: dict[str, int] = {}


@lru_cache(maxsize=8)
def _hash(password: str) -> str:
    # argon2 costs ~0.1 s a hash: compute it once per password; every user still gets a real hash.
    return service.hash_password(password)


def _username(role: str) -> str:
    return f"{role[:20]}_{next(_counter)}_{uuid.uuid4().hex[:6]}"


def create_user(session: Session, *, role: str, division_code: str, username: str | None = None,
                password: str = DEFAULT_PASSWORD, display_name: str | None = None,
                phone: str | None = None, must_change_password: bool = False,
                enrol_totp: bool | None = None) -> User:
    """A user in the caller's session (flushed, not committed). A role that needs a second factor
    gets an enrolled authenticator (``enrol_totp=None``), whose secret :func:`login` uses."""
    service.check_password_policy(password, username)
    name = username or _username(role)
    user = service.create_user(session, username=name, display_name=display_name or name, role=role,
                               division_code=division_code, password=password, phone=phone,
                               password_hash=_hash(password), must_change_password=must_change_password)
    if enrol_totp is None:
        enrol_totp = service.needs_second_factor(user.role_code, user.role.permission_set)
    if enrol_totp:
        secret = totp.new_secret()
        user.totp_secret = get_cipher().encrypt(secret, service.TOTP_CONTEXT)
        user.totp_confirmed_at = utcnow()
        session.flush()
        TOTP_SECRETS[name] = secret
    return user


def totp_code(username: str) -> str:
    """A code the server has not seen yet for this factory user: the current step or the next
    (the server accepts one step either side of its own clock, which may have moved on while a
    loaded machine hashed the password; never the step before). Waits for the next step when a
    test used both."""
    secret = TOTP_SECRETS[username]
    while True:
        now = totp.step_of(utcnow())
        for step in (now, now + 1):
            if step > _last_step.get(username, -1):
                _last_step[username] = step
                return totp.code_for_step(secret, step)
        time.sleep(1)


def make_user_committed(engine: Engine, *, role: str, division_code: str, username: str | None = None,
                        password: str = DEFAULT_PASSWORD, display_name: str | None = None,
                        phone: str | None = None, must_change_password: bool = False,
                        enrol_totp: bool | None = None) -> User:
    """A user committed in its own transaction (for live-server tests)."""
    with transaction(engine) as session:
        return create_user(session, role=role, division_code=division_code, username=username,
                           password=password, display_name=display_name, phone=phone,
                           must_change_password=must_change_password, enrol_totp=enrol_totp)


def create_role(session: Session, *, permissions: frozenset[str] | set[str] = frozenset(),
                code: str | None = None) -> Role:
    """A custom role (e.g. one with no permissions, for 403 checks)."""
    role = Role(code=code or f"test_{uuid.uuid4().hex[:10]}", name_zh="测试角色", name_en="Test role",
                description="created by a test")
    role.permissions = [RolePermission(permission=p) for p in sorted(permissions)]
    session.add(role)
    session.flush()
    return role


def make_role_committed(engine: Engine, *, permissions: frozenset[str] | set[str] = frozenset(),
                        code: str | None = None) -> Role:
    with transaction(engine) as session:
        return create_role(session, permissions=permissions, code=code)


def login(base_url: str, username: str, password: str = DEFAULT_PASSWORD) -> str:
    """The bearer token from POST /api/v1/auth/login, with the TOTP code of a factory user that has
    an authenticator (fails the test on any other answer)."""
    body = {"username": username, "password": password}
    if username in TOTP_SECRETS:
        body["code"] = totp_code(username)
    response = httpx.post(f"{base_url}/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_out_of_scope_404(base_url: str, token: str, path: str, method: str = "GET",
                            json: object | None = None) -> None:
    """A row outside the caller's jurisdiction answers 404 — the same body as a row that does not
    exist, so nothing leaks. Call it with a path naming a real row of another jurisdiction."""
    response = httpx.request(method, f"{base_url}{path}", headers=auth_headers(token), json=json, timeout=30)
    assert response.status_code == 404, (
        f"{method} {path}: expected 404, got {response.status_code} {response.text}")
    assert response.json()["error"]["code"] == "not_found", response.text


def make_org_unit_committed(engine: Engine, *, division_code: str, type_code: str = "police_station",
                            name: str | None = None, area: list[str] | None = None) -> str:
    """An org unit (optionally with a responsibility area of these grids), committed; its id.
    The out-of-scope walk makes ``{unit_id}`` rows with it."""
    from civicgrid.people.orgs import service as orgs

    with transaction(engine) as session:
        unit = orgs.create_unit(session, None, name=name or f"测试机构 {uuid.uuid4().hex[:6]}", type_code=type_code,
                                division_code=division_code)
        if area:
            orgs.set_area(session, None, unit.id, grids=area)
        return unit.id


# ---------------------------------------------------------------- the audit chains

def audit_mark(session: Session) -> dict[str, int]:
    """Each audit chain's last sequence number now (a chain per county plus the city's)."""
    from sqlalchemy import func, select

    from civicgrid.audit.models import AuditEntry

    return {str(chain): int(seq) for chain, seq in session.execute(
        select(AuditEntry.chain, func.max(AuditEntry.seq)).group_by(AuditEntry.chain)).all()}


def audit_since(session: Session, mark: dict[str, int]) -> list[Any]:
    """The audit entries appended to any chain after ``mark`` (:func:`audit_mark`), oldest first."""
    from sqlalchemy import and_, or_, select

    from civicgrid.audit.models import AuditEntry

    newer = [and_(AuditEntry.chain == chain, AuditEntry.seq > seq) for chain, seq in mark.items()]
    query = select(AuditEntry).where(or_(*newer, AuditEntry.chain.not_in(list(mark) or [""])))
    return list(session.scalars(query.order_by(AuditEntry.at, AuditEntry.chain, AuditEntry.seq)))
