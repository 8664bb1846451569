"""WebSocket ``/api/v1/ws``: subscribe to channels, receive committed messages in jurisdiction.

Client → server (JSON text frames)::

    {"action": "auth", "token": "..."}            the first frame (never ?token=: access logs)
    {"action": "subscribe", "channel": "division:431102"}
    {"action": "unsubscribe", "channel": "division:431102"}
    {"action": "ping"}
    {"action": "<registered>", ...}              a frame a domain registered (register_frame):
                                                  e.g. "position" (rapid response: unit positions)

Server → client::

    {"type": "ready", "user_id", "jurisdiction"}
    {"type": "subscribed" | "unsubscribed", "channel"}
    {"type": "event", "channel", "origin", "event", "data", "division_code", "at"}
    {"type": "ping", "at"}  (when idle)   {"type": "pong", "at"}
    {"type": "error", "code", "message", ...}

Close codes: 4401 not authenticated (also for a token in the address, and when the token is
revoked or times out while the socket is open; it is re-checked every minute), 4403 no
``realtime.subscribe`` permission, 1013 the client could not keep up with its messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from civicgrid.authz.principal import Principal
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, Invalid, NotAuthenticated
from civicgrid.realtime.auth import CLOSE_NOT_AUTHENTICATED, principal_for, socket_language, socket_require
from civicgrid.realtime.hub import Hub, Subscription, get_hub

router = APIRouter(tags=["realtime"])

PING_SECONDS = 25.0
REVALIDATE_SECONDS = 60.0
CLOSE_TOO_SLOW = 1013

FrameHandler = Callable[[WebSocket, Principal, dict[str, Any]], Awaitable[dict[str, Any] | None]]
_frame_handlers: dict[str, FrameHandler] = {}


def register_frame(action: str, handler: FrameHandler) -> None:
    """Let a domain take client → server frames of one ``action`` (a unit's positions, say) on the
    one authenticated socket: ``await handler(websocket, principal, frame)`` runs on the event loop
    (it must not block: hand database work to a thread or, better, do none) and may return a frame
    to send back. An ``AppError`` it raises goes back as an ``error`` frame; the socket stays open."""
    if action in ("auth", "subscribe", "unsubscribe", "ping"):
        raise ValueError(f"frame action {action!r} is the hub's own")
    _frame_handlers[action] = handler


@router.websocket("/api/v1/ws")
async def realtime_socket(websocket: WebSocket,
                          principal: Principal = Depends(socket_require("realtime.subscribe"))) -> None:
    """Push committed messages on the channels the client subscribes to, within its jurisdiction."""
    await Connection(websocket, principal, get_hub()).run()


class Connection:
    """One authenticated socket: a reader for client frames and a writer that drains the
    subscription's queue (the only task that sends, so frames never interleave)."""

    def __init__(self, websocket: WebSocket, principal: Principal, hub: Hub) -> None:
        self.websocket = websocket
        self.principal = principal
        self.hub = hub
        self.lang = socket_language(websocket)
        self.close_code: int | None = None
        self._revoked = NotAuthenticated()

    async def run(self) -> None:
        sub = self.hub.attach(self.principal)
        try:
            sub.push({"type": "ready", "user_id": self.principal.user_id,
                      "jurisdiction": self.principal.jurisdiction})
            tasks = {asyncio.create_task(self._read(sub)), asyncio.create_task(self._write(sub))}
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in done:
                # A send to a client that has gone raises; that just ends the connection.
                if not task.cancelled() and task.exception() is not None:
                    self.close_code = None
        finally:
            self.hub.detach(sub)
        if self.close_code is not None and self.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.websocket.close(code=self.close_code)

    def _error(self, sub: Subscription, error: AppError, **extra: Any) -> None:
        sub.push({"type": "error", **error.body(self.lang)["error"], **extra})

    async def _read(self, sub: Subscription) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                frame = json.loads(message.get("text") or message.get("bytes") or b"")
                action = frame.get("action") if isinstance(frame, dict) else None
            except ValueError:
                action = frame = None
            if action in ("subscribe", "unsubscribe"):
                channel = frame.get("channel")
                try:
                    if action == "subscribe":
                        self.hub.subscribe(sub, channel)
                        sub.push({"type": "subscribed", "channel": channel})
                    else:
                        self.hub.unsubscribe(sub, channel)
                        sub.push({"type": "unsubscribed", "channel": channel})
                except AppError as exc:
                    self._error(sub, exc, channel=channel)
            elif action == "ping":
                sub.push({"type": "pong", "at": utcnow().isoformat()})
            elif isinstance(action, str) and action in _frame_handlers and isinstance(frame, dict):
                try:
                    reply = await _frame_handlers[action](self.websocket, self.principal, frame)
                except AppError as exc:
                    self._error(sub, exc, action=action)
                else:
                    if reply is not None:
                        sub.push(reply)
            elif action == "auth":
                self._error(sub, Invalid("已经登录", "Already authenticated", code="already_authenticated"))
            else:
                self._error(sub, Invalid(
                    "无法识别的消息（action 应为 subscribe、unsubscribe 或 ping）",
                    "Unrecognised message (action must be subscribe, unsubscribe or ping)",
                    code="invalid_message"))

    async def _write(self, sub: Subscription) -> None:
        """Send the queued frames in order. The token's minute check runs beside the writer, not
        in front of the next frame: it is a database round trip through the thread pool, and an
        order pushed meanwhile must not wait behind it (nor behind other sockets' checks when the
        pool is busy)."""
        checked = time.monotonic()
        check: asyncio.Task[bool] | None = None
        try:
            while True:
                try:
                    frame = await asyncio.wait_for(sub.queue.get(), timeout=PING_SECONDS)
                except TimeoutError:
                    frame = {"type": "ping", "at": utcnow().isoformat()}
                if sub.overflowed:
                    self.close_code = CLOSE_TOO_SLOW
                    return
                if check is not None and check.done():
                    if not check.result():
                        await self._not_authenticated()
                        return
                    check = None
                await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))
                if check is None and time.monotonic() - checked >= REVALIDATE_SECONDS:
                    checked = time.monotonic()
                    check = asyncio.create_task(self._token_still_valid(sub))
                    check.add_done_callback(lambda done: self._on_checked(sub, done))
        finally:
            if check is not None and not check.done():
                check.cancel()

    def _on_checked(self, sub: Subscription, done: asyncio.Task[bool]) -> None:
        """A failed check wakes the writer (a ping-shaped nudge) so it closes the socket now."""
        if not done.cancelled() and done.exception() is None and not done.result():
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait({"type": "ping", "at": utcnow().isoformat()})

    async def _not_authenticated(self) -> None:
        self.close_code = CLOSE_NOT_AUTHENTICATED
        await self.websocket.send_text(json.dumps({"type": "error", **self._revoked.body(self.lang)["error"]},
                                                  ensure_ascii=False))

    async def _token_still_valid(self, sub: Subscription) -> bool:
        """A logout, an idle timeout or a disabled account ends the socket too."""
        try:
            await run_in_threadpool(principal_for, self.websocket, self.websocket.state.token)
        except NotAuthenticated as exc:
            self._revoked = exc
            return False
        return True
