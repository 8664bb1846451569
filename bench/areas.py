"""Scoping by a responsibility area against scoping by a prefix: the matters queue of a county
user and of a station whose area holds 300 grids of that county.

    python bench/areas.py [--matters 200000] [--grids 300] [--database-url URL]

Builds a throw-away database (SQLite file; or, given a PostgreSQL server URL, a fresh database
on it, dropped afterwards) with the real migrations and the Yongzhou grids, writes ``--matters``
synthetic matters spread evenly over every grid of the city, gives a police station an area of
``--grids`` grids of 零陵区, and times the real repository call (``matters.repository.list_matters``,
the ``division`` queue: total and first page of 50) for both principals, plus the token statement
that authenticates every request (now with the outer join to the unit). Prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

from civicgrid.authz.principal import Principal
from civicgrid.db import make_engine, transaction
from civicgrid.geo.models import Grid
from civicgrid.geo.service import load_reference_data
from civicgrid.kit.clock import utcnow
from civicgrid.matters import repository as matters
from civicgrid.matters.models import Matter, MatterType
from civicgrid.migrate import upgrade
from civicgrid.people import repository as people_repository
from civicgrid.people import service as people
from civicgrid.people.orgs import service as orgs

COUNTY = "431102000000"


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm caches and compiled statements
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(url: str, n_matters: int, n_grids: int, runs: int) -> None:
    upgrade(url)
    engine = make_engine(url)
    with transaction(engine) as session:
        load_reference_data(session)
    with transaction(engine) as session:
        grids = session.execute(select(Grid.code, Grid.lng, Grid.lat).order_by(Grid.code)).all()
        mtype = session.scalars(select(MatterType).limit(1)).one()
        now = utcnow()
        rows = []
        for i in range(n_matters):
            code, lng, lat = grids[i % len(grids)]
            rows.append({
                "id": uuid.uuid4().hex, "number": f"B{i:09d}", "type_id": mtype.id, "type_code": mtype.code,
                "catalogue_version": mtype.version, "title": "bench", "description": "", "channel": "grid_worker",
                "lng": lng, "lat": lat, "grid_code": code, "division_code": code[:12], "owner_level": "village",
                "department": "bench", "status": "handling", "status_changed_at": now,
                "reported_at": now - timedelta(minutes=i), "alert": "none", "overdue": False, "escalations": 0,
                "rework_count": 0, "supervised": False})
        for start in range(0, len(rows), 5000):
            session.execute(insert(Matter.__table__), rows[start:start + 5000])
        area = [c for c, _, _ in grids if c.startswith(COUNTY[:6])][:n_grids]
        unit = orgs.create_unit(session, None, name="bench station", type_code="police_station", division_code=COUNTY)
        orgs.set_area(session, None, unit.id, grids=area)
        user = people.create_user(session, username="bench_station", display_name="bench", role="station_commander",
                                  division_code=COUNTY, password="", password_hash="x")
        orgs.set_membership(session, None, user, unit.id)
        token_hash = uuid.uuid4().hex
        from civicgrid.people.models import AuthToken

        session.add(AuthToken(token_hash=token_hash, user_id=user.id, created_at=now, last_seen_at=now,
                              expires_at=now + timedelta(hours=1)))
        unit_id = unit.id
    county = Principal(user_id="x", username="county", role="county_plc_staff", division_code=COUNTY,
                       jurisdiction="431102")
    station = Principal(user_id="x", username="station", role="station_commander", division_code=COUNTY,
                        jurisdiction="431102", org_unit_id=unit_id, area_unit_id=unit_id, area=frozenset(area))

    def queue(principal: Principal) -> Callable[[], object]:
        def call() -> object:
            with transaction(engine, write=False) as session:
                return matters.list_matters(session, principal=principal, queue="division", owner_prefix=None,
                                            status=None, overdue=None, offset=0, limit=50)
        return call

    with transaction(engine, write=False) as session:
        seen = {name: matters.list_matters(session, principal=p, queue="division", owner_prefix=None, status=None,
                                           overdue=None, offset=0, limit=50)[1]
                for name, p in (("county", county), ("station", station))}
    print(f"{engine.dialect.name}: {n_matters} matters over {len(grids)} grids; county sees {seen['county']}, "
          f"station ({len(area)} grids) sees {seen['station']}")
    print(f"  division queue, county prefix:       {median_ms(queue(county), runs):8.2f} ms (median of {runs})")
    print(f"  division queue, station area:        {median_ms(queue(station), runs):8.2f} ms")
    print(f"  token statement (with the unit join): "
          f"{median_ms(lambda: people_repository.token_account(engine, token_hash), runs * 5):8.3f} ms")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--matters", type=int, default=200_000)
    parser.add_argument("--grids", type=int, default=300)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (a fresh database is made)")
    args = parser.parse_args()
    if args.database_url:
        server = make_url(args.database_url)
        name = f"bench_areas_{uuid.uuid4().hex[:8]}"
        admin = make_engine(server.render_as_string(hide_password=False)).execution_options(
            isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(server.set(database=name).render_as_string(hide_password=False), args.matters, args.grids, args.runs)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", args.matters, args.grids, args.runs)


if __name__ == "__main__":
    main()
