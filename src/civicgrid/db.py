"""Engine, sessions and the declarative Base.

One transaction per request (DESIGN.md rule 2): the session dependency commits when the
endpoint returns and rolls back when it raises. Services flush, never commit. Work that must
only happen once the data is durable (realtime pushes, waking the timer worker) is queued
with :func:`after_commit` and runs only if the transaction commits.

SQLite runs in WAL mode. A write transaction starts with ``BEGIN IMMEDIATE`` so that two
writers queue on the lock instead of failing half-way with "database is locked".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator
from starlette.requests import Request

from civicgrid.config import get_settings

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
    ``__audit_redact__`` names columns whose values never enter it (password hashes, ciphertext)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    __audit__: bool = True
    __audit_redact__: frozenset[str] = frozenset()


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
        # Jurisdiction scoping is `code LIKE 'prefix%'`; SQLite uses an index for a prefix LIKE
        # only when LIKE is case-sensitive (codes are digits, so nothing else changes).
        cur.execute("PRAGMA case_sensitive_like=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


WRITE_LOCK_TIMEOUT = 60.0
_write_locks: dict[str, threading.Lock] = {}


def write_lock(engine: Engine) -> threading.Lock | None:
    """The process-wide lock that queues this process's SQLite write transactions (None on
    PostgreSQL). SQLite admits one writer; without the lock, waiting writers poll in the driver's
    busy handler and sleep up to 100 ms between tries, which puts seconds on the slowest requests
    under concurrent intake. A plain Lock, not an RLock: FastAPI may enter and leave a request's
    session dependency on different threadpool threads."""
    return _write_locks.get(engine.url.render_as_string(hide_password=False))


def make_engine(url: str) -> Engine:
    """Create an engine for a URL (SQLite gets WAL, foreign keys, explicit BEGIN and a write lock)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=8, max_overflow=16)
        _install_sqlite_hooks(engine)
        _write_locks.setdefault(engine.url.render_as_string(hide_password=False), threading.Lock())
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


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


def session_factory(engine: Engine | None = None, *, write: bool = True) -> sessionmaker[Session]:
    """A sessionmaker; read-only sessions on SQLite begin DEFERRED so they never wait on writers."""
    engine = engine or get_engine()
    bind = engine if write else engine.execution_options(sqlite_begin="DEFERRED")
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)


AfterCommit = Callable[[], None]


def after_commit(session: Session, callback: AfterCommit) -> None:
    """Run ``callback`` once this session's transaction has committed; never if it rolls back.

    A callback queued inside a savepoint (``begin_nested``) is dropped when that savepoint rolls
    back, even if the outer transaction later commits.
    """
    txn = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault("after_commit", []).append((txn, callback))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    queued: list[tuple[Any, AfterCommit]] = session.info.pop("after_commit", [])
    for _txn, callback in queued:
        try:
            callback()
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
    queued: list[tuple[Any, AfterCommit]] = session.info.get("after_commit", [])
    kept = [(txn, cb) for txn, cb in queued if not within_transaction(txn, previous_transaction)]
    if kept:
        session.info["after_commit"] = kept
    else:
        session.info.pop("after_commit", None)


@contextmanager
def _writing(engine: Engine, write: bool) -> Iterator[None]:
    lock = write_lock(engine) if write else None
    if lock is None:
        yield
        return
    if not lock.acquire(timeout=WRITE_LOCK_TIMEOUT):
        raise TimeoutError(f"no SQLite write slot within {WRITE_LOCK_TIMEOUT:.0f} s")
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _unit_of_work(factory: sessionmaker[Session], engine: Engine, write: bool,
                  info: dict[str, Any] | None) -> Iterator[Session]:
    """Commit on success, roll back on any exception, always close; writers queue on the lock."""
    with _writing(engine, write):
        session = factory()
        if info:
            session.info.update(info)
        try:
            yield session
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


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: one session and one transaction per request.

    Commits when the endpoint returns, rolls back when it raises. GET requests get a
    DEFERRED (read) transaction on SQLite; writes get BEGIN IMMEDIATE.
    """
    factories: dict[bool, sessionmaker[Session]] = request.app.state.session_factories
    write = request.method not in READ_METHODS
    client = request.client
    info = {"ip": client.host if client else None, "request_id": getattr(request.state, "request_id", None)}
    with _unit_of_work(factories[write], request.app.state.engine, write, info) as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
"""The request's session for endpoints and dependencies. ``scope="function"`` makes FastAPI run
the commit before the response is sent: a client never sees a success whose write is not yet
durable (the default scope would commit after the response)."""
