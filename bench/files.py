"""The file store against photos kept as BLOBs in the database (what matters did before 0019).

    python bench/files.py [--files 200] [--size 500000] [--database-url URL]

Stores ``--files`` random JPEG-headed photos of ``--size`` bytes each way into a throw-away
SQLite database (or the PostgreSQL server named by ``--database-url``; a fresh database is made
there and dropped) and a temporary files directory, then reads each back: ours through
``files.service.read_bytes`` (the row by id, the blob from disk, the SHA-256 checked), the
BLOB table by id (no check, as before). Both sides run in the same request-style transactions
(``db.transaction``); the store's write is also an audited ORM insert and two fsyncs (the blob
and its directory), which the BLOB insert is not. Prints per-file milliseconds (median and p95) for
writes and reads, and the database's size, each way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Column, LargeBinary, MetaData, String, Table, create_engine, select, text
from sqlalchemy.engine import make_url

from civicgrid.db import make_engine, transaction
from civicgrid.migrate import upgrade


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def fresh_database(url: str | None, tmp: Path) -> tuple[str, object]:
    if not url:
        return f"sqlite:///{tmp / 'bench.sqlite3'}", lambda: None
    base = make_url(url)
    name = f"civicgrid_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size", type=int, default=500_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        os.environ["CIVICGRID_FILES_DIR"] = str(tmp / "files")
        from civicgrid.files import backends
        from civicgrid.files import service as files
        from civicgrid.files.models import StoredFile

        backends.settings.cache_clear()
        url, drop = fresh_database(args.database_url, tmp)
        try:
            upgrade(url)
            engine = make_engine(url)
            blobs = Table(
                "bench_blobs",
                MetaData(),
                Column("id", String(32), primary_key=True),
                Column("data", LargeBinary, nullable=False),
            )
            blobs.create(engine)
            photos = [b"\xff\xd8\xff\xe0" + os.urandom(args.size - 4) for _ in range(args.files)]

            ours_write, plain_write, ids = [], [], []
            for content in photos:
                started = time.perf_counter()
                with transaction(engine) as session:
                    stored = files.store(
                        session,
                        None,
                        owner_type="bench",
                        owner_id="b",
                        division_code="431102000000",
                        kind="photo",
                        content=content,
                    )
                    ids.append(stored.id)
                ours_write.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                with transaction(engine) as session:
                    session.execute(blobs.insert().values(id=stored.id, data=content))
                plain_write.append((time.perf_counter() - started) * 1000)

            ours_read, plain_read = [], []
            for file_id, content in zip(ids, photos, strict=True):
                started = time.perf_counter()
                with transaction(engine, write=False) as session:
                    row = session.get(StoredFile, file_id)
                    assert row is not None
                    got = files.read_bytes(row)
                ours_read.append((time.perf_counter() - started) * 1000)
                assert got == content
                started = time.perf_counter()
                with transaction(engine, write=False) as session:
                    got = session.scalar(select(blobs.c.data).where(blobs.c.id == file_id))
                plain_read.append((time.perf_counter() - started) * 1000)
                assert got == content

            print(f"{args.files} photos of {args.size:,} bytes on {engine.dialect.name}")
            print(f"{'':34}{'write median':>14}{'write p95':>11}{'read median':>13}{'read p95':>10}")
            for label, w, r in (
                ("file store (fs, SHA-256 checked)", ours_write, ours_read),
                ("BLOB in the database", plain_write, plain_read),
            ):
                print(
                    f"{label:34}{statistics.median(w):>12.2f}ms{p95(w):>9.2f}ms"
                    f"{statistics.median(r):>11.2f}ms{p95(r):>8.2f}ms"
                )
            if engine.dialect.name == "sqlite":
                with engine.connect() as conn:
                    blob_pages = conn.execute(
                        text("SELECT SUM(pgsize) FROM dbstat WHERE name = 'bench_blobs'")
                    ).scalar()
                print(f"database bytes of the BLOB table: {blob_pages or 0:,} (the file store's rows: metadata only)")
            engine.dispose()
        finally:
            drop()  # type: ignore[operator]


if __name__ == "__main__":
    main()
