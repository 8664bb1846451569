"""The SQLite plumbing under every request: WAL checkpoints off the request path, the write
lock's order, and the write turn among processes; on PostgreSQL, the pool's ping of idle connections."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

import civicgrid.db
from civicgrid.db import AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT, DbSession, WalCheckpointer, make_engine, transaction


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
    holder = _hold_write_lock(database)
    finished: list[float] = []

    def write() -> None:
        with transaction(engine) as session:
            session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        finished.append(time.monotonic())

    writer = threading.Thread(target=write)
    try:
        writer.start()
        writer.join(0.5)
        assert writer.is_alive() and not finished  # waiting for the other process's turn
        let_go_at = time.monotonic()
        holder.let_go()
        writer.join(10)
        assert len(finished) == 1 and finished[0] > let_go_at  # went only once the other let go
        assert finished[0] - let_go_at < 5  # and then at once, not after a busy-wait's sleep
    finally:
        holder.close()
        engine.dispose()


def test_an_idle_postgresql_connection_is_pinged_and_a_dead_one_replaced(db_url: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """No ping for a connection just used (a round trip per request saved under load); one idle
    past the window is pinged, and a dead one is replaced before anyone gets it."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL pass runs this")
    # A window no scheduling delay reaches; "idle past it" is made by ageing the pool's own stamp.
    monkeypatch.setattr(civicgrid.db, "PING_AFTER_IDLE_SECONDS", 600.0)
    engine = make_engine(db_url)
    # Autocommit: PostgreSQL reads pg_stat_activity once per transaction, so polling it inside one
    # would never see the backend go (what made this test wait out its deadline under load).
    killer = create_engine(db_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    pings: list[object] = []
    real_ping = engine.dialect.do_ping

    def counted_ping(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    def idle_past_the_window(record_info: dict[str, float]) -> None:
        record_info[civicgrid.db._IDLE_SINCE] -= 601.0  # as if checked in ten minutes ago

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    try:
        with engine.connect() as conn:
            first = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            record_info = conn.connection.info  # the pool record's: outlives this checkout
        with engine.connect() as conn:  # back at once: not pinged
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() == first
        assert pings == []
        idle_past_the_window(record_info)
        with engine.connect() as conn:  # idle past the window: pinged, alive, kept
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() == first
        assert len(pings) == 1
        with killer.connect() as other:  # the server drops the connection while it waits in the pool
            other.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
            deadline = time.monotonic() + 60
            while other.exec_driver_sql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {first}").scalar():
                assert time.monotonic() < deadline, "the terminated backend never went away"
                time.sleep(0.01)
        idle_past_the_window(record_info)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != first
        assert len(pings) == 2
    finally:
        engine.dispose()
        killer.dispose()


# ---------------------------------------------------------------- the write turn: re-entry and timeout


def _sqlite_only(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the SQLite write turn: PostgreSQL has no process-wide write lock")


def test_a_nested_write_transaction_fails_at_once_instead_of_waiting_for_itself(tmp_path: Path) -> None:
    """FairLock and ProcessLock are not re-entrant: before, the inner transaction waited 60 s
    on its own lock and the request answered 500. Now it is a programming error, raised at once."""
    engine = make_engine(f"sqlite:///{tmp_path / 'nested.sqlite3'}")
    try:
        started = time.monotonic()
        with pytest.raises(civicgrid.db.WriteReentry), transaction(engine) as outer:
            outer.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            with transaction(engine):
                pass
        assert time.monotonic() - started < 5.0  # not after the 10 s wait for its turn (it is the error, not a timeout)
        # The outer transaction rolled back and let go: the next writer goes at once.
        with transaction(engine) as session:
            session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        with transaction(engine, write=False) as reader, transaction(engine) as writer:  # a read may nest
            writer.execute(text("INSERT INTO t (id) VALUES (1)"))
            reader.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_a_request_that_opens_a_second_write_transaction_gets_an_error_at_once(db_url: str) -> None:
    """The request's write session marks its context as holding the turn, so a transaction
    opened by the endpoint (in the thread pool) is refused at once; in a read request it is fine,
    and another request's writer on another thread is never mistaken for re-entry."""
    _sqlite_only(db_url)
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from civicgrid.db import WriteReentry, get_engine, session_factory
    from tests.conftest import start_server

    engine = get_engine(db_url)
    app = FastAPI()
    app.state.engine = engine
    app.state.session_factories = {True: session_factory(engine, write=True),
                                   False: session_factory(engine, write=False)}

    @app.exception_handler(WriteReentry)
    async def _reentry(_request: object, exc: WriteReentry) -> JSONResponse:
        return JSONResponse({"error": "reentry"}, status_code=500)

    def nested(session: DbSession) -> dict[str, str]:
        session.execute(text("SELECT 1"))
        with transaction(engine) as own:
            own.execute(text("SELECT 1"))
        return {"ok": "yes"}

    app.post("/nested")(nested)
    app.get("/nested")(nested)
    server = start_server(app)
    try:
        import httpx

        started = time.monotonic()
        refused = httpx.post(f"{server.url}/nested", timeout=30)
        assert refused.status_code == 500 and refused.json() == {"error": "reentry"}
        assert time.monotonic() - started < 5.0  # not after the 10 s wait for its turn
        assert httpx.get(f"{server.url}/nested", timeout=30).json() == {"ok": "yes"}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4) as pool:  # concurrent writers on other threads: no false alarm
            answers = list(pool.map(lambda _: httpx.get(f"{server.url}/nested", timeout=30).status_code, range(8)))
        assert answers == [200] * 8
    finally:
        server.stop()


class _Holder:
    """Another process that holds the SQLite write lock until the test tells it to let go."""

    def __init__(self, database: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", (
            "import sys\n"
            "from pathlib import Path\n"
            "from civicgrid.db import ProcessLock\n"
            f"lock = ProcessLock(Path({str(database) + '.write-lock'!r}))\n"
            "lock.acquire(); print('held', flush=True)\n"
            "sys.stdin.readline(); lock.release(); print('free', flush=True)\n"
        )], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "held"

    def let_go(self) -> None:
        """Release the lock; returns once the other process has let go."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "free"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=10)


def _hold_write_lock(database: Path) -> _Holder:
    return _Holder(database)


def test_the_process_lock_gives_up_after_its_timeout_and_leaves_no_claim_behind(tmp_path: Path) -> None:
    from civicgrid.db import ProcessLock

    database = tmp_path / "timeout.sqlite3"
    holder = _hold_write_lock(database)
    lock = ProcessLock(Path(str(database) + ".write-lock"))
    try:
        started = time.monotonic()
        assert lock.acquire(timeout=0.2) is False
        assert time.monotonic() - started >= 0.2  # waited its timeout, not less
        got: list[bool] = []
        later = threading.Thread(target=lambda: got.append(lock.acquire(timeout=30)))
        later.start()  # adopts the waiter still pending: gets the lock when the other lets go
        holder.let_go()
        later.join(30)
        assert got == [True]
        lock.release()
        # A caller that gives up leaves nothing holding the lock once the other process lets go.
        second = _hold_write_lock(database)
        try:
            assert lock.acquire(timeout=0.1) is False
            second.let_go()
        finally:
            second.close()
        # The abandoned waiter takes the lock and lets go at once: another open file gets it.
        elsewhere = ProcessLock(Path(str(database) + ".write-lock"))
        assert elsewhere.acquire(timeout=10) is True
        elsewhere.release()
        assert lock.acquire(timeout=10) is True
        lock.release()
    finally:
        holder.close()


def test_a_write_that_cannot_get_its_turn_answers_503_with_retry_after(db_url: str, live_server: object,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holds the SQLite write lock past CIVICGRID_WRITE_LOCK_TIMEOUT_SECONDS: the
    write answers 503 with Retry-After and a Chinese message, instead of hanging (before: 60 s,
    then 500); once the lock is free, writes go through again."""
    _sqlite_only(db_url)
    import httpx

    from civicgrid.config import get_settings

    monkeypatch.setattr(get_settings(), "write_lock_timeout_seconds", 0.5)
    url = live_server.url  # type: ignore[attr-defined]
    database = Path(db_url.removeprefix("sqlite:///"))
    holder = _hold_write_lock(database)  # held until the test lets go: however slow the machine
    try:
        started = time.monotonic()
        busy = httpx.post(f"{url}/api/v1/auth/login", json={"username": "nobody", "password": "x" * 12}, timeout=30)
        assert time.monotonic() - started < 10  # gave up after its 0.5 s (before: hung for 60 s)
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "2"
        assert busy.json()["error"]["code"] == "write_busy"
        assert "系统繁忙" in busy.json()["error"]["message"]
        holder.let_go()
    finally:
        holder.close()
    refused = httpx.post(f"{url}/api/v1/auth/login", json={"username": "nobody", "password": "x" * 12}, timeout=30)
    assert refused.status_code == 401


def test_a_group_commit_without_the_write_turn_fails_its_jobs_at_once(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch that cannot get the turn is not retried job by job (each would wait again)."""
    from concurrent.futures import wait

    from civicgrid.config import get_settings
    from civicgrid.db import GroupCommit, WriteTurnBusy

    monkeypatch.setattr(get_settings(), "write_lock_timeout_seconds", 0.3)
    database = tmp_path / "group.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    committer: GroupCommit[int, int] = GroupCommit(engine, lambda _session, jobs: list(jobs))
    attempts: list[float] = []
    real_acquire = civicgrid.db.ProcessLock.acquire

    def counted_acquire(self: civicgrid.db.ProcessLock, timeout: float | None = None) -> bool:
        attempts.append(timeout or 0.0)
        return real_acquire(self, timeout)

    monkeypatch.setattr(civicgrid.db.ProcessLock, "acquire", counted_acquire)
    holder = _hold_write_lock(database)
    try:
        futures = [committer.enqueue(n) for n in range(6)]
        wait(futures, timeout=30)
        assert all(isinstance(future.exception(), WriteTurnBusy) for future in futures)
        # Two batches at most (the first job may start one alone); job by job would be six waits.
        assert 1 <= len(attempts) <= 2
        holder.let_go()
    finally:
        holder.close()
    try:
        assert committer.submit(7) == 7  # the turn is free again: the writer thread carries on
    finally:
        committer.stop()
        engine.dispose()
