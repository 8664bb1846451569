"""``civicgrid serve --workers 2`` on a SQLite file: every WebSocket client hears what any
process publishes, whichever worker process it is connected to; and a burst of connections is
spread over the workers (each listens on the port with ``SO_REUSEPORT``).

A real server with two worker processes on a throw-away SQLite file (the socket backend is the
SQLite one, so this runs in both passes of the suite); the message is published by a third
process, this one, exactly as a timer handler or another worker would.
"""

from __future__ import annotations

import json
import os
import socket
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
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path, int]]:
    database = tmp_path / "workers.sqlite3"
    url = f"sqlite:///{database}"
    upgrade(url)
    port = free_port()
    env = {**os.environ, "CIVICGRID_DATABASE_URL": url, "CIVICGRID_RUN_TIMER_WORKER": "false",
           "CIVICGRID_REALTIME_BACKEND": "auto", "CIVICGRID_ENV": "development"}
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
        yield base, database, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_every_worker_delivers_what_another_process_publishes(two_workers: tuple[str, Path, int]) -> None:
    base, database, _ = two_workers
    engine = make_engine(f"sqlite:///{database}")
    user = make_user_committed(engine, role="county_commander", division_code=COUNTY)
    token = login(base, user.username)
    backend = SocketBackend.for_database(str(database))
    deadline = time.monotonic() + 30
    while len(list(backend.folder.glob("*.sock"))) < 2:  # each worker binds its socket at startup
        assert time.monotonic() < deadline, "the workers did not bind their sockets"
        time.sleep(0.1)

    with ExitStack() as stack:
        clients = [stack.enter_context(connect(f"{base.replace('http', 'ws')}/api/v1/ws", open_timeout=10))
                   for _ in range(8)]
        for ws in clients:
            ws.send(json.dumps({"action": "auth", "token": token}))
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


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _server_side_inode(client_port: int, server_port: int) -> str:
    """The inode of the server's end of the TCP connection from ``client_port`` (/proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, remote_port = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
        if (local_port, remote_port) == (server_port, client_port):
            return fields[9]
    raise AssertionError(f"no server end for the connection from port {client_port}")


def test_a_burst_of_connections_is_spread_over_the_workers(two_workers: tuple[str, Path, int]) -> None:
    """On one shared listener the worker that woke first accepted every pending connection, so
    a burst (the benchmark's 8 clients, a room of officials opening the console) all went to one
    process. Each worker now listens with SO_REUSEPORT and the kernel spreads them."""
    base, _, supervisor = two_workers
    port = int(base.rsplit(":", 1)[1])
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    workers = [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(workers) == 2  # (the other child is multiprocessing's resource tracker)
    with ExitStack() as stack:
        clients = [stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10)) for _ in range(32)]
        for client in clients:  # every connection answered, so every one was accepted
            client.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: test\r\n\r\n")
        for client in clients:
            assert client.recv(64).startswith(b"HTTP/1.1 200")
        held = [len(_socket_inodes(pid) & {_server_side_inode(c.getsockname()[1], port) for c in clients})
                for pid in workers]
    # 32 connections hashed over 2 listeners: 3 or fewer on one has odds of about 1 in 400,000.
    assert sum(held) == 32 and min(held) >= 4, held
