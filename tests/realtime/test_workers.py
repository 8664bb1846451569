"""``civicgrid serve --workers 2`` on a SQLite file: every WebSocket client hears what any
process publishes, whichever worker process it is connected to.

A real server with two worker processes on a throw-away SQLite file (the socket backend is the
SQLite one, so this runs in both passes of the suite); the message is published by a third
process, this one, exactly as a timer handler or another worker would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from tests.conftest import free_port
from tests.factories import login, make_user_committed
from websockets.sync.client import connect

from civicgrid.db import make_engine, transaction
from civicgrid.migrate import upgrade
from civicgrid.realtime.backends import SocketBackend
from civicgrid.realtime.hub import Hub

COUNTY = "431102000000"


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    database = tmp_path / "workers.sqlite3"
    url = f"sqlite:///{database}"
    upgrade(url)
    port = free_port()
    env = {**os.environ, "CIVICGRID_DATABASE_URL": url, "CIVICGRID_RUN_TIMER_WORKER": "false",
           "CIVICGRID_REALTIME_BACKEND": "auto"}
    server = subprocess.Popen([sys.executable, "-m", "civicgrid.cli", "serve", "--port", str(port),
                               "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else "server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield base, database
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_every_worker_delivers_what_another_process_publishes(two_workers: tuple[str, Path]) -> None:
    base, database = two_workers
    engine = make_engine(f"sqlite:///{database}")
    user = make_user_committed(engine, role="county_commander", division_code=COUNTY)
    token = login(base, user.username)
    backend = SocketBackend.for_database(str(database))
    deadline = time.monotonic() + 30
    while len(list(backend.folder.glob("*.sock"))) < 2:  # each worker binds its socket at startup
        assert time.monotonic() < deadline, "the workers did not bind their sockets"
        time.sleep(0.1)

    with ExitStack() as stack:
        clients = [stack.enter_context(connect(f"{base.replace('http', 'ws')}/api/v1/ws?token={token}",
                                               open_timeout=10)) for _ in range(8)]
        for ws in clients:
            assert json.loads(ws.recv(timeout=15))["type"] == "ready"
            ws.send(json.dumps({"action": "subscribe", "channel": "division:431102"}))
            assert json.loads(ws.recv(timeout=15)) == {"type": "subscribed", "channel": "division:431102"}
        with transaction(engine) as session:
            Hub(backend).publish(session, channel="entity:matter:m1", event="matter.reported",
                                 data={"id": "m1"}, division_code="431102001001")
        for ws in clients:
            while (got := json.loads(ws.recv(timeout=15)))["type"] == "ping":
                pass
            assert (got["event"], got["data"], got["channel"]) == ("matter.reported", {"id": "m1"},
                                                                   "division:431102")
    engine.dispose()
