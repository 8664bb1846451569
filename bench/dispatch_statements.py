"""SQL statements and CPU per request on the dispatch path, in process (not a test).

    python bench/dispatch_statements.py [--clients 60] [--incidents 40] [--db sqlite|postgres]

Seeds a fresh database as ``bench/dispatch_e2e.py`` does (Yongzhou's reference data, ``--clients``
officers with one signed-on unit each), then ``--incidents`` times: create an incident (one
transaction, as ``POST /response/incidents``), dispatch an available unit to it (one transaction,
as ``POST …/dispatch``). Counts the statements each transaction sends (SQLAlchemy
``before_cursor_execute``) and its CPU time (``time.process_time``); prints the median and the
maximum of each, and the statements of one dispatch grouped by their first words.
"""

from __future__ import annotations

import argparse
import collections
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--incidents", type=int, default=40)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    if args.db == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp(prefix='cg-stmts-')}/bench.db"
    else:
        url = os.environ.get("PG_TEST_URL", PG_DEFAULT)
    from sqlalchemy import event, select

    import dispatch_e2e

    _tokens, _officers, points = dispatch_e2e.seed(url, args.clients, secrets.token_urlsafe(32))
    from civicgrid.audit.service import Actor, set_actor
    from civicgrid.db import get_engine, transaction
    from civicgrid.people.models import User
    from civicgrid.people.service import principal_of
    from civicgrid.response import service as response
    from civicgrid.response.models import ResponseUnit

    engine = get_engine(url)
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        statements.append(" ".join(statement.split()[:3]))

    with transaction(engine, write=False) as session:
        user = session.scalars(select(User).where(User.username == "bench_operator")).one()
        operator = principal_of(user)
    figures: dict[str, list[tuple[int, float]]] = {"create": [], "dispatch": []}
    sample: list[str] = []
    sample_create: list[str] = []
    for n in range(args.incidents):
        lng, lat = points[(n * 37) % len(points)]
        statements.clear()
        cpu = time.process_time()
        with transaction(engine) as session:
            set_actor(session, Actor(name=operator.username, user_id=operator.user_id))
            created = response.create_incident(session, operator, category="public_order", priority=2, lng=lng, lat=lat,
                                               summary=f"压测 {n}")
            incident_id = created.incident.id
        figures["create"].append((len(statements), time.process_time() - cpu))
        if n == args.incidents // 2:
            sample_create = list(statements)
        with transaction(engine, write=False) as session:
            unit_id = session.scalars(select(ResponseUnit.id).where(ResponseUnit.status == "available")
                                      .order_by(ResponseUnit.call_sign).limit(1)).one()
        statements.clear()
        cpu = time.process_time()
        with transaction(engine) as session:
            set_actor(session, Actor(name=operator.username, user_id=operator.user_id))
            response.dispatch(session, operator, incident_id, [unit_id])
        figures["dispatch"].append((len(statements), time.process_time() - cpu))
        if n == args.incidents // 2:
            sample = list(statements)
    for name, rows in figures.items():
        counts = [c for c, _ in rows[3:]]
        cpus = [t * 1000 for _, t in rows[3:]]
        print(f"{name:9s} statements median {statistics.median(counts):.0f} max {max(counts)}; "
              f"CPU ms median {statistics.median(cpus):.1f} max {max(cpus):.1f}")
    print("one create:", dict(collections.Counter(sample_create).most_common()))
    print("one dispatch:", dict(collections.Counter(sample).most_common()))


if __name__ == "__main__":
    main()
