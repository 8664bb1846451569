"""Dispatch end to end (not a test): from the operator's incident POST to the recommended unit's
phone receiving the order, with thousands of units connected.

    python bench/dispatch_e2e.py [--db sqlite|postgres|both] [--clients 2000] [--incidents 150]

A fresh database with Yongzhou's reference data; ``--clients`` patrol officers, each the member
of one unit (six types, twenty police stations of 零陵区), each unit placed at a random point of
the district. The app runs under uvicorn in a subprocess (one process, as `civicgrid serve`);
this script holds every officer's WebSocket open (``/api/v1/ws``: auth, subscribe to its own
``user:<id>`` channel, one ``position`` frame so the dispatch index knows where it is) and then,
one incident at a time, does what an operator does with one click: ``POST /response/incidents``
(the answer carries the recommendations), ``POST …/dispatch`` with the first recommended unit.
The time measured runs from just before the first POST until that unit's officer's socket
receives the inbox order (an ``event`` frame on ``user:<id>`` naming the assignment).

Two rounds on each database: an idle pool, then the same with the database pool held busy by 8
clients that keep listing incidents and the inbox. The straightforward alternative printed beside
ours is the phone polling ``GET /api/v1/inbox`` every 2 s (what an app without a push channel
does): measured for the same orders by a poller per dispatched officer, started at the dispatch.

Tokens are minted straight into the token table for the 2,000 officers (argon2 logins are not
what is measured); everything after that goes over real HTTP and WebSocket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
COUNTY = "431102"  # 零陵区
TYPES = ("patrol_car", "motorcycle", "foot_patrol", "station_duty", "village_auxiliary", "platform_team")
POLL_SECONDS = 2.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def seed(url: str, clients: int, secret: str) -> tuple[dict[str, str], list[tuple[str, str, float, float]],
                                                       list[tuple[float, float]]]:
    """Reference data, an operator, ``clients`` officers with a unit each; returns the operator's
    token by name, (user id, token, lng, lat) per officer, and the incident points."""
    os.environ["CIVICGRID_DATABASE_URL"] = url
    os.environ["CIVICGRID_SECRET_KEY"] = secret
    from sqlalchemy import select

    from civicgrid import all_models  # noqa: F401 — every table's model, for the ORM
    from civicgrid.audit.service import set_actor, system_actor
    from civicgrid.config import get_settings
    from civicgrid.db import get_engine, transaction
    from civicgrid.geo.models import Grid
    from civicgrid.geo.service import load_reference_data
    from civicgrid.kit.clock import utcnow
    from civicgrid.migrate import upgrade
    from civicgrid.people import repository as people_repo
    from civicgrid.people import service as people
    from civicgrid.people.models import AuthToken
    from civicgrid.people.orgs import service as orgs
    from civicgrid.response import service as response
    from civicgrid.workflow.engine import SYSTEM

    get_settings.cache_clear()
    upgrade(url)
    engine = get_engine(url)
    city = replace(SYSTEM, jurisdiction="4311")  # the system acting city-wide
    rng = random.Random(7)
    with transaction(engine) as session:
        set_actor(session, system_actor("bench"))
        load_reference_data(session)
        people.sync_roles(session)
    with transaction(engine, write=False) as session:
        points = [(float(x), float(y)) for x, y in session.execute(
            select(Grid.lng, Grid.lat).where(Grid.code.like(COUNTY + "%")))]
    password_hash = people.hash_password("Bench#Dispatch2026")
    tokens: dict[str, str] = {}
    officers: list[tuple[str, str, float, float]] = []
    now = utcnow()

    def mint(session: Any, user_id: str) -> str:
        raw = secrets.token_urlsafe(32)
        people_repo.add_token(session, AuthToken(token_hash=people.token_hash(raw), user_id=user_id, created_at=now,
                                                 last_seen_at=now, expires_at=now + timedelta(hours=12)))
        return raw

    with transaction(engine) as session:
        set_actor(session, system_actor("bench"))
        operator = people.create_user(session, username="bench_operator", display_name="压测指挥员",
                                      role="command_operator", division_code="431100000000",
                                      password="", password_hash=password_hash)
        tokens["operator"] = mint(session, operator.id)
        stations = [orgs.create_unit(session, None, name=f"压测派出所{i:02d}", type_code="police_station",
                                     division_code=COUNTY + "000000").id for i in range(20)]
    batch = 250
    for start in range(0, clients, batch):
        with transaction(engine) as session:
            set_actor(session, system_actor("bench"))
            for n in range(start, min(clients, start + batch)):
                user = people.create_user(session, username=f"bench_unit_{n:05d}", display_name=f"压测民警{n}",
                                          role="patrol_officer", division_code=COUNTY + "000000",
                                          password="", password_hash=password_hash)
                unit = response.create_unit(session, city, call_sign=f"压测{n:05d}", unit_type=TYPES[n % len(TYPES)],
                                            org_unit_id=stations[n % len(stations)], members=[user.id])
                response.unit_action(session, city, unit.id, "sign_on", None)
                x, y = points[rng.randrange(len(points))]
                officers.append((user.id, mint(session, user.id), x + rng.uniform(-0.01, 0.01),
                                 y + rng.uniform(-0.01, 0.01)))
                session.flush()
                _unit_of[user.id] = unit.id
        print(f"  seeded {min(clients, start + batch):,}/{clients:,} officers", end="\r", flush=True)
    print()
    engine.dispose()
    return tokens, officers, points


_unit_of: dict[str, str] = {}


def officers_main(ws_url: str, officers: list[tuple[str, str, float, float]], unit_of: dict[str, str],
                  conn: Any) -> None:
    """The officers' phones, in a process of their own (so the 2,000 sockets' client work does not
    sit in the measuring process): connect, authenticate, subscribe, report a position; then
    send ``(assignment id, perf_counter at receipt)`` up the pipe for every order frame
    (``perf_counter`` is CLOCK_MONOTONIC: one clock for every process of the machine)."""
    asyncio.run(_officers(ws_url, officers, unit_of, conn))


async def _officers(ws_url: str, officers: list[tuple[str, str, float, float]], unit_of: dict[str, str],
                    conn: Any) -> None:
    import websockets

    sockets: list[Any] = []
    failed: list[str] = []
    seen: set[str] = set()

    async def officer(user_id: str, token: str, lng: float, lat: float, ready: asyncio.Event) -> None:
        try:
            ws = await websockets.connect(ws_url, open_timeout=120, max_queue=None, ping_interval=None)
            sockets.append(ws)
            await ws.send(json.dumps({"action": "auth", "token": token}))
            first = json.loads(await ws.recv())
            if first.get("type") != "ready":
                raise RuntimeError(f"auth answered {first}")
            await ws.send(json.dumps({"action": "subscribe", "channel": f"user:{user_id}"}))
            await ws.send(json.dumps({"action": "position", "unit_id": unit_of[user_id], "lng": lng, "lat": lat,
                                      "ack": True}))
        except Exception as exc:  # counted and printed: a bench must say what failed
            failed.append(f"{type(exc).__name__}: {exc}")
            ready.set()
            return
        ready.set()
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") == "event" and str(frame.get("event", "")).startswith("inbox"):
                link = (frame.get("data") or {}).get("link_id")
                if link and link not in seen:
                    seen.add(link)
                    conn.send((link, time.perf_counter()))

    readies = []
    tasks = []
    started = time.perf_counter()
    for uid, token, lng, lat in officers:
        ready = asyncio.Event()
        readies.append(ready)
        tasks.append(asyncio.create_task(officer(uid, token, lng, lat, ready)))
        if len(tasks) % 50 == 0:
            await asyncio.sleep(0.5)  # a fleet signs on over a minute (a shift change), not in one burst
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=600)
    conn.send(("ready", len(officers) - len(failed), time.perf_counter() - started, failed[:1]))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(conn.fileno(), stop.set)  # the driver's "done" (or its end)
    await stop.wait()
    for ws in sockets:
        await ws.close()
    for task in tasks:
        task.cancel()


async def run_rounds(base: str, tokens: dict[str, str], officers: list[tuple[str, str, float, float]],
                     points: list[tuple[float, float]], incidents: int) -> dict[str, dict[str, list[float]]]:
    import multiprocessing

    import httpx

    ws_url = base.replace("http://", "ws://") + "/api/v1/ws"
    received: dict[str, float] = {}  # assignment id → when its order frame arrived
    user_of_unit = {_unit_of[uid]: uid for uid, *_ in officers}
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    phones = multiprocessing.get_context("spawn").Process(target=officers_main, args=(ws_url, officers,
                                                                                      dict(_unit_of), theirs))
    phones.start()
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def on_pipe() -> None:
        while ours.poll():
            item = ours.recv()
            if item[0] == "ready":
                if not ready.done():
                    ready.set_result(item)
            else:
                received.setdefault(item[0], item[1])

    loop.add_reader(ours.fileno(), on_pipe)
    _, placed, took, failed = await asyncio.wait_for(ready, timeout=900)
    print(f"  {placed:,} sockets (in their own process) authenticated, subscribed and placed in {took:.1f} s; "
          f"{len(officers) - placed} failed{': ' + failed[0] if failed else ''}")
    await asyncio.sleep(2)  # the positions of the last units reach the index

    results: dict[str, dict[str, list[float]]] = {}
    headers = {"Authorization": f"Bearer {tokens['operator']}"}
    rng = random.Random(11)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        for busy in (False, True):
            stop = asyncio.Event()
            load: list[asyncio.Task[None]] = []
            if busy:
                async def keep_busy(n: int, stop: asyncio.Event) -> None:
                    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as other:
                        while not stop.is_set():
                            path = "/api/v1/response/incidents" if n % 2 else "/api/v1/inbox"
                            await other.get(path, params={"limit": 100})
                load = [asyncio.create_task(keep_busy(n, stop)) for n in range(8)]
                await asyncio.sleep(1)
            push: list[float] = []
            pollers: list[asyncio.Task[float]] = []
            parts: dict[str, list[float]] = {"create": [], "dispatch": [], "after": []}
            for _ in range(incidents):
                x, y = points[rng.randrange(len(points))]
                t0 = time.perf_counter()
                made = await client.post("/api/v1/response/incidents",
                                         json={"category": "help", "priority": 2, "lng": x, "lat": y,
                                               "summary": "压测警情"})
                t1 = time.perf_counter()
                made.raise_for_status()
                body = made.json()
                if not body["recommendations"]:
                    continue
                unit_id = body["recommendations"][0]["unit_id"]
                sent = await client.post(f"/api/v1/response/incidents/{body['id']}/dispatch",
                                         json={"unit_ids": [unit_id]})
                t2 = time.perf_counter()
                sent.raise_for_status()
                assignment = sent.json()["assignments"][-1]["id"]
                # The alternative: that officer's phone polls its inbox every POLL_SECONDS, its
                # phase uniformly random against the dispatch (as it would be).
                officer_token = next(tok for uid, tok, *_ in officers if uid == user_of_unit[unit_id])
                pollers.append(asyncio.create_task(
                    polled(base, officer_token, assignment, t0, rng.uniform(0, POLL_SECONDS))))
                for _ in range(400):
                    if assignment in received:
                        break
                    await asyncio.sleep(0.005)
                if assignment in received:
                    push.append((received[assignment] - t0) * 1000)
                    parts["after"].append((received[assignment] - t2) * 1000)
                parts["create"].append((t1 - t0) * 1000)
                parts["dispatch"].append((t2 - t1) * 1000)
            poll = list(await asyncio.gather(*pollers))
            stop.set()
            for task in load:
                await task
            results["busy pool" if busy else "idle pool"] = {"push": push, "poll": poll, **parts,
                                                             "sent": [float(incidents)]}
    loop.remove_reader(ours.fileno())
    ours.send("done")
    phones.join(timeout=60)
    return results


async def polled(base: str, token: str, assignment: str, t0: float, phase: float) -> float:
    """ms from t0 until a phone polling GET /api/v1/inbox every POLL_SECONDS (first poll at
    ``phase`` after t0) sees the order."""
    import httpx

    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as phone:
        await asyncio.sleep(max(0.0, t0 + phase - time.perf_counter()))
        while True:
            items = (await phone.get("/api/v1/inbox", params={"pending_ack": "true"})).json()["items"]
            if any(i.get("link_id") == assignment for i in items):
                return (time.perf_counter() - t0) * 1000
            await asyncio.sleep(POLL_SECONDS)


def run_db(kind: str, pg_url: str, clients: int, incidents: int) -> dict[str, dict[str, list[float]]]:
    import httpx

    from matters import fresh_database

    workdir = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    url, drop = fresh_database(kind, pg_url, workdir)
    secret = secrets.token_hex(32)
    _unit_of.clear()
    try:
        print(f"[{kind}] seeding …", flush=True)
        tokens, officers, points = seed(url, clients, secret)
        env = {**os.environ, "CIVICGRID_DATABASE_URL": url, "CIVICGRID_SECRET_KEY": secret,
               "CIVICGRID_RUN_TIMER_WORKER": "false"}
        port = 19000 + os.getpid() % 1000
        # The server's log goes to a file: a pipe nobody reads fills up and blocks the server.
        log_path = workdir / "server.log"
        log_file = log_path.open("w")
        server = subprocess.Popen([str(ROOT / ".venv/bin/civicgrid"), "serve", "--port", str(port)], env=env,
                                  stdout=log_file, stderr=subprocess.STDOUT, text=True)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(base + "/api/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("server did not start: " + log_path.read_text()[-2000:])
            return asyncio.run(run_rounds(base, tokens, officers, points, incidents))
        finally:
            server.terminate()
            server.wait(timeout=30)
            log_file.close()
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default=os.environ.get("CIVICGRID_BENCH_PG_URL", PG_DEFAULT))
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--incidents", type=int, default=150)
    args = parser.parse_args()
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(f"Incident POST → the recommended unit's phone has the order; {args.clients:,} officers connected "
          f"(target p99 < 100 ms); each database's rows as soon as its rounds end")
    for kind in kinds:
        rows = run_db(kind, args.pg_url, args.clients, args.incidents)
        print(f"{'db':9}{'pool':11}{'orders':>7}{'push p50':>10}{'push p99':>10}{'poll 2 s p50':>14}"
              f"{'poll p99':>10}{'create p50':>12}{'dispatch p50':>14}{'then push p50/p99':>19}")
        for label, v in rows.items():
            print(f"{kind:9}{label:11}{len(v['push']):7}{statistics.median(v['push']):10.1f}"
                  f"{pct(v['push'], .99):10.1f}{statistics.median(v['poll']):14.1f}{pct(v['poll'], .99):10.1f}"
                  f"{statistics.median(v['create']):12.1f}{statistics.median(v['dispatch']):14.1f}"
                  f"{statistics.median(v['after']):11.1f}/{pct(v['after'], .99):.1f}"
                  f"   create p99 {pct(v['create'], .99):.1f} dispatch p99 {pct(v['dispatch'], .99):.1f}", flush=True)
    print("(ms; push: ours, the order on the officer's open WebSocket; poll: the same order found by a phone "
          f"polling its inbox every {POLL_SECONDS:.0f} s; then push: from the dispatch response to the phone, "
          "which is what the push path itself adds)")


if __name__ == "__main__":
    main()
