"""Matters benchmark (not a test): intake over HTTP, and the figures over millions of matters.

    .venv/bin/python bench/matters.py --matters 1000000 --db both
    .venv/bin/python bench/matters.py --matters 10000000 --db postgres --skip-intake

(a) Intake: a fresh database with the Yongzhou data and demo accounts (``civicgrid demo
    --no-serve``), the app under uvicorn in a subprocess, 8 concurrent clients POSTing
    /api/v1/matters as a grid worker; prints throughput, p50/p99 latency, and the CPU time per
    report of the app's processes and of PostgreSQL's (steadier than throughput on a shared VM).
(b) Figures: N generated matters over three years across every Yongzhou grid (bulk insert:
    COPY on PostgreSQL, executemany in large batches on SQLite), the rollup built with one
    INSERT … SELECT … GROUP BY per table, then the city-wide and one-county figures timed three
    ways side by side: our rollup query, the straightforward aggregate over the raw matters
    table on the same database, and DuckDB scanning the same rows exported to Parquet (DuckDB's
    sqlite/postgres extensions download at first use, which this network does not allow).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
START = datetime(2023, 12, 1, tzinfo=UTC)
YEARS = 3
CITY = "431100000000"
COUNTY = "431102000000"  # 零陵区


# ---------------------------------------------------------------- databases


def fresh_database(kind: str, pg_url: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:6]}.sqlite3"
        return f"sqlite:///{path}", lambda: [p.unlink(missing_ok=True) for p in workdir.glob(path.name + "*")]  # type: ignore[func-returns-value]
    name = f"civicgrid_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(pg_url).set(database=name).render_as_string(hide_password=False), drop


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------- (a) intake over HTTP


def intake(kind: str, url: str, clients: int, seconds: float, workers: int = 1) -> list[dict[str, Any]]:
    """8 keep-alive clients POSTing reports as a grid worker (bench/loadgen.py, an asyncio load
    generator like wrk: it costs the server little of the machine's two cores), after a 3 s
    warm-up; every response must be 201. Two runs on the same database: ours (reports that
    arrive together are committed together) and the straightforward way (one transaction per
    report, ``CIVICGRID_MATTER_INTAKE_GROUP_COMMIT=false``)."""
    env = {**os.environ, "CIVICGRID_DATABASE_URL": url, "CIVICGRID_RUN_TIMER_WORKER": "false"}
    cli = [str(ROOT / ".venv/bin/civicgrid")]
    seeded = subprocess.run([*cli, "demo", "--no-serve", "--weeks", "0"], env=env, capture_output=True, text=True,
                            check=True)
    match = re.search(r"^\s+(\S+)\s+.*（grid_worker）\s+@\s+.*?(\d{15})\s*$", seeded.stdout, re.M)
    if not match:
        raise RuntimeError("no grid-worker login in the demo output:\n" + seeded.stdout[-2000:])
    from sqlalchemy import create_engine, text

    # Reports come from all over the city, as they do (a cluster in one grid would measure the
    # duplicate-candidate search, not intake): the labelled point of every grid.
    probe = create_engine(url)
    with probe.connect() as conn:
        points = [(float(a), float(b)) for a, b in conn.execute(text("SELECT lng, lat FROM grids"))]
    probe.dispose()
    rows = []
    for mode, group in (("group commit", "true"), ("one per report", "false")):
        result = _intake_run({**env, "CIVICGRID_MATTER_INTAKE_GROUP_COMMIT": group}, match.group(1), points,
                             clients, seconds, workers)
        rows.append({"db": kind, "mode": mode, **result})
        print(f"[{kind}] intake, {mode}: {rows[-1]}", flush=True)
    return rows


BENCH_PASSWORD = "Bench#Intake2026"


def _demo_token(base: str, username: str, demo_password: str) -> str:
    """A full session of a demo account: the first login must change the demo password (issue 9),
    so the bench changes it once to its own and logs in with that afterwards."""
    import httpx

    login = f"{base}/api/v1/auth/login"
    answer = httpx.post(login, json={"username": username, "password": demo_password})
    if answer.status_code == 401:
        answer = httpx.post(login, json={"username": username, "password": BENCH_PASSWORD})
    answer.raise_for_status()
    token = str(answer.json()["access_token"])
    if answer.json().get("pending") == "password_change":
        httpx.post(f"{base}/api/v1/auth/password", headers={"Authorization": f"Bearer {token}"},
                   json={"current_password": demo_password, "new_password": BENCH_PASSWORD}).raise_for_status()
    return token


def _intake_run(env: dict[str, str], username: str, points: list[tuple[float, float]], clients: int,
                seconds: float, workers: int) -> dict[str, Any]:
    import httpx

    from civicgrid.simulate.demo import DEMO_PASSWORD
    from loadgen import run_load

    cli = [str(ROOT / ".venv/bin/civicgrid")]
    port = 18000 + os.getpid() % 1000
    # The server's log goes to a temporary file: a pipe nobody reads fills up and blocks the server.
    log_file = tempfile.TemporaryFile("w+")  # noqa: SIM115 — closed in the finally below
    server = subprocess.Popen([*cli, "serve", "--port", str(port), "--workers", str(workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=log_file, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            log_file.seek(0)
            raise RuntimeError("server did not start: " + log_file.read()[-2000:])
        token = _demo_token(base, username, DEMO_PASSWORD)
        headers = {"Authorization": f"Bearer {token}"}
        types = [t["code"] for t in httpx.get(base + "/api/v1/matter-types", headers=headers).json()
                 if t.get("owner_level") == "village" and not t.get("handoff")] or ["unknown"]
        tag = uuid.uuid4().hex[:6]

        def report(n: int, i: int) -> tuple[str, str, dict[str, str], Any]:
            spot = points[(n * 7919 + i * 104729) % len(points)]
            return ("POST", "/api/v1/matters", {"Idempotency-Key": f"bench-{tag}-{n}-{i}-{uuid.uuid4().hex[:6]}"},
                    {"type_code": types[i % len(types)], "title": f"压测事项 {n}-{i}",
                     "description": "bench/matters.py", "channel": "grid_worker", "lng": spot[0], "lat": spot[1]})

        # Warm-up (first requests of each worker build its caches), then the measured run.
        run_load("127.0.0.1", port, clients=clients, seconds=3, headers=headers, make=report,
                 expect=frozenset({201}))
        app_before, db_before = cpu_seconds(server.pid)
        result = run_load("127.0.0.1", port, clients=clients, seconds=seconds, headers=headers, make=report,
                          expect=frozenset({201}))
        app_after, db_after = cpu_seconds(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log_file.close()
    latencies = result.latencies
    failed = sum(n for status, n in result.statuses.items() if status != 201)
    done = max(len(latencies), 1)
    return {"requests": len(latencies), "failures": failed, "first_failure": result.first_failure,
            "per_s": (len(latencies) - failed) / result.elapsed, "p50_ms": 1000 * pct(latencies, 0.5),
            "p99_ms": 1000 * pct(latencies, 0.99), "app_cpu_ms": 1000 * (app_after - app_before) / done,
            "db_cpu_ms": 1000 * (db_after - db_before) / done}


def cpu_seconds(server_pid: int) -> tuple[float, float]:
    """CPU time (user + system) used so far by the server and its worker processes, and by every
    PostgreSQL server process (SQLite works inside the server's). Read from /proc: throughput on
    this shared VM drifts by a third from one run to the next, CPU per report much less, so the
    table prints both."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, str, float]] = {}  # pid: (parent, name, seconds)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name, fields = raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
        stats[int(entry.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / tick)
    tree, grew = {server_pid}, True
    while grew:
        children = {pid for pid, (parent, _, _) in stats.items() if parent in tree} - tree
        grew, tree = bool(children), tree | children
    app = sum(stats[pid][2] for pid in tree if pid in stats)
    database = sum(seconds for _, name, seconds in stats.values() if name.startswith("postgres"))
    return app, database


# ---------------------------------------------------------------- (b) generated matters


def setup_reference(url: str) -> tuple[list[str], str, str, int]:
    """Migrate, load Yongzhou; return the grid codes and a matter type (id, code, version)."""
    from sqlalchemy import select

    from civicgrid.db import get_engine, transaction
    from civicgrid.geo.models import Grid
    from civicgrid.geo.service import load_reference_data
    from civicgrid.matters.models import MatterType
    from civicgrid.migrate import upgrade

    upgrade(url)
    engine = get_engine(url)
    with transaction(engine) as s:
        if not s.scalars(select(Grid.code).limit(1)).first():
            load_reference_data(s)
    with transaction(engine) as s:
        grids = list(s.scalars(select(Grid.code).order_by(Grid.code)))
        mt = s.scalars(select(MatterType).limit(1)).one()
        return grids, mt.id, mt.code, mt.version


def generate(n: int, grids: list[str], chunk: int, seed: int = 7) -> Iterator[dict[str, np.ndarray]]:
    """Column arrays of ``n`` plausible matters in chunks: three years, every grid, ~85 % closed."""
    rnd = np.random.default_rng(seed)
    grid_arr = np.array(grids)
    span_us = int(YEARS * 365 * 86400 * 1e6)
    start_us = np.datetime64(START.replace(tzinfo=None), "us")
    statuses = np.array(["reported", "accepted", "rejected", "cancelled", "dispatched", "handling", "handled",
                         "verified", "closed", "evaluated"])
    weights = np.array([0.02, 0.02, 0.03, 0.01, 0.02, 0.03, 0.01, 0.01, 0.40, 0.45])
    levels = np.array(["village", "township", "county", "city"])
    done = 0
    while done < n:
        size = min(chunk, n - done)
        reported = start_us + rnd.integers(0, span_us, size).astype("timedelta64[us]")
        status = statuses[rnd.choice(len(statuses), size, p=weights)]
        closed_mask = (status == "closed") | (status == "evaluated")
        dispatched = reported + rnd.integers(10 * 60, 6 * 3600, size).astype("timedelta64[s]")
        closed = dispatched + rnd.exponential(36 * 3600, size).astype("int64").astype("timedelta64[s]")
        yield {
            "id": np.array([uuid.uuid4().hex for _ in range(size)]),
            "number": np.char.add("B", np.arange(done, done + size).astype(str)),
            "grid_code": grid_arr[rnd.integers(0, len(grid_arr), size)],
            "status": status,
            "reported_at": reported,
            "dispatched_at": dispatched,
            "dispatched_null": rnd.random(size) < 0.05,
            "closed_at": closed,
            "closed_mask": closed_mask,
            "overdue": rnd.random(size) < 0.12,
            "rework_count": (rnd.random(size) < 0.06).astype(int),
            "satisfaction": rnd.integers(1, 6, size),
            "rated": closed_mask & (status == "evaluated"),
            "settled": levels[rnd.choice(4, size, p=[0.62, 0.28, 0.08, 0.02])],
        }
        done += size


def _ts(values: np.ndarray, sep: str) -> np.ndarray:
    text = np.datetime_as_string(values, unit="us")
    return np.char.replace(text, "T", sep) if sep != "T" else text


def load_matters(kind: str, url: str, n: int, grids: list[str], type_id: str, type_code: str, version: int,
                 parquet: Path) -> float:
    """Bulk-load the generated matters (and the same rows into a Parquet file for DuckDB)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from civicgrid.db import get_engine

    engine = get_engine(url)
    cols = ["id", "number", "type_id", "type_code", "catalogue_version", "title", "description", "channel",
            "lng", "lat", "grid_code", "division_code", "owner_level", "department", "status",
            "status_changed_at", "reported_at", "dispatched_at", "closed_at", "alert", "overdue", "escalations",
            "rework_count", "settled_level", "satisfaction", "supervised"]
    writer: pq.ParquetWriter | None = None
    t0 = time.perf_counter()
    raw = engine.raw_connection()
    try:
        for c in generate(n, grids, chunk=250_000):
            size = len(c["id"])
            sep = " " if kind == "sqlite" else "T"
            reported = _ts(c["reported_at"], sep)
            dispatched = np.where(c["dispatched_null"], None, _ts(c["dispatched_at"], sep))
            closed = np.where(c["closed_mask"], _ts(c["closed_at"], sep), None)
            settled = np.where(c["closed_mask"], c["settled"], None)
            sat = np.where(c["rated"], c["satisfaction"], None)
            grid_codes = c["grid_code"].tolist()
            rows = zip(c["id"].tolist(), c["number"].tolist(), [type_id] * size, [type_code] * size,
                       [version] * size, ["生成事项"] * size, ["-"] * size, ["grid_worker"] * size,
                       [111.6] * size, [26.4] * size, grid_codes,
                       [g[:12] for g in grid_codes], ["village"] * size, ["bench"] * size,
                       c["status"].tolist(), reported.tolist(), reported.tolist(), dispatched.tolist(),
                       closed.tolist(), ["none"] * size, c["overdue"].tolist(), [0] * size,
                       c["rework_count"].tolist(), settled.tolist(), sat.tolist(), [False] * size, strict=True)
            if kind == "postgres":
                buf = io.StringIO()
                w = csv.writer(buf)
                for row in rows:
                    w.writerow([("" if v is None else (v + "+00" if i in (15, 16, 17, 18) else v)) for i, v in
                                enumerate(row)])
                buf.seek(0)
                with raw.cursor() as cur, cur.copy(f"COPY matters ({', '.join(cols)}) FROM STDIN (FORMAT csv)") as cp:
                    while data := buf.read(1 << 20):
                        cp.write(data)
            else:
                cur = raw.cursor()
                cur.execute("BEGIN")
                cur.executemany(f"INSERT INTO matters ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                rows)
                cur.close()
            raw.commit()
            table = pa.table({
                "grid_code": pa.array(c["grid_code"]),
                "status": pa.array(c["status"]),
                "reported_at": pa.array(c["reported_at"], pa.timestamp("us", tz="UTC")),
                "dispatched_at": pa.array(np.where(c["dispatched_null"], np.datetime64("NaT"), c["dispatched_at"]),
                                          pa.timestamp("us", tz="UTC")),
                "closed_at": pa.array(np.where(c["closed_mask"], c["closed_at"], np.datetime64("NaT")),
                                      pa.timestamp("us", tz="UTC")),
                "overdue": pa.array(c["overdue"]),
                "rework_count": pa.array(c["rework_count"]),
                "satisfaction": pa.array(np.where(c["rated"], c["satisfaction"], 0)).cast(pa.int64()),
                "rated": pa.array(c["rated"]),
                "settled_level": pa.array(settled.tolist(), pa.string()),
            })
            if writer is None:
                writer = pq.ParquetWriter(parquet, table.schema)
            writer.write_table(table)
    finally:
        raw.close()
        if writer is not None:
            writer.close()
    if kind == "postgres":
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE matters")
            conn.commit()
    return time.perf_counter() - t0


def timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    """Median wall time of ``repeat`` runs after one warm-up run, and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def duckdb_counters(parquet: Path, prefix: str, start: datetime, end: datetime) -> dict[str, int]:
    import duckdb

    sql = f"""
    SELECT
      count(*) FILTER (WHERE reported_at >= $s AND reported_at < $e) AS received,
      count(*) FILTER (WHERE reported_at >= $s AND reported_at < $e AND status IN ('rejected','cancelled')),
      count(*) FILTER (WHERE reported_at >= $s AND reported_at < $e AND closed_at IS NOT NULL
                       AND status IN ('closed','evaluated')),
      count(*) FILTER (WHERE c) AS closed,
      count(*) FILTER (WHERE c AND NOT overdue),
      count(*) FILTER (WHERE c AND rework_count > 0),
      count(*) FILTER (WHERE c AND dispatched_at IS NOT NULL),
      count(*) FILTER (WHERE c AND rated), coalesce(sum(satisfaction) FILTER (WHERE c AND rated), 0),
      {", ".join(f"count(*) FILTER (WHERE c AND settled_level = '{lvl}')"
                 for lvl in ("village", "township", "county", "city"))},
      coalesce(sum(epoch(closed_at)::BIGINT - epoch(dispatched_at)::BIGINT)
               FILTER (WHERE c AND dispatched_at IS NOT NULL), 0)
    FROM (SELECT *, (closed_at >= $s AND closed_at < $e AND status IN ('closed','evaluated')) AS c
          FROM read_parquet('{parquet}') WHERE grid_code LIKE '{prefix}%')
    WHERE (reported_at >= $s AND reported_at < $e) OR c
    """
    from civicgrid.matters.figures.models import COUNTERS

    row = duckdb.connect().execute(sql, {"s": start, "e": end}).fetchone()
    assert row is not None
    return dict(zip(COUNTERS, (int(v or 0) for v in row), strict=True))


def figures_bench(kind: str, url: str, n: int, workdir: Path) -> list[dict[str, Any]]:
    from civicgrid.authz.scoping import jurisdiction_prefix
    from civicgrid.db import get_engine, transaction
    from civicgrid.matters.figures import repository, service

    grids, type_id, type_code, version = setup_reference(url)
    parquet = workdir / f"matters-{kind}.parquet"
    load_s = load_matters(kind, url, n, grids, type_id, type_code, version, parquet)
    engine = get_engine(url)
    t0 = time.perf_counter()
    with transaction(engine) as s:
        counts = service.rebuild(s)
    rebuild_s = time.perf_counter() - t0
    print(f"[{kind}] loaded {n:,} matters in {load_s:.1f} s; rollup rebuilt in {rebuild_s:.1f} s {counts}",
          flush=True)
    day_from, day_to = START.date(), date(START.year + YEARS, START.month, START.day)
    start, end = repository.utc_bounds(day_from, day_to)
    results = []
    for label, code in (("city 永州市", CITY), ("county 零陵区", COUNTY)):
        prefix = jurisdiction_prefix(code)
        with transaction(engine, write=False) as s:
            width = repository.child_width(len(prefix))
            t_roll, roll = timed(lambda p=prefix: service.figures_for_prefix(s, p, day_from, day_to))
            t_kids, _ = timed(lambda p=prefix, w=width: repository.sum_for(s, p, day_from, day_to, group_width=w,
                                                                          principal=None))
            t_raw, raw = timed(lambda p=prefix: service.figures_for_prefix(s, p, day_from, day_to, source="raw"),
                               repeat=2)
        t_duck, duck = timed(lambda p=prefix: duckdb_counters(parquet, p, start, end), repeat=3)
        results.append({"db": kind, "scope": label, "n": n, "rollup_ms": 1000 * t_roll, "children_ms": 1000 * t_kids,
                        "raw_ms": 1000 * t_raw, "duckdb_ms": 1000 * t_duck, "speedup": t_raw / t_roll,
                        "agree": roll == raw == duck, "received": roll["received"]})
    parquet.unlink(missing_ok=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--matters", type=int, default=10_000_000, help="generated matters (default 10,000,000)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default=os.environ.get("CIVICGRID_BENCH_PG_URL", PG_DEFAULT))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--intake-seconds", type=float, default=20.0)
    parser.add_argument("--workers", default="1",
                        help="server processes of the intake runs, a comma-separated list (e.g. 1,2): one intake "
                             "run per count on each database (several processes on one SQLite file take turns "
                             "to write)")
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--skip-figures", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None, help="where the SQLite files and Parquet go")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="civicgrid-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    intake_rows: list[dict[str, Any]] = []
    figure_rows: list[dict[str, Any]] = []
    for kind in kinds:
        for workers in ([] if args.skip_intake else [int(w) for w in str(args.workers).split(",")]):
            url, drop = fresh_database(kind, args.pg_url, workdir)  # each setup on a database of its own
            try:
                for row in intake(kind, url, args.clients, args.intake_seconds, workers):
                    intake_rows.append({**row, "workers": workers})
            finally:
                drop()
        if not args.skip_figures:
            url, drop = fresh_database(kind, args.pg_url, workdir)
            try:
                figure_rows.extend(figures_bench(kind, url, args.matters, workdir))
            finally:
                from civicgrid.db import dispose_engines

                dispose_engines()
                drop()
    if intake_rows:
        print(f"\nIntake over HTTP, {args.clients} concurrent clients, {args.intake_seconds:.0f} s "
              "(target ≥ 200/s, p99 < 100 ms)")
        print(f"{'db':<9}{'intake':<16}{'workers':>8}{'requests':>9}{'failed':>8}{'per s':>9}{'p50 ms':>9}"
              f"{'p99 ms':>9}{'CPU ms/report: app':>20}{'PostgreSQL':>11}")
        for r in intake_rows:
            print(f"{r['db']:<9}{r['mode']:<16}{r['workers']:>8}{r['requests']:>9}{r['failures']:>8}"
                  f"{r['per_s']:>9.1f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['app_cpu_ms']:>20.2f}"
                  f"{r['db_cpu_ms']:>11.2f}")
            if r["first_failure"]:
                print("   first failure:", r["first_failure"])
    if figure_rows:
        print(f"\nFigures over {args.matters:,} matters, three years (target city < 300 ms, ≥ 10× the raw GROUP BY)")
        print(f"{'db':<9}{'scope':<16}{'rollup ms':>10}{'children ms':>12}{'raw GROUP BY ms':>16}"
              f"{'DuckDB ms':>11}{'speed-up':>9}  same figures")
        for r in figure_rows:
            print(f"{r['db']:<9}{r['scope']:<14}{r['rollup_ms']:>10.1f}{r['children_ms']:>12.1f}{r['raw_ms']:>16.1f}"
                  f"{r['duckdb_ms']:>11.1f}{r['speedup']:>8.0f}×  {r['agree']} ({r['received']:,} received)")


if __name__ == "__main__":
    main()
