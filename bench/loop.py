"""Event-loop benchmark (not a test): does the process keep answering while the database is busy?

    .venv/bin/python bench/loop.py                 # SQLite
    .venv/bin/python bench/loop.py --db postgres   # a throw-away PostgreSQL database

The app runs under uvicorn in this process on a fresh migrated database. Every pooled
connection is then held from threads for ``--hold`` seconds (a slow statement, a burst, a
stalled server: the pool is empty), a read request with a bearer token arrives and waits for a
connection for its token check, and meanwhile ``GET /api/v1/health/live`` and a WebSocket
``{"action": "ping"}`` are timed every 100 ms. Two rows side by side, in one run:

- *now*: the token check runs in the thread pool (``authz.dependencies.Require``);
- *before*: the same check run on the event loop, as the code did until issue 9 §5 (swapped in
  for the second round).

Then the price of the thread hop: sequential authenticated reads (``GET /api/v1/auth/me``),
uncontended, both ways.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
COUNTY = "431102000000"
PASSWORD = "Bench-password-2026"
LABELS = {"now": "now: token check in the thread pool", "before": "before: token check on the event loop"}


def fresh_database(kind: str, pg_url: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if kind == "sqlite":
        return f"sqlite:///{workdir / 'loop.sqlite3'}", lambda: None
    name = f"civicgrid_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(pg_url).set(database=name).render_as_string(hide_password=False), drop


class Server:
    """uvicorn serving the app on a free port in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import socket

        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    ws="websockets-sansio"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def pool_held(engine: Any, seconds: float) -> Iterator[None]:
    """Every connection the pool will give (size + overflow), held from threads for ``seconds``."""
    capacity = engine.pool.size() + engine.pool._max_overflow
    barrier = threading.Barrier(capacity + 1)

    def hold() -> None:
        raw = engine.raw_connection()
        try:
            barrier.wait()
            time.sleep(seconds)
        finally:
            raw.close()

    threads = [threading.Thread(target=hold, daemon=True) for _ in range(capacity)]
    for thread in threads:
        thread.start()
    barrier.wait()
    try:
        yield
    finally:
        for thread in threads:
            thread.join()


def stall_round(server: Server, engine: Any, token: str, hold: float) -> dict[str, Any]:
    """Probe /health/live and a WebSocket ping every 100 ms while the pool is held and a
    token-checked read waits for a connection."""
    import httpx
    from websockets.sync.client import connect

    live: list[float] = []
    pong: list[float] = []
    stuck: dict[str, float] = {}
    with connect(f"ws://127.0.0.1:{server.port}/api/v1/ws?token={token}", open_timeout=10) as ws, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        json.loads(ws.recv(timeout=10))  # ready
        client.get("/api/v1/health/live")  # the connection is open before the pool is held

        def read() -> None:
            started = time.perf_counter()
            httpx.get(f"{server.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=60)
            stuck["seconds"] = time.perf_counter() - started

        def probe_live(end: float) -> None:
            while time.monotonic() < end:
                started = time.perf_counter()
                client.get("/api/v1/health/live")
                live.append(time.perf_counter() - started)
                time.sleep(0.1)

        def probe_socket(end: float) -> None:
            while time.monotonic() < end:
                started = time.perf_counter()
                ws.send('{"action": "ping"}')
                while json.loads(ws.recv(timeout=60))["type"] != "pong":
                    pass
                pong.append(time.perf_counter() - started)
                time.sleep(0.1)

        with pool_held(engine, hold):
            reader = threading.Thread(target=read)
            reader.start()
            time.sleep(0.2)  # the read is in its token check, waiting for a connection
            end = time.monotonic() + hold - 0.6
            probes = [threading.Thread(target=probe, args=(end,)) for probe in (probe_live, probe_socket)]
            for probe in probes:
                probe.start()
            for probe in probes:
                probe.join()
        reader.join()
    return {"live_max": max(live), "live_p50": statistics.median(live), "pong_max": max(pong),
            "pong_p50": statistics.median(pong), "probes": len(live) + len(pong),
            "stuck": stuck.get("seconds", float("nan"))}


def read_costs(server: Server, token: str, requests: int) -> dict[str, tuple[float, float]]:
    """p50 and mean (ms) of sequential authenticated reads on one keep-alive connection, per
    mode; the modes alternate in blocks of 50 so that a noisy neighbour hits both alike."""
    import httpx

    times: dict[str, list[float]] = {"now": [], "before": []}
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(50):
            client.get("/api/v1/auth/me")
        while len(times["before"]) < requests:
            for mode in ("now", "before"):
                with token_check_on_the_loop() if mode == "before" else nullcontext():
                    for _ in range(50):
                        started = time.perf_counter()
                        client.get("/api/v1/auth/me").raise_for_status()
                        times[mode].append((time.perf_counter() - started) * 1000)
    return {mode: (statistics.median(values), statistics.fmean(values)) for mode, values in times.items()}


@contextmanager
def token_check_on_the_loop() -> Iterator[None]:
    """The behaviour before issue 9 §5: a read request's token check ran on the event loop."""
    from civicgrid.authz import dependencies
    from civicgrid.authz.dependencies import NotAuthenticated, Require, bearer_token
    from civicgrid.kit import statements

    original_call, original_guard = Require.__call__, statements._refuse_on_event_loop

    async def on_the_loop(self: Require, request: Any, session: Any) -> Any:
        raw = bearer_token(request)
        if raw is None:
            raise NotAuthenticated()
        if session.info.get("write"):
            return await dependencies.run_in_threadpool(self._check, request, session, raw)
        return self._check_read(request, session, raw)

    Require.__call__ = on_the_loop  # type: ignore[method-assign]
    statements._refuse_on_event_loop = lambda: None
    try:
        yield
    finally:
        Require.__call__ = original_call  # type: ignore[method-assign]
        statements._refuse_on_event_loop = original_guard


def run(kind: str, pg_url: str, hold: float, requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = fresh_database(kind, pg_url, Path(tmp))
        os.environ["CIVICGRID_DATABASE_URL"] = url
        os.environ["CIVICGRID_RUN_TIMER_WORKER"] = "false"
        from civicgrid.config import get_settings

        get_settings.cache_clear()
        from civicgrid.db import get_engine, transaction
        from civicgrid.main import create_app
        from civicgrid.migrate import upgrade
        from civicgrid.people import service as people

        upgrade(url)
        engine = get_engine(url)
        with transaction(engine) as session:
            people.create_user(session, username="bench_commander", display_name="bench", role="county_commander",
                               division_code=COUNTY, password=PASSWORD)
        app = create_app(get_settings(), start_workers=False)
        server = Server(app)
        try:
            import httpx

            token = httpx.post(f"{server.url}/api/v1/auth/login",
                               json={"username": "bench_commander", "password": PASSWORD}).json()["access_token"]
            stalls = {}
            for mode in ("now", "before"):
                with token_check_on_the_loop() if mode == "before" else nullcontext():
                    stalls[mode] = stall_round(server, engine, token, hold)
            costs = read_costs(server, token, requests)
            rows = [(LABELS[mode], stalls[mode], costs[mode]) for mode in ("now", "before")]
        finally:
            server.stop()
            engine.dispose()
            drop()
    capacity = engine.pool.size() + engine.pool._max_overflow
    print(f"\n[{kind}] every pooled connection ({capacity}) held for {hold:.0f} s, one token-checked read waiting;"
          f" /health/live and a WebSocket ping each timed every 100 ms, side by side (target: each < 500 ms)")
    print(f"{'':40} {'live p50':>9} {'live max':>9} {'pong p50':>9} {'pong max':>9} {'probes':>7}"
          f" {'stuck read':>11} | {'read p50':>9} {'read mean':>10}")
    for label, stall, (p50, mean) in rows:
        print(f"{label:40} {stall['live_p50'] * 1000:7.1f}ms {stall['live_max'] * 1000:7.1f}ms "
              f"{stall['pong_p50'] * 1000:7.1f}ms {stall['pong_max'] * 1000:7.1f}ms {stall['probes']:7d}"
              f" {stall['stuck']:9.2f} s | {p50:7.2f}ms {mean:8.2f}ms")
    print(f"(read p50/mean: {requests} sequential GET /api/v1/auth/me, uncontended: the price of the thread hop)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("CIVICGRID_BENCH_PG_URL", PG_DEFAULT))
    parser.add_argument("--hold", type=float, default=5.0, help="seconds the pool is held (default 5)")
    parser.add_argument("--requests", type=int, default=500, help="sequential reads per mode (default 500)")
    args = parser.parse_args()
    for kind in (["sqlite", "postgres"] if args.db == "both" else [args.db]):
        run(kind, args.pg_url, args.hold, args.requests)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
