"""The SQLite plumbing under every request: WAL checkpoints off the request path, and the write
lock's order."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from civicgrid.db import AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT, WalCheckpointer, make_engine


def _pragma(engine: object, name: str) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.exec_driver_sql(f"PRAGMA {name}").scalar())


def test_wal_checkpointer_takes_checkpoints_off_the_commits(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        assert _pragma(engine, "wal_autocheckpoint") == AUTOCHECKPOINT_PAGES
        assert _pragma(engine, "journal_size_limit") == WAL_SIZE_LIMIT

        checkpointer = WalCheckpointer(engine, interval=0.05)
        checkpointer.start()
        try:
            assert _pragma(engine, "wal_autocheckpoint") == 0  # commits no longer checkpoint
            for n in range(50):
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "x" * 2000 + str(n)})
            deadline = time.monotonic() + 5
            while checkpointer.checkpoints < 2:
                assert time.monotonic() < deadline, "no checkpoint was taken"
                time.sleep(0.02)
            busy, frames, copied = checkpointer.checkpoint()
            assert busy == 0 and copied == frames  # everything written has been copied back
        finally:
            checkpointer.stop()
        assert _pragma(engine, "wal_autocheckpoint") == AUTOCHECKPOINT_PAGES  # back to SQLite's own
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 50
    finally:
        engine.dispose()


def test_wal_checkpointer_leaves_postgresql_alone() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    checkpointer = WalCheckpointer(engine)
    checkpointer.start()  # nothing to do: no thread, no connection attempt
    assert checkpointer.checkpoints == 0
    checkpointer.stop()
    engine.dispose()
