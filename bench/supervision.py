"""Enforcement supervision benchmark (issue 15 §5; not a test), on PostgreSQL.

    .venv/bin/python bench/supervision.py                      # 2,000 open measures (a few minutes)
    .venv/bin/python bench/supervision.py --measures 1000000   # the issue's scale (hours here)

A fresh migrated database with the Yongzhou divisions and one station, then three parts, each
printing our figure and the straightforward alternative side by side:

(a) Ingest: ``--measures`` open measures (bail, detention, summons, with their statutory clocks
    and timers) sent as a mixed event stream — cases opened, measures started, people entering
    the case-handling area, measures ending, property seized — of which 5 % are duplicates
    (the same event sent again) and 5 % late (arriving after later events of their case), through
    ``supervision.intake.apply_batch`` in batches of 200, one transaction each, as the batch route
    runs it. Events/s and p50/p99 per batch; beside it the same events one per transaction.
(b) Deadline → warning: ``--deadlines`` 传唤 whose 12 hours end over the next ``--spread``
    seconds, over that data. The breach reaches a subscriber of the unit's division channel on
    the process hub (what the unit's WebSocket receives): *ours* — the durable timer of each
    clock, claimed by the timer worker (``timer_poll_seconds``, default 1 s) — against a
    ``due_at <= now()`` scan of the clocks table every 10 s and every 60 s that settles what it
    finds. p50/p99 of (arrival − deadline) and the CPU seconds the backends serving the
    benchmark's database used in each round (read from /proc: PostgreSQL on this host).
(c) Board: the city board (``supervision.service.board``: counts by status, nearest deadlines,
    recent breaches and exceptions) over that data, p50/p99 of 50 reads (target < 50 ms).

Targets from the issue: ingest ≥ 1,000 events/s, deadline → socket p99 < 1 s, board p99 < 50 ms
— at 1,000,000 open measures; the scale this run used is printed first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
COUNTY = "431102000000"
SENDER = "bench-boundary"
MEASURES_PER_CASE = 50
BATCH = 200


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _proc_cpu(pid: int) -> float | None:
    try:
        raw = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends(engine: Any) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the benchmark's database (read from
    /proc: the server runs on this host; other users' databases on a shared server are left out)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        pids = [int(p) for p, in conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))]
    return {pid: cpu for pid in pids if (cpu := _proc_cpu(pid)) is not None}


def database_cpu(engine: Any, before: dict[int, float]) -> float:
    """CPU seconds the benchmark database's backends used since ``before`` (a backend that ended
    in between is not counted: the pool keeps its connections)."""
    after = backends(engine)
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def fresh_database(pg_url: str) -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"civicgrid_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(pg_url).set(database=name).render_as_string(hide_password=False), drop


def principal() -> Any:
    from civicgrid.authz.principal import Principal

    return Principal(user_id="", username="bench-boundary", role="supervision_centre_staff", division_code=COUNTY,
                     jurisdiction="431102", permissions=frozenset({"supervision.ingest", "supervision.read",
                                                                   "supervision.handle"}))


def city() -> Any:
    from civicgrid.authz.principal import Principal

    return Principal(user_id="", username="bench-city", role="supervision_centre_staff",
                     division_code="431100000000", jurisdiction="4311", permissions=frozenset({"supervision.read"}))


def setup(engine: Any) -> str:
    from civicgrid.audit.service import set_actor, system_actor
    from civicgrid.db import transaction
    from civicgrid.geo import service as geo
    from civicgrid.people.orgs import service as orgs

    with transaction(engine) as session:
        set_actor(session, system_actor("bench"))
        for _report in geo.load_reference_data(session):
            pass
    with transaction(engine) as session:
        set_actor(session, system_actor("bench"))
        return orgs.create_unit(session, None, name="基准测试派出所", type_code="police_station",
                                division_code=COUNTY).id


# ---------------------------------------------------------------- (a) ingest


WINDOW = 20  # cases generated, shuffled and sent together: the stream never holds more than this


class Counts:
    def __init__(self) -> None:
        self.events = self.duplicates = self.late = 0


def stream(unit: str, measures: int, seed: int = 15, counts: Counts | None = None) -> Iterator[Any]:
    """The mixed events (see the module docstring), in arrival order, generated ``WINDOW`` cases
    at a time so that a run of 1,000,000 measures needs no more memory than one of 2,000;
    ``counts`` is told how many were sent, duplicated and late."""
    from civicgrid.supervision.intake import EventIn

    rng = random.Random(seed)
    now = datetime.now(UTC)
    serial = 0
    counts = counts if counts is not None else Counts()

    def ev(event_kind: str, at: datetime, /, **data: Any) -> Any:
        nonlocal serial
        serial += 1
        return EventIn(f"b{serial}", event_kind, at, data)

    per_window = MEASURES_PER_CASE * WINDOW
    for w in range(0, measures, per_window):
        events: list[Any] = []
        tail: list[Any] = []  # events that may arrive late: nothing later in their case depends on them
        for c in range(w, min(measures, w + per_window), MEASURES_PER_CASE):
            case = f"B{c // MEASURES_PER_CASE:06d}"
            opened = now - timedelta(minutes=rng.uniform(30, 60))
            events.append(ev("case.opened", opened, case=case, kind="criminal", unit_id=unit,
                             title=f"基准案件 {case}"))
            for m in range(min(MEASURES_PER_CASE, measures - c)):
                kind = rng.choices(["bail", "criminal_detention", "summons"], [5, 3, 2])[0]
                at = opened + timedelta(minutes=rng.uniform(1, 25))
                person = {"id": f"P{m}", "role": "suspect", "name": "张三"}
                events.append(ev("measure.started", at, case=case, measure=f"M{m}", kind=kind, person=person))
                if kind == "summons" and rng.random() < 0.5:
                    tail.append(ev("person.entered", at, case=case, person=f"P{m}", area="BA1", room="XW1"))
                if rng.random() < 0.1:
                    tail.append(ev("property.moved", at + timedelta(minutes=1), case=case, item=f"I{m}",
                                   action="seize", description="手机", measure="seized", value_fen=100000,
                                   to_holder="民警"))
        # Late: 5 % of all events arrive after later events of their case (a few batches on).
        late = min(len(tail), int(0.05 * (len(events) + len(tail))))
        on_time, delayed = tail[late:], tail[:late]
        events = sorted(events + on_time, key=lambda e: e.at)
        for e in delayed:
            events.insert(min(len(events), next(i for i, x in enumerate(events) if x.at >= e.at) + BATCH * 3), e)
        # Duplicates: 5 % of the events are sent again a little later.
        duplicates = int(0.05 * len(events))
        for i in sorted(rng.sample(range(len(events) - 1), duplicates), reverse=True):
            original = events[i]
            events.insert(min(len(events), i + rng.randint(BATCH, BATCH * 4)),
                          EventIn(original.event_id, original.kind, original.at, dict(original.data)))
        counts.events += len(events)
        counts.duplicates += duplicates
        counts.late += late
        yield from events


def ingest(engine: Any, events: Iterable[Any], batch: int, progress: float = 0.0) -> tuple[float, list[float],
                                                                                          dict[str, int]]:
    """Send ``events`` in batches of ``batch``, one transaction each; ``progress``: print the rate
    so far every that many seconds (0: never). The totals include ``cpu_ms``: this process's CPU
    milliseconds (steadier than the rate on a shared machine)."""
    from civicgrid.audit.service import Actor, set_actor
    from civicgrid.db import transaction
    from civicgrid.supervision import intake

    who = principal()
    latencies: list[float] = []
    totals = {"applied": 0, "duplicates": 0, "refused": 0}
    cpu = time.process_time()
    started = last = time.perf_counter()
    sent = 0
    source = iter(events)
    while chunk := [intake.EventIn(e.event_id, e.kind, e.at, dict(e.data)) for e in itertools.islice(source, batch)]:
        t0 = time.perf_counter()
        with transaction(engine) as session:
            set_actor(session, Actor("apiclient:bench"))
            result = intake.apply_batch(session, who, SENDER, chunk)
        latencies.append(time.perf_counter() - t0)
        sent += len(chunk)
        totals["applied"] += result.applied
        totals["duplicates"] += result.duplicates
        totals["refused"] += result.refused
        if progress and time.perf_counter() - last >= progress:
            last = time.perf_counter()
            print(f"  … {sent:,} events in {last - started:.0f} s ({sent / (last - started):.0f}/s)", flush=True)
    totals["cpu_ms"] = round((time.process_time() - cpu) * 1000)
    return time.perf_counter() - started, latencies, totals


# ---------------------------------------------------------------- (b) deadline → warning


async def deadline_round(engine: Any, unit: str, mode: str, deadlines: int, spread: float) -> dict[str, Any]:
    """One round: ``deadlines`` 传唤 due over the next ``spread`` seconds; ``mode`` is ``ours`` (the
    timer worker) or ``scan10`` / ``scan60`` (a due_at <= now() scan of the clocks every 10/60 s)."""
    from sqlalchemy import select, text

    from civicgrid.audit.service import set_actor, system_actor
    from civicgrid.authz.scoping import unscoped
    from civicgrid.db import transaction
    from civicgrid.realtime.hub import get_hub
    from civicgrid.supervision import clocks, intake
    from civicgrid.supervision.models import Clock
    from civicgrid.supervision.workflow import DUE_KIND, WARN_KIND
    from civicgrid.timers.worker import TimerWorker
    from civicgrid.workflow.engine import SYSTEM

    hub = get_hub()
    sub = hub.attach(principal())
    hub.subscribe(sub, "division:431102")
    now = datetime.now(UTC)
    case = f"D{mode}{uuid.uuid4().hex[:6]}"
    events = [intake.EventIn(f"{case}-0", "case.opened", now - timedelta(hours=13), {
        "case": case, "kind": "criminal", "unit_id": unit, "title": f"期限基准 {mode}"})]
    for i in range(deadlines):
        due = now + timedelta(seconds=5 + spread * i / max(1, deadlines - 1))
        events.append(intake.EventIn(f"{case}-{i + 1}", "measure.started", due - timedelta(hours=12), {
            "case": case, "measure": f"S{i}", "kind": "summons", "person": {"id": f"P{i}"}}))
    with transaction(engine) as session:
        set_actor(session, system_actor("bench"))
        result = intake.apply_batch(session, principal(), SENDER, events)
        assert result.applied == len(events), result
        rows = session.execute(select(Clock.id, Clock.due_at).where(
            Clock.rule_code == "summons_duration", Clock.case_id.in_(
                text("SELECT id FROM supervision_cases WHERE external_id = :c").bindparams(c=case)),
            unscoped("bench")))
        due_of = {cid: due for cid, due in rows}
    arrived: dict[str, float] = {}
    stop = asyncio.Event()

    async def listen() -> None:
        while len(arrived) < len(due_of):
            frame = await sub.queue.get()
            if frame.get("event") == "supervision_clock.breach" and frame["data"].get("id") in due_of:
                arrived.setdefault(frame["data"]["id"], time.time())

    async def scanner(every: float) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
            if stop.is_set():
                return

            def scan() -> None:
                with transaction(engine) as session:
                    set_actor(session, system_actor("scan"))
                    found = session.scalars(select(Clock).where(Clock.status == "running",
                                                                Clock.due_at <= text("now()"), unscoped("bench")))
                    for clock in found:
                        clocks.settle(session, SYSTEM, clock)

            await asyncio.to_thread(scan)

    cpu0 = backends(engine)
    listener = asyncio.create_task(listen())
    if mode == "ours":
        worker = TimerWorker(engine, worker_id="bench", kinds=[WARN_KIND, DUE_KIND])
        runner = asyncio.create_task(worker.run_forever(stop, poll_seconds=1.0))
    else:
        runner = asyncio.create_task(scanner(float(mode.removeprefix("scan"))))
    with contextlib.suppress(TimeoutError):
        every = 1.0 if mode == "ours" else float(mode.removeprefix("scan"))
        await asyncio.wait_for(listener, timeout=spread + 10 + every * 1.2)
    stop.set()
    await runner
    cpu = database_cpu(engine, cpu0)
    hub.detach(sub)
    latencies = [arrived[cid] - due.timestamp() for cid, due in due_of.items() if cid in arrived]
    return {"mode": mode, "n": len(latencies), "of": len(due_of), "p50": pct(latencies, 0.5),
            "p99": pct(latencies, 0.99), "cpu": cpu}


class contextlib_suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, value: Any, tb: Any) -> bool:
        return kind is TimeoutError


# ---------------------------------------------------------------- (c) board


def board(engine: Any, reads: int = 50) -> list[float]:
    from civicgrid.db import transaction
    from civicgrid.supervision import service

    times: list[float] = []
    for _ in range(reads):
        t0 = time.perf_counter()
        with transaction(engine, write=False) as session:
            service.board(session, city())
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measures", type=int, default=2_000, help="open measures (issue: 1,000,000; default 2,000)")
    parser.add_argument("--deadlines", type=int, default=30, help="deadlines per latency round (default 30)")
    parser.add_argument("--spread", type=float, default=30.0, help="seconds the deadlines spread over (default 30)")
    parser.add_argument("--scans", type=lambda text: [int(x) for x in text.split(",") if x], default=[10, 60],
                        help="the scan intervals (s) to compare with, comma-separated (default 10,60; '' for none)")
    parser.add_argument("--progress", type=float, default=60.0,
                        help="print the ingest rate so far every this many seconds (default 60; 0: never)")
    parser.add_argument("--pg-url", default=os.environ.get("CIVICGRID_BENCH_PG_URL", PG_DEFAULT))
    args = parser.parse_args()

    url, drop = fresh_database(args.pg_url)
    os.environ["CIVICGRID_DATABASE_URL"] = url
    from civicgrid.db import get_engine
    from civicgrid.migrate import upgrade
    from civicgrid.realtime.hub import get_hub

    print(f"scale: {args.measures:,} open measures (issue: 1,000,000), {args.deadlines} deadlines per latency "
          f"round over {args.spread:.0f} s; PostgreSQL {url.rsplit('/', 1)[-1]}")
    try:
        upgrade(url)
        engine = get_engine(url)
        unit = setup(engine)
        counts = Counts()
        print("\n(a) ingest", flush=True)
        seconds, per_batch, totals = ingest(engine, stream(unit, args.measures, counts=counts), BATCH,
                                            progress=args.progress)
        print(f"  {counts.events:,} events ({counts.duplicates:,} duplicates, {counts.late:,} late)")
        from civicgrid.supervision.intake import EventIn

        single = [EventIn(f"s{e.event_id}", e.kind, e.at, {**e.data, "case": "S" + e.data["case"]})
                  for e in itertools.islice(stream(unit, 300, seed=99), 400)]
        seconds1, per_event, totals1 = ingest(engine, single, 1)
        print(f"  {'':34}{'events/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        print(f"  {'ours: batches of 200':34}{counts.events / seconds:>10.0f}{pct(per_batch, .5) * 1000:>10.1f}"
              f"{pct(per_batch, .99) * 1000:>10.1f}   (per batch; applied {totals['applied']:,}, "
              f"duplicates {totals['duplicates']:,}, refused {totals['refused']:,}; app CPU "
              f"{totals['cpu_ms'] / max(1, counts.events):.1f} ms/event)")
        print(f"  {'one event per transaction':34}{len(single) / seconds1:>10.0f}{pct(per_event, .5) * 1000:>10.1f}"
              f"{pct(per_event, .99) * 1000:>10.1f}   (per event; {len(single)} events; app CPU "
              f"{totals1['cpu_ms'] / max(1, len(single)):.1f} ms/event)")
        print("  target: ≥ 1,000 events/s at 1,000,000 open measures")

        print("\n(b) deadline → breach on the unit's division channel (arrival − deadline)")
        hub = get_hub()
        hub.start()
        results = []
        try:
            for mode in ("ours", *(f"scan{every}" for every in args.scans)):
                spread = args.spread if mode in ("ours", "scan10") else max(args.spread, 60.0)
                results.append(asyncio.run(deadline_round(engine, unit, mode, args.deadlines, spread)))
        finally:
            hub.stop()
        print(f"  {'':34}{'p50 s':>10}{'p99 s':>10}{'db CPU s':>10}")
        for r in results:
            name = ("ours: a durable timer per clock" if r["mode"] == "ours"
                    else f"due_at <= now() scan every {r['mode'].removeprefix('scan')} s")
            print(f"  {name:34}{r['p50']:>10.2f}{r['p99']:>10.2f}{r['cpu']:>10.2f}"
                  f"   ({r['n']}/{r['of']} arrived)")
        print("  target: p99 < 1 s")

        times = board(engine)
        print(f"\n(c) city board over the data: p50 {pct(times, .5) * 1000:.1f} ms, "
              f"p99 {pct(times, .99) * 1000:.1f} ms (50 reads; target p99 < 50 ms)")
        engine.dispose()
    finally:
        drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
