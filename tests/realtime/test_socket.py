"""WebSocket /api/v1/ws over a real server: authentication (4401/4403), subscriptions, and
only committed, in-jurisdiction messages reaching the client.

The live server runs in this process, so the test publishes with the process hub inside its
own transactions — exactly what a request or a timer handler does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from tests.conftest import LiveServer
from tests.factories import auth_headers, login, make_user_committed
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from civicgrid.audit.models import AuditEntry
from civicgrid.db import transaction
from civicgrid.kit.ids import new_id
from civicgrid.realtime import endpoints as socket_endpoints
from civicgrid.realtime import hub

COUNTY = "431102000000"  # 零陵区
OTHER_COUNTY = "431103000000"  # 冷水滩区


@contextmanager
def open_socket(live_server: LiveServer, token: str | None = None, **headers: str) -> Iterator[ClientConnection]:
    """Connect and, given a token, authenticate with the first frame (the only way: issue 9 §3.3)."""
    with connect(f"{live_server.ws_url}/api/v1/ws", open_timeout=10, additional_headers=headers) as ws:
        if token:
            ws.send(json.dumps({"action": "auth", "token": token}))
        yield ws


def frame(ws: ClientConnection, timeout: float = 15.0) -> dict[str, Any]:
    return dict(json.loads(ws.recv(timeout=timeout)))


def next_event(ws: ClientConnection, timeout: float = 15.0) -> dict[str, Any]:
    """The next event frame (skipping keep-alive pings)."""
    while True:
        got = frame(ws, timeout)
        if got["type"] != "ping":
            return got


def close_code(ws: ClientConnection, timeout: float = 15.0) -> int | None:
    """Read until the server closes; the close code it sent."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=deadline - time.monotonic())
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    raise AssertionError("the server did not close the socket")


def subscribe(ws: ClientConnection, *channels: str) -> None:
    for channel in channels:
        ws.send(json.dumps({"action": "subscribe", "channel": channel}))
        assert frame(ws) == {"type": "subscribed", "channel": channel}


def publish(engine: Engine, *, event: str, division_code: str | None, channel: str = "division:4311",
            commit: bool = True, data: dict[str, Any] | None = None) -> None:
    class Rollback(Exception):
        pass

    try:
        with transaction(engine) as session:
            hub.publish(session, channel=channel, event=event, data=data or {"id": event},
                        division_code=division_code)
            if not commit:
                raise Rollback
    except Rollback:
        pass


@pytest.fixture(scope="module")
def county_user(engine: Engine, live_server: LiveServer) -> tuple[str, str]:
    user = make_user_committed(engine, role="county_commander", division_code=COUNTY)
    return user.id, login(live_server.url, user.username)


def test_a_client_receives_committed_messages_of_its_jurisdiction_only(
        live_server: LiveServer, engine: Engine, county_user: tuple[str, str]) -> None:
    user_id, token = county_user
    matter = new_id()
    with open_socket(live_server, token) as ws:
        ready = frame(ws)
        assert ready == {"type": "ready", "user_id": user_id, "jurisdiction": "431102"}
        subscribe(ws, "division:4311", f"entity:matter:{matter}", f"user:{user_id}")

        publish(engine, event="other-county", division_code="431103001001")
        publish(engine, event="other-county-entity", division_code="431103001001",
                channel=f"entity:matter:{matter}")
        publish(engine, event="rolled-back", division_code="431102001001", commit=False)
        publish(engine, event="in-county", division_code="431102001001", data={"id": "m1", "level": "red"})
        got = next_event(ws)
        assert got["type"] == "event"
        assert (got["event"], got["channel"], got["data"], got["division_code"]) == (
            "in-county", "division:4311", {"id": "m1", "level": "red"}, "431102001001")

        publish(engine, event="unplaced-elsewhere", division_code=None, channel=f"entity:matter:{new_id()}")
        publish(engine, event="unplaced-mine", division_code=None, channel=f"entity:matter:{matter}")
        publish(engine, event="for-me", division_code=None, channel=f"user:{user_id}")
        assert [(e["event"], e["channel"]) for e in (next_event(ws), next_event(ws))] == [
            ("unplaced-mine", f"entity:matter:{matter}"), ("for-me", f"user:{user_id}")]

        ws.send(json.dumps({"action": "unsubscribe", "channel": "division:4311"}))
        assert frame(ws) == {"type": "unsubscribed", "channel": "division:4311"}
        publish(engine, event="after-unsubscribe", division_code="431102001001")
        publish(engine, event="sentinel", division_code=None, channel=f"user:{user_id}")
        assert next_event(ws)["event"] == "sentinel"


def test_bad_channels_and_messages_get_an_error_frame(live_server: LiveServer,
                                                      county_user: tuple[str, str]) -> None:
    _, token = county_user
    with open_socket(live_server, token, **{"Accept-Language": "en"}) as ws:
        frame(ws)
        ws.send(json.dumps({"action": "subscribe", "channel": "user:somebody-else"}))
        error = frame(ws)
        assert (error["type"], error["code"]) == ("error", "channel_forbidden")
        assert error["message"] == "You may only subscribe to your own user channel"
        ws.send(json.dumps({"action": "subscribe", "channel": "county:431102"}))
        assert frame(ws)["code"] == "invalid_channel"
        ws.send("not json")
        assert frame(ws)["code"] == "invalid_message"
        ws.send(json.dumps({"action": "ping"}))
        assert frame(ws)["type"] == "pong"


def test_token_in_the_first_message(live_server: LiveServer, engine: Engine,
                                    county_user: tuple[str, str]) -> None:
    _, token = county_user
    with open_socket(live_server) as ws:
        ws.send(json.dumps({"action": "auth", "token": token}))
        assert frame(ws)["type"] == "ready"
        subscribe(ws, "division:431102")
        publish(engine, event="hello", division_code="431102")
        assert next_event(ws)["event"] == "hello"


@pytest.mark.parametrize("how", ["no-token", "bad-first-message", "not-an-auth-message"])
def test_unauthenticated_connections_are_closed_with_4401(live_server: LiveServer, engine: Engine,
                                                          how: str) -> None:
    with open_socket(live_server) as ws:
        if how == "bad-first-message":
            ws.send(json.dumps({"action": "auth", "token": "forged"}))
        elif how in ("no-token", "not-an-auth-message"):
            ws.send(json.dumps({"action": "subscribe", "channel": "division:4311"}))
        error = frame(ws)
        assert (error["type"], error["code"]) == ("error", "not_authenticated")
        assert close_code(ws) == 4401


def test_a_token_in_the_address_is_refused(live_server: LiveServer, county_user: tuple[str, str]) -> None:
    """Issue 9 §3.3: ``?token=`` put the bearer token into access logs; even a valid one is refused
    now, and the socket does not wait for a first frame."""
    _, token = county_user
    with connect(f"{live_server.ws_url}/api/v1/ws?token={token}", open_timeout=10) as ws:
        error = frame(ws, timeout=5)
        assert (error["type"], error["code"]) == ("error", "token_in_query")
        assert "第一条消息" in error["message"]
        assert close_code(ws, timeout=5) == 4401


def test_denials_are_audited(live_server: LiveServer, engine: Engine) -> None:
    with engine.connect() as conn:
        before = len(conn.execute(select(AuditEntry.seq).where(
            AuditEntry.action == "auth.denied", AuditEntry.entity_id == "WS /api/v1/ws")).all())
    with open_socket(live_server, "forged-token") as ws:
        assert close_code(ws) == 4401
    with engine.connect() as conn:
        after = len(conn.execute(select(AuditEntry.seq).where(
            AuditEntry.action == "auth.denied", AuditEntry.entity_id == "WS /api/v1/ws")).all())
    assert after == before + 1


def test_a_role_without_realtime_subscribe_is_closed_with_4403(live_server: LiveServer,
                                                               engine: Engine) -> None:
    auditor = make_user_committed(engine, role="auditor", division_code=COUNTY)
    token = login(live_server.url, auditor.username)
    with open_socket(live_server, token) as ws:
        error = frame(ws)
        assert (error["code"], error["permission"]) == ("permission_denied", "realtime.subscribe")
        assert close_code(ws) == 4403


def test_logging_out_closes_an_open_socket(live_server: LiveServer, engine: Engine,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket_endpoints, "PING_SECONDS", 0.2)
    monkeypatch.setattr(socket_endpoints, "REVALIDATE_SECONDS", 0.2)
    user = make_user_committed(engine, role="grid_worker", division_code="431103001001001")
    token = login(live_server.url, user.username)
    with open_socket(live_server, token) as ws:
        assert frame(ws)["type"] == "ready"
        assert frame(ws)["type"] == "ping"  # alive and idle
        response = httpx.post(f"{live_server.url}/api/v1/auth/logout", headers=auth_headers(token))
        assert response.status_code == 204
        assert close_code(ws) == 4401


def test_an_order_is_not_held_behind_the_sockets_token_check(live_server: LiveServer, engine: Engine,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The minute token check is a database round trip through the thread pool; while it is
    slow (a busy pool), frames keep flowing — a dispatch order must not wait behind it."""
    import threading

    entered, release = threading.Event(), threading.Event()
    real = socket_endpoints.principal_for

    def slow_check(websocket: Any, token: str) -> Any:
        entered.set()
        release.wait(30)
        return real(websocket, token)

    monkeypatch.setattr(socket_endpoints, "principal_for", slow_check)
    monkeypatch.setattr(socket_endpoints, "REVALIDATE_SECONDS", 0.0)  # a check after the first frame
    user = make_user_committed(engine, role="patrol_officer", division_code=COUNTY)
    token = login(live_server.url, user.username)
    try:
        with open_socket(live_server, token) as ws:
            assert frame(ws)["type"] == "ready"
            assert entered.wait(10)  # the check is under way, and stuck
            subscribe(ws, f"user:{user.id}")
            publish(engine, event="inbox.order", division_code=None, channel=f"user:{user.id}")
            got = next_event(ws, timeout=5)
            assert (got["event"], got["channel"]) == ("inbox.order", f"user:{user.id}")
            assert not release.is_set()
    finally:
        release.set()


def test_the_socket_route_declares_its_permission() -> None:
    """Like every HTTP endpoint, the socket names its permission on a dependency with
    ``.permission`` (the other tests here show it is served and enforced)."""
    from fastapi.routing import APIWebSocketRoute

    routes = [r for r in socket_endpoints.router.routes
              if isinstance(r, APIWebSocketRoute) and r.path == "/api/v1/ws"]
    assert len(routes) == 1
    permissions = [getattr(dep.call, "permission", None) for dep in routes[0].dependant.dependencies]
    assert permissions == ["realtime.subscribe"]


def test_the_backend_follows_the_database(engine: Engine, live_server: LiveServer) -> None:
    """PostgreSQL deployments go through LISTEN/NOTIFY, a SQLite file through sockets beside it
    (so the tests above ran through them)."""
    expected = "postgres" if engine.dialect.name == "postgresql" else "socket"
    assert hub.get_hub().backend.name == expected
