"""Audit chains benchmark (not a test): commits per second with two counties writing at once.

    .venv/bin/python bench/audit_chains.py                  # PostgreSQL at 127.0.0.1:5432
    .venv/bin/python bench/audit_chains.py --seconds 10 --writers 4

A fresh migrated PostgreSQL database; ``--writers`` threads, half of them writing records of
零陵区 and half of 冷水滩区, each committing small write transactions (one business row change
captured by the audit listener plus one ``record()``) as fast as it can, with ``--think-ms`` of
work inside each transaction after the first write (a request's own statements). Two rows in one
run:

- *per-county chains* (ours): each county's entries go to its own chain, so the writers of the
  two counties take different advisory locks;
- *one chain* (before issue 10 §2): the same writers with every entry in the city-wide chain —
  what the code did when there was one chain and one lock.

The lock is taken at commit (the entries are queued until then), so it is held for the commit's
round trips only; the figures show what that lock costs under concurrency on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
COUNTIES = ("431102001001", "431103001001")  # a village of 零陵区, one of 冷水滩区


def run(url: str, *, writers: int, seconds: float, think_ms: float, one_chain: bool) -> tuple[float, list[float]]:
    from sqlalchemy import text

    from civicgrid.audit.service import Actor, record, set_actor
    from civicgrid.db import get_engine, transaction

    engine = get_engine(url)
    stop = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(writers)]

    def writer(n: int) -> None:
        division = COUNTIES[n % 2]
        entry_division = None if one_chain else division
        while time.monotonic() < stop:
            began = time.perf_counter()
            with transaction(engine) as session:
                set_actor(session, Actor(f"bench{n}"))
                session.execute(text("SELECT 1"))
                if think_ms:
                    time.sleep(think_ms / 1000)
                record(session, "bench.write", "bench", f"{n}", division_code=entry_division, after={"n": n})
            latencies[n].append(time.perf_counter() - began)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    flat = [x for group in latencies for x in group]
    return len(flat) / elapsed, flat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-url", default=PG_DEFAULT)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--think-ms", type=float, default=2.0)
    args = parser.parse_args()

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from civicgrid.db import dispose_engines
    from civicgrid.migrate import upgrade

    name = f"civicgrid_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(args.pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        print(f"PostgreSQL, {args.writers} writers (half per county), {args.seconds:.0f} s each, "
              f"{args.think_ms:g} ms of work per transaction")
        print(f"{'setup':<34}{'commits/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
        rows = {}
        for label, one in (("per-county chains (ours)", False), ("one chain (before)", True)):
            rate, lat = run(url, writers=args.writers, seconds=args.seconds, think_ms=args.think_ms, one_chain=one)
            lat.sort()
            p50 = statistics.median(lat) * 1000
            p99 = lat[int(len(lat) * 0.99) - 1] * 1000 if lat else 0.0
            rows[label] = rate
            print(f"{label:<34}{rate:>10.0f}{p50:>9.1f}{p99:>9.1f}")
        ours, before = rows["per-county chains (ours)"], rows["one chain (before)"]
        print(f"ratio ours / before: {ours / before:.2f}")
        from civicgrid.audit.service import verify
        from civicgrid.db import get_engine

        with get_engine(url).connect() as conn:
            result = verify(conn)
        print(f"chains verified: {result.ok}, {result.checked} entries in {result.chains} chains")
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
