"""Engine, sessions and the declarative Base.

One transaction per request (DESIGN.md rule 2): the session dependency commits when the
endpoint returns and rolls back when it raises. Services flush, never commit. Work that must
only happen once the data is durable (realtime pushes, waking the timer worker) is queued
with :func:`after_commit` and runs only if the transaction commits.

SQLite runs in WAL mode. A write transaction starts with ``BEGIN IMMEDIATE`` so that two
writers queue on the lock instead of failing half-way with "database is locked".
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from civicgrid.config import get_settings
from civicgrid.kit.errors import AppError

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model. ``__audit__ = False`` opts a model out of the audit chain;
    ``__audit_redact__`` names columns whose values never enter it (password hashes, ciphertext).
    ``__telemetry__ = "why"`` marks a table of telemetry (unit positions): rows arriving many times
    a second per device, never one audit entry each; the chain records the state changes they
    feed instead. A telemetry table is never audited, whatever ``__audit__`` says, and is written
    in batches with Core statements (``audit.service.audited`` is the one test)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    __audit__: bool = True
    __telemetry__: str | None = None
    __audit_redact__: frozenset[str] = frozenset()


def assign_key(entity: Any) -> bool:
    """Give a new ``entity`` its primary key now, from its single key column's Python default
    (``default=new_id``), as its INSERT would; whether it has one afterwards. Lets a caller write
    an entity together with rows that name it in one flush, instead of flushing it first for its id."""
    from sqlalchemy import inspect

    mapper = inspect(type(entity), raiseerr=False)
    if mapper is None or len(mapper.primary_key) != 1:
        return False
    column = mapper.primary_key[0]
    attr = mapper.get_property_by_column(column).key
    if getattr(entity, attr, None) is not None:
        return True
    default = column.default
    if default is None or not getattr(default, "is_callable", False):
        return False
    setattr(entity, attr, default.arg(None))
    return True


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        # After a checkpoint, a WAL grown by a burst of writes is cut back to this size.
        cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        # Jurisdiction scoping is `code LIKE 'prefix%'`; SQLite uses an index for a prefix LIKE
        # only when LIKE is case-sensitive (codes are digits, so nothing else changes).
        cur.execute("PRAGMA case_sensitive_like=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        # Straight to the driver: every transaction runs this, and going through the
        # connection's execute machinery cost more than the statement.
        conn.connection.dbapi_connection.execute(f"BEGIN {mode}")

    key = engine.url.render_as_string(hide_password=False)

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        # While a WalCheckpointer runs for this database, commits never checkpoint themselves.
        wanted = 0 if key in _background_checkpoints else AUTOCHECKPOINT_PAGES
        if record.info.get("wal_autocheckpoint") != wanted:
            dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={wanted}")
            record.info["wal_autocheckpoint"] = wanted


AUTOCHECKPOINT_PAGES = 1000
"""SQLite's default: a commit that takes the WAL past this many pages checkpoints it first."""
WAL_SIZE_LIMIT = 64 * 1024 * 1024
_background_checkpoints: set[str] = set()


class WalCheckpointer:
    """Checkpoints a SQLite database's WAL from a thread of its own, once a second.

    By default SQLite checkpoints inside the commit that crosses 1,000 WAL pages: every few
    dozen writes one request pays for copying the WAL back and two fsyncs, which sets the tail
    latency of intake. While this runs, commits only append to the WAL, and a PASSIVE checkpoint
    (it never blocks readers or writers) copies it back in the background. When it stops, the
    commits checkpoint themselves again. Nothing changes for durability: a commit is durable in
    the WAL either way (``synchronous=NORMAL``).
    """

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self.key = engine.url.render_as_string(hide_password=False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0

    def start(self) -> None:
        if self.engine.dialect.name != "sqlite" or self._thread is not None:
            return
        _background_checkpoints.add(self.key)
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=30)
        self._thread = None
        _background_checkpoints.discard(self.key)

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, WAL frames, frames copied back)."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            row = cursor.fetchone()
            cursor.close()
        finally:
            raw.close()
        self.checkpoints += 1
        busy, frames, copied = row if row else (0, 0, 0)
        return int(busy), int(frames), int(copied)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.checkpoint()
            except Exception:  # a failed round is retried at the next; commits still succeed
                log.exception("WAL checkpoint failed")
        try:
            self.checkpoint()
        except Exception:
            log.exception("final WAL checkpoint failed")


def write_lock_timeout() -> float:
    """How long a SQLite writer waits for its turn (``CIVICGRID_WRITE_LOCK_TIMEOUT_SECONDS``)."""
    return float(get_settings().write_lock_timeout_seconds)


RETRY_AFTER_SECONDS = 2
"""What a 503 for a busy write turn tells the client to wait before trying again."""


class WriteTurnBusy(AppError):
    """A SQLite writer did not get the write turn in time (another thread or process held it,
    a long import say): 503 with ``Retry-After``, so a client tries again instead of hanging."""

    status = 503
    code = "write_busy"

    def __init__(self, waited: float) -> None:
        super().__init__(f"系统繁忙：{waited:.0f} 秒内未能写入，请稍后重试",
                         f"Busy: could not write within {waited:.0f} s; please retry shortly")
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class WriteReentry(RuntimeError):
    """A programming error: a write transaction was opened while the same flow of control
    already holds the SQLite write turn (the locks are not re-entrant, so it would wait for
    itself until the timeout). Write through the session you already have, or open the second
    transaction after the first has ended."""


class FairLock:
    """A lock that waiters get in the order they asked (``threading.Lock`` wakes any waiter, so
    under steady load one request can lose the race again and again). Release hands the lock
    straight to the longest waiter. Not owned by a thread: FastAPI may enter and leave a
    request's session dependency on different threadpool threads."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._locked = False
        self._waiters: deque[threading.Lock] = deque()

    def acquire(self, timeout: float = -1) -> bool:
        with self._mutex:
            if not self._locked:
                self._locked = True
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=timeout):
            return True  # handed over by release()
        with self._mutex:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return False
        return True  # handed over just as the wait timed out: ours now

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # stays locked: ownership passes on
            else:
                self._locked = False

    def locked(self) -> bool:
        return self._locked


class ProcessLock:
    """The write turn among processes that share a SQLite file: an exclusive ``flock`` on
    ``<database>.write-lock``. A waiting process sleeps in the kernel and is woken the moment the
    holder lets go (SQLite's own busy handler would poll, sleeping up to 100 ms between tries);
    a process that dies holding it releases it with its file. Taken after the process's
    :class:`FairLock`, so one thread per process waits here.

    With a ``timeout`` the blocking ``flock`` (which cannot be interrupted from Python) runs in a
    waiter thread of its own and the caller waits on it for at most ``timeout``; a caller that
    gives up leaves the waiter to let go of the lock as soon as it gets it, and the next caller
    adopts a waiter still pending rather than start a second one (two waiters on one open file
    would both "hold" the one lock). The free case is one non-blocking ``flock``, no thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0
        self._open = threading.Lock()
        self._waiter: _FlockWaiter | None = None

    def _descriptor(self) -> int:
        with self._open:
            if self._fd is None or os.getpid() != self._pid:  # a forked child opens its own
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
                self._waiter = None  # the parent's waiter thread does not exist here
            return self._fd

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the turn; with ``timeout`` (seconds) give up after it and answer False."""
        fd = self._descriptor()
        with self._open:
            waiter = self._waiter
            if waiter is None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass
                if timeout is None:
                    waiter = None
                else:
                    waiter = self._waiter = _FlockWaiter()
                    threading.Thread(target=self._wait, args=(fd, waiter), name="sqlite-write-turn",
                                     daemon=True).start()
            if waiter is not None:
                waiter.wanted = True
        if waiter is None:  # no timeout: wait right here
            fcntl.flock(fd, fcntl.LOCK_EX)
            return True
        got = waiter.got.wait(timeout)
        with self._open:
            if waiter.got.is_set():
                if self._waiter is waiter:
                    self._waiter = None
                return True
            waiter.wanted = False
        return bool(got)

    def _wait(self, fd: int, waiter: _FlockWaiter) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with self._open:
            if waiter.wanted:
                waiter.got.set()
                return
            if self._waiter is waiter:
                self._waiter = None
            fcntl.flock(fd, fcntl.LOCK_UN)  # whoever waited gave up

    def release(self) -> None:
        fcntl.flock(self._descriptor(), fcntl.LOCK_UN)


class _FlockWaiter:
    """A thread blocked in ``flock`` for :class:`ProcessLock` and whether anyone still wants it."""

    def __init__(self) -> None:
        self.got = threading.Event()
        self.wanted = True


_write_locks: dict[str, FairLock] = {}
_process_locks: dict[str, ProcessLock] = {}


def make_engine(url: str) -> Engine:
    """Create an engine for a URL (SQLite gets WAL, foreign keys, explicit BEGIN and a write lock)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=8, max_overflow=16)
        _install_sqlite_hooks(engine)
        key = _lock_key(engine)
        _write_locks.setdefault(key, FairLock())
        if parsed.database and parsed.database != ":memory:":
            _process_locks.setdefault(key, ProcessLock(Path(parsed.database + ".write-lock")))
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


PING_AFTER_IDLE_SECONDS = 2.0
"""A pooled PostgreSQL connection idle for longer than this is pinged when it is checked out."""
_IDLE_SINCE = "civicgrid_idle_since"


def _ping_when_idle(engine: Engine, seconds: float) -> None:
    """Pessimistic disconnect handling without a round trip per checkout. SQLAlchemy's
    ``pool_pre_ping`` pings every connection it hands out, one round trip per request (a read
    request's whole work is one more); under load a connection comes back to the pool within
    milliseconds, and a connection that was just used is alive. So only a connection idle for
    ``seconds`` is pinged: a dead one (the server restarted) invalidates the pool, as the
    pre-ping does, and the checkout gets a fresh connection. A connection that dies in the
    window fails its first statement, which invalidates it (Core does that on a disconnect
    error; :mod:`civicgrid.kit.statements` too)."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_conn, None):
                raise exc.InvalidatePoolError() from error
            raise


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for a URL (the configured one by default)."""
    url = url or get_settings().database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


_factories: dict[tuple[Engine, bool], sessionmaker[Session]] = {}


def session_factory(engine: Engine | None = None, *, write: bool = True) -> sessionmaker[Session]:
    """A sessionmaker; read-only sessions on SQLite begin DEFERRED so they never wait on writers.
    One per engine and kind: a read factory binds to an option engine, whose creation copies the
    engine's event dispatch (about half a millisecond here, every time)."""
    engine = engine or get_engine()
    found = _factories.get((engine, write))
    if found is None:
        bind = engine if write else engine.execution_options(sqlite_begin="DEFERRED")
        found = _factories[(engine, write)] = sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)
    return found


AfterCommit = Callable[[], None]
T = TypeVar("T")
_ALONE: Any = object()


def after_commit(session: Session, callback: AfterCommit) -> None:
    """Run ``callback`` once this session's transaction has committed; never if it rolls back.

    A callback queued inside a savepoint (``begin_nested``) is dropped when that savepoint rolls
    back, even if the outer transaction later commits.
    """
    _after_commit(session, callback, _ALONE)


def after_commit_together(session: Session, handler: Callable[[list[T]], None], item: T) -> None:
    """Hand ``item`` to ``handler`` once this session's transaction has committed, together
    with every other item queued for the same handler in the transaction: one call with the
    list, in the order queued (a transaction's realtime messages go out in one round trip).
    Savepoints as :func:`after_commit`; the call runs where the first item was queued among
    the other callbacks."""
    _after_commit(session, handler, item)


def _after_commit(session: Session, callback: Callable[..., None], item: Any) -> None:
    # Queuing begins the session's transaction if nothing has yet, so that it is committed.
    txn = session.get_nested_transaction() or session.get_transaction() or session.begin()
    session.info.setdefault("after_commit", []).append((txn, callback, item))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    queued: list[tuple[Any, Callable[..., None], Any]] = session.info.pop("after_commit", [])
    together: dict[Callable[..., None], list[Any]] = {}
    calls: list[tuple[Callable[..., None], list[Any] | None]] = []
    for _txn, callback, item in queued:
        if item is _ALONE:
            calls.append((callback, None))
        elif callback in together:
            together[callback].append(item)
        else:
            together[callback] = [item]
            calls.append((callback, together[callback]))
    for callback, items in calls:
        try:
            callback() if items is None else callback(items)
        except Exception:  # a failed push must not undo a committed write
            log.exception("after-commit callback failed")


def within_transaction(txn: Any, ancestor: Any) -> bool:
    """Whether session transaction ``txn`` is ``ancestor`` or nested inside it (work queued in a
    savepoint goes when that savepoint, or anything around it, rolls back)."""
    while txn is not None:
        if txn is ancestor:
            return True
        txn = txn.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction: Any) -> None:
    queued: list[tuple[Any, Callable[..., None], Any]] = session.info.get("after_commit", [])
    kept = [entry for entry in queued if not within_transaction(entry[0], previous_transaction)]
    if kept:
        session.info["after_commit"] = kept
    else:
        session.info.pop("after_commit", None)


def _lock_key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


_write_turns: ContextVar[frozenset[str]] = ContextVar("civicgrid_write_turns", default=frozenset())
"""The SQLite databases whose write turn this flow of control holds: a thread inside
:func:`transaction`, or a request whose write session is open (set by :func:`get_session` on the
event loop, so it reaches the endpoint's thread-pool calls, which copy the context)."""


@contextmanager
def _writing(engine: Engine, write: bool) -> Iterator[None]:
    """Queue a SQLite write transaction (nothing on PostgreSQL): this process's turn
    (:class:`FairLock`), then, on a SQLite file, the turn among processes (:class:`ProcessLock`).
    SQLite admits one writer; without the locks, waiting writers poll in the driver's busy
    handler and sleep up to 100 ms between tries, which puts seconds on the slowest requests
    under concurrent intake. First come, first served, so the slowest request waits for the
    ones ahead of it and no longer.

    Neither lock is re-entrant: a second write transaction opened while this flow of control
    holds the turn raises :class:`WriteReentry` at once (it would otherwise wait for itself).
    A writer that does not get both turns within ``write_lock_timeout()`` raises
    :class:`WriteTurnBusy` (503, ``Retry-After``)."""
    key = _lock_key(engine) if write else ""
    lock = _write_locks.get(key)
    if lock is None:
        yield
        return
    held = _write_turns.get()
    if key in held:
        raise WriteReentry("a write transaction was opened while this request or thread already holds the "
                           "SQLite write turn; write through the open session instead")
    timeout = write_lock_timeout()
    deadline = time.monotonic() + timeout
    if not lock.acquire(timeout=timeout):
        raise WriteTurnBusy(timeout)
    try:
        other_processes = _process_locks.get(key)
        if other_processes is not None and not other_processes.acquire(max(0.0, deadline - time.monotonic())):
            raise WriteTurnBusy(timeout)
        _write_turns.set(held | {key})
        try:
            yield
        finally:
            _write_turns.set(held)
            if other_processes is not None:
                other_processes.release()
    finally:
        lock.release()


def _holding_write_turn(engine: Engine) -> frozenset[str]:
    """Mark this context as holding ``engine``'s write turn (a request's open write session);
    return the previous marks, to put back when the session ends."""
    held = _write_turns.get()
    key = _lock_key(engine)
    if key in _write_locks:
        _write_turns.set(held | {key})
    return held


@contextmanager
def _unit_of_work(factory: sessionmaker[Session], engine: Engine, write: bool,
                  info: dict[str, Any] | None) -> Iterator[Session]:
    """Commit on success, roll back on any exception, always close; writers queue on the lock."""
    with _writing(engine, write):
        session = factory()
        session.info["write"] = write
        if info:
            session.info.update(info)
        try:
            yield session
            if session.in_transaction():  # a session that never began has nothing to commit
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


@contextmanager
def transaction(engine: Engine | None = None, *, write: bool = True,
                info: dict[str, Any] | None = None) -> Iterator[Session]:
    """A unit of work outside a request (CLI, timers, imports): commit on success, else roll back."""
    engine = engine or get_engine()
    with _unit_of_work(session_factory(engine, write=write), engine, write, info) as session:
        yield session


J = TypeVar("J")
R = TypeVar("R")


class GroupCommit(Generic[J, R]):
    """Group commit: jobs that arrive together run and commit as one transaction.

    Callers queue jobs; one writer thread of this object's takes every job queued so far (up to
    ``max_batch``), runs ``work(session, jobs)`` once in one transaction (taking the process's
    SQLite write turn like any writer), commits, and then hands each caller its result. While
    it writes, new jobs queue for the next transaction, so under load a transaction carries as
    many jobs as arrived during the previous one and its fixed costs (BEGIN, the audit chain's
    head, COMMIT, one statement per table instead of one per job) are shared. With one caller
    at a time it is a plain transaction per job.

    ``work`` returns one result per job, in order; a result that is an exception is raised to
    that caller alone. If the batch's transaction fails, each job is run again in a transaction
    of its own, so one bad job cannot fail the others. Results go out only after the commit.
    Callers wait on :meth:`submit` (a thread) or ``await`` :meth:`submit_async` (the event loop,
    without holding a worker thread while they wait).
    """

    def __init__(self, engine: Engine, work: Callable[[Session, list[J]], list[R | Exception]], *,
                 max_batch: int = 64) -> None:
        self.engine = engine
        self.work = work
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[J, Future[R]] | None] = queue.SimpleQueue()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.jobs = 0

    def enqueue(self, job: J) -> Future[R]:
        """Queue ``job``; the future resolves once its transaction has committed."""
        future: Future[R] = Future()
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._write_forever, name="group-commit", daemon=True)
                self._thread.start()
            self._queue.put((job, future))
        return future

    def submit(self, job: J) -> R:
        """Run ``job`` (with whatever else is queued) and return its result once committed."""
        return self.enqueue(job).result()

    async def submit_async(self, job: J) -> R:
        """:meth:`submit` for the event loop."""
        return await asyncio.wrap_future(self.enqueue(job))

    def stop(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then stop the writer thread (a later job starts a new one)."""
        with self._start:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.put(None)
        thread.join(timeout)

    def _write_forever(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = [first], False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            try:
                self._run(batch)
            except BaseException as exc:  # never leave a caller waiting
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            if stop:
                return

    def _run(self, batch: list[tuple[J, Future[R]]]) -> None:
        try:
            with transaction(self.engine) as session:
                results = self.work(session, [job for job, _ in batch])
        except Exception as exc:
            if len(batch) == 1 or isinstance(exc, WriteTurnBusy):  # no turn: one by one would wait again each
                for _, future in batch:
                    future.set_exception(exc)
                return
            log.warning("group commit of %d jobs failed (%s); running them one by one", len(batch), exc)
            for item in batch:
                self._run([item])
            return
        self.batches += 1
        self.jobs += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READS_ONLY = "__civicgrid_reads_only__"

F = TypeVar("F", bound=Callable[..., Any])


def reads_only(endpoint: F) -> F:
    """Mark an endpoint whose request session only reads although the method writes: it writes
    through a path of its own (a :class:`GroupCommit`), so its request must not hold the write
    lock (on SQLite a read session never waits for writers)."""
    setattr(endpoint, READS_ONLY, True)
    return endpoint


async def get_session(request: Request) -> AsyncIterator[Session]:
    """FastAPI dependency: one session and one transaction per request.

    Commits when the endpoint returns, rolls back when it raises. GET requests get a
    DEFERRED (read) transaction on SQLite; writes get BEGIN IMMEDIATE.

    Nothing here blocks the event loop (architecture rule 1). A write session is opened (it may
    wait for the SQLite write turn) and committed in the thread pool; while it is open the
    request's context is marked as holding the turn, so a second write transaction opened by
    the same request fails at once (:class:`WriteReentry`). A read session is opened on the
    event loop (a session does no I/O until its first statement) and ended in the thread pool
    when it began a transaction (COMMIT, then the connection's return to the pool, are round
    trips on PostgreSQL); a read session that never began (the token check runs on its own
    pooled connection) ends on the loop, as there is nothing to send.
    """
    factories: dict[bool, sessionmaker[Session]] = request.app.state.session_factories
    write = request.method not in READ_METHODS and not getattr(request.scope.get("endpoint"), READS_ONLY, False)
    client = request.client
    info = {"ip": client.host if client else None, "request_id": getattr(request.state, "request_id", None)}
    engine: Engine = request.app.state.engine
    unit = _unit_of_work(factories[write], engine, write, info)
    if write:
        session = await run_in_threadpool(unit.__enter__)
        previous = _holding_write_turn(engine)
    else:
        session = unit.__enter__()
        previous = _write_turns.get()
    try:
        yield session
    except BaseException as exc:
        _write_turns.set(previous)
        if not await _end(unit, session, write, exc):
            raise
    else:
        _write_turns.set(previous)
        await _end(unit, session, write, None)


async def _end(unit: Any, session: Session, write: bool, exc: BaseException | None) -> bool | None:
    """Leave the unit of work: in the thread pool when it has anything to send to the database."""
    args = (type(exc), exc, exc.__traceback__) if exc is not None else (None, None, None)
    if write or session.in_transaction():
        return await run_in_threadpool(unit.__exit__, *args)
    return bool(unit.__exit__(*args))


DbSession = Annotated[Session, Depends(get_session, scope="function")]
"""The request's session for endpoints and dependencies. ``scope="function"`` makes FastAPI run
the commit before the response is sent: a client never sees a success whose write is not yet
durable (the default scope would commit after the response)."""
