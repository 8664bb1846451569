"""Every query on the timers table.

Timers are not scoped by jurisdiction here: they are system bookkeeping, read and written by
services and the worker on behalf of records that are themselves scoped.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from civicgrid.kit.statements import DriverStatement
from civicgrid.timers.models import Timer, TimerState

LIVE_STATES = (TimerState.PENDING.value, TimerState.RUNNING.value)
FINISHED_STATES = (TimerState.DONE.value, TimerState.CANCELLED.value)


_UPSERTS: dict[str, Any] = {}


def _upsert_statement(dialect: str) -> Any:
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        base = insert(Timer)
        replace = {c.name: base.excluded[c.name] for c in Timer.__table__.columns if c.name not in ("id", "key")}
        # The predicate is literal SQL: PostgreSQL must match it against the partial index when it
        # plans the statement, which it cannot do with a bound parameter (psycopg prepares
        # repeated statements server-side).
        stmt = _UPSERTS[dialect] = base.on_conflict_do_update(
            index_elements=[Timer.key], index_where=text("state = 'pending'"), set_=replace,
        ).returning(Timer.id)
    return stmt


def upsert_pending(session: Session, values: dict[str, Any]) -> str:
    """Insert a pending timer, or overwrite the pending timer with the same key; return its id.

    One statement on the partial unique index ``(key) WHERE state = 'pending'``, so two
    transactions arming the same key at once cannot leave two pending rows. The statement is
    built once per dialect and run as Core (arming is on the intake path of every matter). A
    Timer the session already holds with this id is expired, so it is read afresh.
    """
    conn = session.connection()
    timer_id = str(conn.execute(_upsert_statement(conn.dialect.name), values).scalar_one())
    held = session.identity_map.get(session.identity_key(Timer, timer_id))
    if held is not None:
        session.expire(held)
    return timer_id


_INSERT = DriverStatement.insert_into(Timer)


def insert_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert timers (every column given) with one statement run on the driver (executemany); a
    key clash raises IntegrityError."""
    _INSERT.executemany(session.connection(), rows)


def get(session: Session, timer_id: str, *, fresh: bool = False) -> Timer | None:
    """A timer by id; ``fresh`` reloads it from the database even if the session holds it."""
    return session.get(Timer, timer_id, populate_existing=fresh)


def pending_by_key(session: Session, key: str) -> Timer | None:
    return session.scalars(select(Timer).where(Timer.key == key, Timer.state == TimerState.PENDING.value)
                           ).one_or_none()


def pending_exists(session: Session, key: str, *, other_than: str) -> bool:
    return session.scalar(select(Timer.id).where(Timer.key == key, Timer.state == TimerState.PENDING.value,
                                                 Timer.id != other_than).limit(1)) is not None


def for_ref(session: Session, ref_type: str, ref_id: str, *, live_only: bool = False) -> list[Timer]:
    query: Select[Timer] = select(Timer).where(Timer.ref_type == ref_type, Timer.ref_id == ref_id)
    if live_only:
        query = query.where(Timer.state.in_(LIVE_STATES))
    return list(session.scalars(query.order_by(Timer.due_at, Timer.id)))


def cancel_live(session: Session, *, key: str | None = None, key_prefix: str | None = None,
                spare_id: str | None = None) -> list[str]:
    """Mark live timers with this key (or key prefix) cancelled; return their ids.

    ``spare_id`` is the timer the session is running right now (a handler that re-times its own
    record must not cancel the timer that is firing: the worker marks that one done).
    """
    table = Timer.__table__.c
    conditions: list[ColumnElement[bool]] = [table.state.in_(LIVE_STATES)]
    if key is not None:
        conditions.append(table.key == key)
    if key_prefix is not None:
        # A bound pattern (not `? || '%'`), so SQLite (case_sensitive_like) and PostgreSQL
        # (varchar_pattern_ops) serve it from an index instead of scanning every timer.
        escaped = key_prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
        conditions.append(table.key.like(literal(escaped + "%"), escape="/"))
    if spare_id is not None:
        conditions.append(table.id != spare_id)
    # A Core statement on the table (it runs on every workflow step that re-times its record):
    # no ORM bulk-update compilation and no "fetch" synchronisation; the session is flushed
    # first as the ORM statement would autoflush, and the timers it holds among the cancelled
    # ones are expired afterwards, so they read the new state.
    if session.autoflush:
        session.flush()
    stmt = (update(Timer.__table__).where(*conditions)  # type: ignore[arg-type]
            .values(state=TimerState.CANCELLED.value, lease_owner=None, lease_until=None)
            .returning(table.id))
    ids = [str(timer_id) for timer_id in session.connection().execute(stmt).scalars()]
    for timer_id in ids:
        held = session.identity_map.get(session.identity_key(Timer, timer_id))
        if held is not None:
            session.expire(held)
    return ids


def claim_due(session: Session, *, owner: str, now: datetime, lease_until: datetime, batch: int,
              kinds: Collection[str] | None = None) -> list[tuple[str, int]]:
    """Atomically take up to ``batch`` due timers for ``owner``; return (id, attempts) of each.

    Due means pending with ``due_at <= now``, or running with an expired lease (its worker
    died). PostgreSQL locks the candidates with ``FOR UPDATE SKIP LOCKED`` so concurrent
    workers take disjoint sets; SQLite runs the single UPDATE inside ``BEGIN IMMEDIATE``, which
    already excludes every other writer. Each claim counts as an attempt. ``kinds`` limits the
    claim to those kinds (a worker pool dedicated to some kinds).
    """
    due = or_(and_(Timer.state == TimerState.PENDING.value, Timer.due_at <= now),
              and_(Timer.state == TimerState.RUNNING.value, Timer.lease_until <= now))
    if kinds is not None:
        due = and_(due, Timer.kind.in_(list(kinds)))
    candidates = (select(Timer.id).where(due).order_by(Timer.due_at, Timer.id).limit(batch)
                  .with_for_update(skip_locked=True))
    stmt = (update(Timer).where(Timer.id.in_(candidates.scalar_subquery()))
            .values(state=TimerState.RUNNING.value, lease_owner=owner, lease_until=lease_until,
                    attempts=Timer.attempts + 1)
            .returning(Timer.id, Timer.attempts, Timer.due_at)
            .execution_options(synchronize_session=False))
    rows = list(session.execute(stmt).all())
    rows.sort(key=lambda row: (row[2], row[0]))
    return [(str(row[0]), int(row[1])) for row in rows]


def release(session: Session, timer_id: str, *, owner: str, attempts: int, **values: Any) -> bool:
    """Update a claimed timer only if the claim is still ours (same owner, same attempt, still
    running); false when it was cancelled or re-claimed after our lease ran out.

    On PostgreSQL the UPDATE re-checks its condition on the latest committed row, so a cancel
    that committed while the handler ran wins.
    """
    stmt = (update(Timer).where(Timer.id == timer_id, Timer.state == TimerState.RUNNING.value,
                                Timer.lease_owner == owner, Timer.attempts == attempts)
            .values(lease_owner=None, lease_until=None, **values)
            .execution_options(synchronize_session=False))
    return bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.execute(select(Timer.state, func.count()).group_by(Timer.state))
    return {str(state): int(count) for state, count in rows}


def overdue_count(session: Session, now: datetime) -> int:
    return int(session.scalar(select(func.count()).select_from(Timer).where(
        Timer.state == TimerState.PENDING.value, Timer.due_at <= now)) or 0)


def recent_failures(session: Session, limit: int) -> list[Timer]:
    return list(session.scalars(select(Timer).where(Timer.state == TimerState.FAILED.value)
                                .order_by(Timer.due_at.desc()).limit(limit)))


def purge_finished(session: Session, *, before: datetime, limit: int, kinds: Collection[str] | None) -> list[str]:
    """Delete up to ``limit`` finished timers (done or cancelled) armed, due and fired before
    ``before``; return their ids. A finished timer never changes state again, so what is
    selected is what is deleted."""
    query = select(Timer.id).where(Timer.state.in_(FINISHED_STATES), Timer.due_at < before, Timer.created_at < before,
                                   or_(Timer.fired_at.is_(None), Timer.fired_at < before))
    if kinds is not None:
        query = query.where(Timer.kind.in_(sorted(kinds)))
    ids = list(session.scalars(query.order_by(Timer.due_at).limit(limit)))
    if ids:
        session.execute(delete(Timer).where(Timer.id.in_(ids)))
    return ids


def live_keys(session: Session, keys: Collection[str]) -> set[str]:
    """Which of ``keys`` have a pending or running timer."""
    if not keys:
        return set()
    return set(session.scalars(select(Timer.key).where(Timer.key.in_(list(keys)), Timer.state.in_(LIVE_STATES))))


def latest_by_key(session: Session, key: str, states: Collection[str]) -> Timer | None:
    """The timer with ``key`` in one of ``states`` that was due last."""
    return session.scalars(select(Timer).where(Timer.key == key, Timer.state.in_(list(states)))
                           .order_by(Timer.due_at.desc()).limit(1)).first()
