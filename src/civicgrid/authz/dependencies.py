"""Permission dependencies (DESIGN.md rule 5): the one way an endpoint declares who may call it.

    principal: Principal = Depends(require("geo.read"))

No, invalid, expired or revoked bearer token → 401; a role without the permission → 403. The
dependency puts the Principal on ``request.state.principal`` and attributes the request's
writes to the user in the audit chain. Each dependency carries ``.permission`` so a test can
walk ``app.routes`` and check that every endpoint declares exactly one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from civicgrid.audit.service import Actor, set_actor
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession, WriteTurnBusy, transaction
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, NotAuthenticated, PermissionDenied

# What a limited session is told by every endpoint but the few that finish its step.
PENDING_MESSAGES = {
    "password_change": ("首次登录或密码已被重置，请先修改密码", "Change your password first (first login or reset)"),
    "totp_enrolment": ("此账号须启用动态验证码（双因素认证），请先完成绑定",
                       "This account needs a second factor: enrol an authenticator (TOTP) first"),
}

log = logging.getLogger(__name__)


class Authenticator(Protocol):
    """What the accounts module provides: the principal behind a raw bearer token, and the
    token's last-seen bookkeeping. ``people.service`` implements it; the app factory installs it."""

    def authenticate(self, source: Session | Engine, raw_token: str) -> tuple[Principal, Any]: ...

    def needs_touch(self, token: Any, now: datetime | None = None) -> bool: ...

    def touch_token(self, session: Session, token_id: str) -> None: ...


_authenticator: Authenticator | None = None


def install_authenticator(authenticator: Authenticator) -> None:
    """Plug in the token check (the app factory does, with ``people.service``)."""
    global _authenticator
    _authenticator = authenticator


def authenticator() -> Authenticator:
    if _authenticator is None:
        raise RuntimeError("no authenticator installed: build the app with civicgrid.main.create_app")
    return _authenticator


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class Require:
    """A FastAPI dependency that authenticates the caller and checks one permission
    (``""``: any logged-in user). A session limited to a pending step (changing a password
    someone else chose, enrolling a second factor) gets 403 everywhere but where
    ``allow_pending`` is set."""

    def __init__(self, permission: str, *, allow_pending: bool = False) -> None:
        self.permission = permission
        self.allow_pending = allow_pending

    def __repr__(self) -> str:
        return f"require({self.permission!r})"

    async def __call__(self, request: Request, session: DbSession) -> Principal:
        raw = bearer_token(request)
        if raw is None:
            raise NotAuthenticated()
        # The token check reads the database, so it runs in the thread pool (architecture rule
        # 1): on the event loop a check that waited for a pooled connection froze every other
        # request, the WebSockets and the timer loop with it (bench/loop.py).
        if session.info.get("write"):
            return await run_in_threadpool(self._check, request, session, raw)
        return await run_in_threadpool(self._check_read, request, session, raw)

    def _check_read(self, request: Request, session: Session, raw: str) -> Principal:
        """A read request's check: the statement runs alone on a pooled connection, so a request
        that reads nothing else never begins its session's transaction; the last-seen write gets
        a short transaction of its own (the read transaction stays a read)."""
        principal, token = self._authenticate(request, session, raw, request.app.state.engine)
        if authenticator().needs_touch(token, utcnow()):
            _touch_alone(request.app.state.engine, token.id)
        return self._permitted(principal)

    def _check(self, request: Request, session: Session, raw: str) -> Principal:
        principal, token = self._authenticate(request, session, raw)
        if authenticator().needs_touch(token, utcnow()):
            authenticator().touch_token(session, token.id)
        return self._permitted(principal)

    @staticmethod
    def _authenticate(request: Request, session: Session, raw: str,
                      engine: Engine | None = None) -> tuple[Principal, Any]:
        principal, token = authenticator().authenticate(engine or session, raw)
        request.state.principal = principal
        request.state.auth_token_id = token.id
        set_actor(session, Actor(principal.username, principal.user_id))
        return principal, token

    def _permitted(self, principal: Principal) -> Principal:
        if principal.pending and not self.allow_pending:
            zh, en = PENDING_MESSAGES.get(principal.pending, PENDING_MESSAGES["password_change"])
            raise AppError(zh, en, status=403, code=f"{principal.pending}_required")
        if self.permission and not principal.can(self.permission):
            raise PermissionDenied(self.permission)
        return principal


def _touch_alone(engine: Engine, token_id: str) -> None:
    """The last-seen write of a read request. Skipped when the SQLite write turn is busy: the
    read still answers, and the next request touches the token."""
    try:
        with transaction(engine) as own:
            authenticator().touch_token(own, token_id)
    except WriteTurnBusy:
        log.warning("token last-seen not updated: the write turn is busy")


def require(permission: str) -> Require:
    """The dependency for endpoints that need ``permission`` (``<domain>.<action>``)."""
    if not permission:
        raise ValueError("use require_login for endpoints any logged-in user may call")
    return Require(permission)


require_login = Require("")
"""For endpoints any logged-in user may call (``.permission == ""``)."""

require_session = Require("", allow_pending=True)
"""For the few endpoints a limited session may call too (who am I, log out, change the password,
enrol the second factor)."""


def principal_for_token(session: Session, token: str) -> Principal:
    """The principal behind a raw token (the WebSocket endpoint authenticates with this)."""
    principal, _ = authenticator().authenticate(session, token)
    if principal.pending:
        # A session limited to changing its password or enrolling a second factor opens no socket.
        raise NotAuthenticated(*PENDING_MESSAGES.get(principal.pending, PENDING_MESSAGES["password_change"]))
    return principal
