"""The SQLite plumbing under every request: WAL checkpoints off the request path, the write
lock's order, and the write turn among processes; on PostgreSQL, the pool's ping of idle connections."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

import civicgrid.db
from civicgrid.db import AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT, WalCheckpointer, make_engine, transaction


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


def test_processes_sharing_a_sqlite_file_take_turns_to_write(tmp_path: Path) -> None:
    """Another process holding the write turn (the file lock) makes this process's writer wait
    for exactly as long as it holds it, then go at once."""
    database = tmp_path / "turns.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from civicgrid.db import ProcessLock\n"
        f"lock = ProcessLock(Path({str(database) + '.write-lock'!r}))\n"
        "lock.acquire(); print('held', flush=True); time.sleep(0.6); lock.release(); print('free', flush=True)\n"
    )], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with transaction(engine) as session:
            session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        waited = time.monotonic() - started
        assert holder.stdout.readline().strip() == "free"
        assert 0.4 < waited < 5
    finally:
        holder.wait(timeout=10)
        engine.dispose()


def test_an_idle_postgresql_connection_is_pinged_and_a_dead_one_replaced(db_url: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """No ping for a connection just used (a round trip per request saved under load); one idle
    past the window is pinged, and a dead one is replaced before anyone gets it."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL pass runs this")
    monkeypatch.setattr(civicgrid.db, "PING_AFTER_IDLE_SECONDS", 0.2)
    engine = make_engine(db_url)
    killer = create_engine(db_url, poolclass=NullPool)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping

    def counted_ping(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    try:
        with engine.connect() as conn:
            first = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with engine.connect() as conn:  # back at once: not pinged
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() == first
        assert pings == []
        time.sleep(0.3)
        with engine.connect() as conn:  # idle past the window: pinged, alive, kept
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() == first
        assert len(pings) == 1
        with killer.connect() as other:  # the server drops the connection while it waits in the pool
            other.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
        time.sleep(0.3)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != first
    finally:
        engine.dispose()
        killer.dispose()
