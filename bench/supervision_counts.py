"""Statements, ORM flushes and CPU per event of the supervision ingest, in process (not a test).

    .venv/bin/python bench/supervision_counts.py                 # 300 measures, PostgreSQL
    .venv/bin/python bench/supervision_counts.py --measures 100  # smaller

The stream of ``bench/supervision.py`` (mixed events, 5 % duplicates, 5 % late) through
``intake.apply_batch`` in batches of 200 on a fresh migrated database; counts every statement
(SQLAlchemy ``before_cursor_execute``) and every flush (the session's ``before_flush``), so the
figures compare across a loaded machine where rates do not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import supervision as bench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measures", type=int, default=300)
    parser.add_argument("--top", type=int, default=0, help="also print the N most frequent statements")
    parser.add_argument("--pg-url", default=os.environ.get("CIVICGRID_BENCH_PG_URL", bench.PG_DEFAULT))
    args = parser.parse_args()

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    url, drop = bench.fresh_database(args.pg_url)
    os.environ["CIVICGRID_DATABASE_URL"] = url
    from civicgrid.db import get_engine
    from civicgrid.migrate import upgrade

    engine: Any = None
    try:
        upgrade(url)
        engine = get_engine(url)
        unit = bench.setup(engine)
        counts = {"statements": 0, "flushes": 0}

        shapes: dict[str, int] = {}

        def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            counts["statements"] += 1
            if args.top:
                shape = " ".join(statement.split())[:110]
                shapes[shape] = shapes.get(shape, 0) + 1

        def on_flush(*_: Any) -> None:
            counts["flushes"] += 1

        event.listen(engine, "before_cursor_execute", on_statement)
        event.listen(Session, "before_flush", on_flush)
        sent = bench.Counts()
        events = list(bench.stream(unit, args.measures, counts=sent))
        cpu = time.process_time()
        wall, _latencies, totals = bench.ingest(engine, events, bench.BATCH)
        cpu = time.process_time() - cpu
        n = len(events)
        print(f"{n} events ({sent.duplicates} duplicates, {sent.late} late): {totals}")
        print(f"per event: {counts['statements'] / n:.2f} statements, {counts['flushes'] / n:.2f} flushes, "
              f"{cpu * 1000 / n:.2f} ms CPU (this process); {n / wall:.0f} events/s")
        for shape, count in sorted(shapes.items(), key=lambda kv: -kv[1])[:args.top]:
            print(f"{count / n:6.2f}  {shape}")
    finally:
        if engine is not None:
            engine.dispose()
        drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
