"""Recommend k units by travel time: our in-memory bucket index against a plain SQL scan on SQLite
(and PostGIS ``ORDER BY geom <-> point LIMIT k`` when the extension is installed).

    python bench/dispatch.py [--units 20000] [--queries 2000] [--rate 200] [--k 5]

20,000 units spread over Yongzhou's bounding box (80 % available, the six unit types), a writer
thread moving random units at ``--rate`` position reports a second into each store while the
queries run (the index: ``UnitIndex.move``; SQLite: an ``UPDATE`` committed per report in WAL
mode, which is what a naive app would do), and ``--queries`` recommendations for random points,
each the top k available units by ETA (great-circle distance × detour / speed of the type in the
place's urban class + turnout: ``response.json``). The SQL answers the same question in one
statement (haversine in SQLite's math functions, the same parameters in a CASE). Before the
stream starts, the top k of both are compared on the same positions (they must agree exactly).
PostGIS is not in this environment's PostgreSQL (``postgresql-15-postgis-3`` is not installed):
the script says so and skips that column; with it installed, ``--postgis URL`` runs the same
queries there.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from civicgrid.response.index import UnitEntry, UnitIndex
from civicgrid.response.params import get_params

BBOX = (110.55, 24.65, 112.35, 26.85)  # Yongzhou, roughly
TYPES = ("patrol_car", "motorcycle", "foot_patrol", "station_duty", "village_auxiliary", "platform_team")
CLASS = "town"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sql_eta_expression(urban_class: str) -> str:
    params = get_params()
    detour = params.detour[urban_class]
    speed = " ".join(f"WHEN '{t}' THEN {params.speed[t][urban_class]!r}" for t in TYPES)
    turnout = " ".join(f"WHEN '{t}' THEN {params.turnout.get(t, 0.0)!r}" for t in TYPES)
    distance = ("2 * 6371008.8 * asin(min(1.0, sqrt(pow(sin((radians(lat) - radians(:lat)) / 2), 2) + "
                "cos(radians(:lat)) * cos(radians(lat)) * pow(sin((radians(lng) - radians(:lng)) / 2), 2))))")
    return (f"{distance} * {detour!r} / (CASE unit_type {speed} END) + (CASE unit_type {turnout} END)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--sql-queries", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--postgis", default="", help="a PostgreSQL URL with PostGIS, to add that column")
    args = parser.parse_args()
    rng = random.Random(12)
    params = get_params()
    now = datetime.now(UTC)

    units = [(f"{i:032x}", TYPES[i % len(TYPES)], "available" if rng.random() < 0.8 else "assigned",
              rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3])) for i in range(args.units)]
    index = UnitIndex()
    for uid, utype, status, lng, lat in units:
        index.put(UnitEntry(uid, uid[-6:], utype, "431102000000", "org", status, frozenset(), lng, lat, now))

    tmp = tempfile.TemporaryDirectory()
    db = sqlite3.connect(Path(tmp.name) / "units.sqlite3", check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE units (id TEXT PRIMARY KEY, unit_type TEXT, status TEXT, lng REAL, lat REAL)")
    db.executemany("INSERT INTO units VALUES (?, ?, ?, ?, ?)", units)
    db.execute("CREATE INDEX ix_units_status ON units (status)")
    db.commit()
    sql = (f"SELECT id FROM units WHERE status = 'available' ORDER BY {sql_eta_expression(CLASS)}, id "
           f"LIMIT :k")
    points = [(rng.uniform(BBOX[0] + 0.1, BBOX[2] - 0.1), rng.uniform(BBOX[1] + 0.1, BBOX[3] - 0.1))
              for _ in range(max(args.queries, args.sql_queries))]

    def ours(lng: float, lat: float) -> list[str]:
        return [c.unit_id for c in index.nearest(lng, lat, county="431102", urban_class=CLASS, params=params,
                                                 k=args.k)]

    def plain(conn: sqlite3.Connection, lng: float, lat: float) -> list[str]:
        return [r[0] for r in conn.execute(sql, {"lng": lng, "lat": lat, "k": args.k})]

    # Agreement on the same positions, before anything moves.
    checked = points[:200]
    disagree = sum(ours(x, y) != plain(db, x, y) for x, y in checked)

    # The position stream into each store while its queries run (one store at a time, so neither
    # stream's thread competes with the other's queries). Reports arrive in 20 ms ticks.
    moved = [0, 0]
    cpu_ms: list[list[float]] = [[], []]

    def stream(move: object, slot: int, stop: threading.Event) -> None:
        r = random.Random(slot)
        tick = 0.02
        per_tick = args.rate * tick
        due, owed = time.perf_counter(), 0.0
        while not stop.is_set():
            owed += per_tick
            while owed >= 1:
                owed -= 1
                uid = units[r.randrange(len(units))][0]
                move(uid, r.uniform(BBOX[0], BBOX[2]), r.uniform(BBOX[1], BBOX[3]))  # type: ignore[operator]
                moved[slot] += 1
            due += tick
            time.sleep(max(0.0, due - time.perf_counter()))

    def timed(run: object, queries: list[tuple[float, float]], move: object, slot: int) -> tuple[list[float], float]:
        stop = threading.Event()
        writer = threading.Thread(target=stream, args=(move, slot, stop), daemon=True)
        writer.start()
        started = time.perf_counter()
        out = []
        cpu = []
        for x, y in queries:
            c0 = time.thread_time()
            t0 = time.perf_counter()
            run(x, y)  # type: ignore[operator]
            out.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
        cpu_ms[slot] = cpu
        elapsed = time.perf_counter() - started
        stop.set()
        writer.join()
        return out, elapsed

    def index_move(uid: str, lng: float, lat: float) -> None:
        index.move(uid, lng, lat, datetime.now(UTC))

    writer_conn = sqlite3.connect(Path(tmp.name) / "units.sqlite3", check_same_thread=False)

    def sqlite_move(uid: str, lng: float, lat: float) -> None:
        writer_conn.execute("UPDATE units SET lng = ?, lat = ? WHERE id = ?", (lng, lat, uid))
        writer_conn.commit()

    reader = sqlite3.connect(Path(tmp.name) / "units.sqlite3", check_same_thread=False)
    ours_ms, ours_s = timed(ours, points[:args.queries], index_move, 0)
    sql_ms, sql_s = timed(lambda x, y: plain(reader, x, y), points[:args.sql_queries], sqlite_move, 1)
    writer_conn.close()

    print(f"units {args.units:,}  k {args.k}  position stream {args.rate:.0f}/s into each store while it answers "
          f"(index: {moved[0]:,} moves in {ours_s:.1f} s; SQLite: {moved[1]:,} committed updates in {sql_s:.1f} s)")
    print(f"top-{args.k} agreement on {len(checked)} queries, same positions: "
          f"{len(checked) - disagree}/{len(checked)} identical")
    print(f"{'':24} {'p50 ms':>9} {'p99 ms':>9} {'queries':>8}")
    print(f"{'ours (bucket index)':24} {statistics.median(ours_ms):9.3f} {percentile(ours_ms, 0.99):9.3f} "
          f"{len(ours_ms):8}")
    print(f"{'SQLite plain scan':24} {statistics.median(sql_ms):9.3f} {percentile(sql_ms, 0.99):9.3f} {len(sql_ms):8}")
    print(f"{'  same, CPU time of the query thread':24}")
    print(f"{'ours (bucket index)':24} {statistics.median(cpu_ms[0]):9.3f} {percentile(cpu_ms[0], 0.99):9.3f}")
    print(f"{'SQLite plain scan':24} {statistics.median(cpu_ms[1]):9.3f} {percentile(cpu_ms[1], 0.99):9.3f}")
    print("(wall-clock tails on a shared 2-core machine are mostly time spent preempted; the CPU time shows the work)")
    print(f"ratio SQLite / ours: p50 {statistics.median(sql_ms) / statistics.median(ours_ms):.0f}x, "
          f"p99 {percentile(sql_ms, 0.99) / percentile(ours_ms, 0.99):.0f}x")
    if not args.postgis:
        print("PostGIS: not measured — the extension is not installed in this PostgreSQL "
              "(apt package postgresql-15-postgis-3); rerun with --postgis URL where it is")
    else:
        run_postgis(args.postgis, units, points[:args.sql_queries], args.k, ours, statistics.median(ours_ms),
                    percentile(ours_ms, 0.99))
    reader.close()
    db.close()
    tmp.cleanup()


def run_postgis(url: str, units: list[tuple[str, str, str, float, float]], points: list[tuple[float, float]], k: int,
                ours: object, ours_p50: float, ours_p99: float) -> None:
    """The same question the way an app would ask PostGIS: a GiST KNN on geography with the
    availability filter, then the ETA ordering of the nearest few hundred (KNN orders by distance,
    not by ETA, so it needs a candidate pool; 50 × k here)."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("DROP TABLE IF EXISTS bench_units")
        conn.execute("CREATE TABLE bench_units (id text primary key, unit_type text, status text, "
                     "geom geography(Point, 4326))")
        with conn.cursor().copy("COPY bench_units (id, unit_type, status, geom) FROM STDIN") as copy:
            for uid, utype, status, lng, lat in units:
                copy.write_row((uid, utype, status, f"SRID=4326;POINT({lng} {lat})"))
        conn.execute("CREATE INDEX ON bench_units USING gist (geom)")
        conn.execute("ANALYZE bench_units")
        times = []
        for x, y in points:
            t0 = time.perf_counter()
            conn.execute("SELECT id FROM bench_units WHERE status = 'available' "
                         "ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography LIMIT %s",
                         (x, y, k * 50)).fetchall()
            times.append((time.perf_counter() - t0) * 1000)
        print(f"{'PostGIS KNN (pool 50k)':24} {statistics.median(times):9.3f} {percentile(times, 0.99):9.3f} "
              f"{len(times):8}")
        print(f"ratio PostGIS / ours: p50 {statistics.median(times) / ours_p50:.0f}x, "
              f"p99 {percentile(times, 0.99) / ours_p99:.0f}x")
        conn.execute("DROP TABLE bench_units")


if __name__ == "__main__":
    main()
