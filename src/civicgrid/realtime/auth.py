"""Authenticating a WebSocket: the token comes only as the first message
(``{"action": "auth", "token": "..."}``). A token in the address (``?token=``) would land in
access logs and proxy logs (issue 9 §3.3): such a socket is refused (4401, code
``token_in_query``) before the token is even looked at.

A browser cannot see why a handshake was refused, so the socket is accepted first and then
closed with an application code the client can act on: 4401 (log in again) or 4403 (the role
lacks the permission). Both are recorded in the audit chain like denied HTTP requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import WebSocket, WebSocketException
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from civicgrid.audit.service import Actor, record, set_actor
from civicgrid.authz.dependencies import principal_for_token
from civicgrid.authz.principal import Principal
from civicgrid.db import transaction
from civicgrid.kit.errors import AppError, NotAuthenticated, PermissionDenied
from civicgrid.kit.i18n import negotiate

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
AUTH_TIMEOUT_SECONDS = 10.0
WS_PATH_LABEL = "WS /api/v1/ws"
TOKEN_IN_QUERY = AppError(
    "令牌不能放在地址中：请在连接后的第一条消息中发送 {\"action\": \"auth\", \"token\": …}",
    "The token must not travel in the address: send {\"action\": \"auth\", \"token\": …} as the first message",
    status=401, code="token_in_query")


def socket_language(websocket: WebSocket) -> str:
    return negotiate(websocket.query_params.get("lang") or websocket.headers.get("accept-language"))


def principal_for(websocket: WebSocket, token: str) -> Principal:
    """The principal behind ``token`` (:class:`NotAuthenticated` when it is not valid now)."""
    with transaction(websocket.app.state.engine, write=False) as session:
        return principal_for_token(session, token)


def _audit_denied(websocket: WebSocket, code: str, status: int, principal: Principal | None) -> None:
    client = websocket.client
    with transaction(websocket.app.state.engine, info={"ip": client.host if client else None}) as session:
        set_actor(session, Actor(principal.username, principal.user_id) if principal else Actor("anonymous"))
        record(session, "auth.denied", "request", WS_PATH_LABEL, after={"status": status, "code": code})


async def refuse(websocket: WebSocket, error: AppError, close_code: int,
                 principal: Principal | None = None) -> WebSocketException:
    """Tell the client why (in its language), audit the denial, and give the close to raise."""
    if websocket.application_state == WebSocketState.CONNECTED:
        body = error.body(socket_language(websocket))["error"]
        with contextlib.suppress(Exception):  # the client may already be gone
            await websocket.send_text(json.dumps({"type": "error", **body}, ensure_ascii=False))
    await run_in_threadpool(_audit_denied, websocket, error.code, error.status, principal)
    return WebSocketException(code=close_code, reason=error.code)


class SocketRequire:
    """The WebSocket counterpart of :func:`civicgrid.authz.dependencies.require`: accepts the socket,
    authenticates its token and checks one permission; carries ``.permission`` like the HTTP
    dependencies so the route walker sees what the socket requires."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def __repr__(self) -> str:
        return f"socket_require({self.permission!r})"

    async def __call__(self, websocket: WebSocket) -> Principal:
        await websocket.accept()
        if "token" in websocket.query_params:
            raise await refuse(websocket, TOKEN_IN_QUERY, CLOSE_NOT_AUTHENTICATED)
        token = await self._first_message_token(websocket)
        if not token:
            raise await refuse(websocket, NotAuthenticated(), CLOSE_NOT_AUTHENTICATED)
        try:
            principal = await run_in_threadpool(principal_for, websocket, token)
        except NotAuthenticated as exc:
            raise await refuse(websocket, exc, CLOSE_NOT_AUTHENTICATED) from None
        if self.permission and not principal.can(self.permission):
            raise await refuse(websocket, PermissionDenied(self.permission), CLOSE_FORBIDDEN, principal)
        websocket.state.principal = principal
        websocket.state.token = token
        return principal

    @staticmethod
    async def _first_message_token(websocket: WebSocket) -> str | None:
        try:
            message = await asyncio.wait_for(websocket.receive(), timeout=AUTH_TIMEOUT_SECONDS)
        except TimeoutError:
            return None
        if message.get("type") != "websocket.receive":
            raise WebSocketException(code=CLOSE_NOT_AUTHENTICATED)  # the client left
        try:
            body: Any = json.loads(message.get("text") or message.get("bytes") or b"")
        except ValueError:
            return None
        if isinstance(body, dict) and body.get("action") == "auth" and isinstance(body.get("token"), str):
            return str(body["token"])
        return None


def socket_require(permission: str) -> SocketRequire:
    """The dependency for a WebSocket route that needs ``permission``."""
    if not permission:
        raise ValueError("a WebSocket route must name the permission it needs")
    return SocketRequire(permission)
