"""Nothing blocks the event loop (architecture rule 1), over real HTTP and WebSocket.

With every pooled database connection held, a read request's token check waits for a
connection. On the event loop that wait froze the whole process (measured: 4.5 s with the pool
busy); in the thread pool it freezes only that request. The liveness probe and a WebSocket
ping/pong answer meanwhile, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from websockets.sync.client import connect

from civicgrid.kit.statements import DriverStatement
from tests.conftest import LiveServer
from tests.factories import auth_headers, login, make_user_committed

COUNTY = "431102000000"  # 零陵区
HOLD_SECONDS = 5.0
ANSWER_WITHIN = 0.5


@contextmanager
def every_pooled_connection_held(engine: Engine, seconds: float) -> Iterator[None]:
    """Check out every connection the engine's pool will give (its size plus its overflow),
    each from a thread of its own, and keep them for ``seconds``; the block runs meanwhile."""
    pool: Any = engine.pool
    capacity = pool.size() + pool._max_overflow
    taken = threading.Barrier(capacity + 1)
    release = threading.Event()

    def hold() -> None:
        raw = engine.raw_connection()
        try:
            taken.wait(timeout=30)
            release.wait(seconds)
        finally:
            raw.close()

    threads = [threading.Thread(target=hold, daemon=True) for _ in range(capacity)]
    for thread in threads:
        thread.start()
    taken.wait(timeout=30)
    assert pool.checkedout() >= capacity
    try:
        yield
    finally:
        for thread in threads:  # each lets go ``seconds`` after it took its connection
            thread.join(timeout=seconds + 10)


def test_liveness_and_websocket_ping_answer_while_the_pool_is_exhausted(live_server: LiveServer,
                                                                       engine: Engine) -> None:
    user = make_user_committed(engine, role="county_commander", division_code=COUNTY)
    token = login(live_server.url, user.username)
    with connect(f"{live_server.ws_url}/api/v1/ws", open_timeout=10) as ws, \
            httpx.Client(base_url=live_server.url, timeout=30) as client:
        ws.send(json.dumps({"action": "auth", "token": token}))  # the socket authenticates in its first frame
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        stuck: dict[str, Any] = {}

        def read_with_token() -> None:  # waits for a pooled connection for its token check
            started = time.monotonic()
            stuck["status"] = httpx.get(f"{live_server.url}/api/v1/auth/me", headers=auth_headers(token),
                                        timeout=60).status_code
            stuck["seconds"] = time.monotonic() - started

        with every_pooled_connection_held(engine, HOLD_SECONDS):
            reader = threading.Thread(target=read_with_token)
            reader.start()
            time.sleep(0.3)  # the read request is in its token check, waiting for a connection
            assert "status" not in stuck

            started = time.monotonic()
            live = client.get("/api/v1/health/live")
            live_seconds = time.monotonic() - started

            started = time.monotonic()
            ws.send(json.dumps({"action": "ping"}))
            pong = json.loads(ws.recv(timeout=HOLD_SECONDS))
            pong_seconds = time.monotonic() - started
        reader.join(timeout=60)

    assert live.status_code == 200 and live.json()["status"] == "live"
    assert live_seconds < ANSWER_WITHIN, f"/health/live took {live_seconds:.2f} s with the pool held"
    assert pong["type"] == "pong"
    assert pong_seconds < ANSWER_WITHIN, f"WebSocket pong took {pong_seconds:.2f} s with the pool held"
    # The stuck request got its connection once the pool was released, and answered.
    assert stuck["status"] == 200
    assert stuck["seconds"] > HOLD_SECONDS - 1.0


def test_liveness_is_public_and_touches_no_database(live_server: LiveServer) -> None:
    answer = httpx.get(f"{live_server.url}/api/v1/health/live")
    assert answer.status_code == 200
    assert answer.json()["status"] == "live"


def test_a_driver_query_refuses_to_run_on_the_event_loop(engine: Engine) -> None:
    """The guard that keeps the token check (and any later caller) off the loop."""
    import asyncio

    from sqlalchemy import literal, select

    one = DriverStatement(lambda _dialect: select(literal(1)))
    assert one.query(engine, {}) == [(1,)]  # from a thread: fine

    async def on_the_loop() -> None:
        with pytest.raises(RuntimeError, match="event loop"):
            one.query(engine, {})
        assert await asyncio.to_thread(one.query, engine, {}) == [(1,)]

    asyncio.run(on_the_loop())
