"""Arming, cancelling and handling durable timers.

A timer is armed inside the business transaction that needs it (a workflow step that enters a
state with a time limit), so it exists exactly when that transaction commits. The worker
(:mod:`civicgrid.timers.worker`) later runs the handler registered for the timer's kind.

Handlers must be idempotent. A handler runs in its own transaction together with marking the
timer done, so its effects commit at most once; but a worker can die after a handler started
(or its lease can run out and another worker re-run it), in which case the handler runs again.
A handler should also check that its record still needs it (the matter may have moved on since
the timer was armed) rather than trust that the timer being due is enough.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.audit.service import record
from civicgrid.kit.clock import utcnow
from civicgrid.kit.ids import new_id
from civicgrid.timers import repository
from civicgrid.timers.models import Timer, TimerState

Handler = Callable[[Session, Timer], None]

DEFAULT_MAX_ATTEMPTS = 5
RUNNING_TIMER = "timers.running_id"  # session.info key: the timer this session's handler runs

_handlers: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register ``fn(session, timer)`` as the handler of timers of ``kind`` (one per kind).

    The handler runs inside the worker's transaction: flush, never commit; raise to have the
    timer retried with back-off (it is marked failed after ``max_attempts``).
    """
    if not kind:
        raise ValueError("timer kind must not be empty")

    def register(fn: Handler) -> Handler:
        existing = _handlers.get(kind)
        if existing is not None and _qualname(existing) != _qualname(fn):
            raise ValueError(f"timer kind {kind!r} already has a handler: {_qualname(existing)}")
        _handlers[kind] = fn
        return fn

    return register


def _qualname(fn: Handler) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def get_handler(kind: str) -> Handler | None:
    """The handler registered for ``kind``, if any."""
    return _handlers.get(kind)


def unregister(kind: str) -> None:
    """Forget the handler of ``kind`` (tests that register throw-away kinds)."""
    _handlers.pop(kind, None)


def timer_values(*, kind: str, key: str, due_at: datetime, ref_type: str, ref_id: str,
                 division_code: str | None = None, payload: dict[str, Any] | None = None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> dict[str, Any]:
    """The row of a pending timer (checked: aware due time, kind, key of at most 200 characters)."""
    if due_at.tzinfo is None:
        raise ValueError("due_at must be timezone-aware")
    if not kind or not key or len(key) > 200:
        raise ValueError("a timer needs a kind and a key of at most 200 characters")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    encoded = json.dumps(payload, ensure_ascii=False, sort_keys=True) if payload else None
    return {
        "id": new_id(), "kind": kind, "key": key, "ref_type": ref_type, "ref_id": ref_id,
        "division_code": division_code, "due_at": due_at, "state": TimerState.PENDING.value,
        "attempts": 0, "max_attempts": max_attempts, "lease_owner": None, "lease_until": None,
        "last_error": None, "payload": encoded, "created_at": utcnow(), "fired_at": None,
    }


def record_armed(session: Session, values: dict[str, Any]) -> None:
    """The audit entry of an armed timer (``timer.arm``), attributed to the session's actor."""
    record(session, "timer.arm", "timers", values["id"], division_code=values["division_code"],
           after={"kind": values["kind"], "key": values["key"], "due_at": values["due_at"],
                  "ref_type": values["ref_type"], "ref_id": values["ref_id"]})


def arm(session: Session, *, kind: str, key: str, due_at: datetime, ref_type: str, ref_id: str,
        division_code: str | None = None, payload: dict[str, Any] | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> str:
    """Arm a timer that fires at ``due_at`` and return its id; if a pending timer with ``key``
    exists it is replaced (new due time, kind, payload; attempts reset). A timer that is running
    at this moment is not touched: it finishes, and the new one waits for its own due time.

    The row is written in the caller's transaction: a rolled-back transaction arms nothing.
    """
    values = timer_values(kind=kind, key=key, due_at=due_at, ref_type=ref_type, ref_id=ref_id,
                          division_code=division_code, payload=payload, max_attempts=max_attempts)
    values["id"] = repository.upsert_pending(session, values)
    record_armed(session, values)
    return str(values["id"])


def insert_new(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write timers (rows from :func:`timer_values`) whose keys no pending timer can hold yet,
    e.g. those of a record created in this transaction: one INSERT for all of them, no upsert.
    The caller records each with :func:`record_armed` under the right actor."""
    repository.insert_many(session, rows)


def cancel(session: Session, key: str) -> bool:
    """Cancel the live timer(s) with this key; whether there was one.

    Cancels pending timers and timers a worker has claimed but not yet finished (that worker
    then discards its handler's work). The timer the current session is itself running is left
    alone. In the caller's transaction: a rollback cancels nothing.
    """
    ids = repository.cancel_live(session, key=key, spare_id=session.info.get(RUNNING_TIMER))
    for timer_id in ids:
        record(session, "timer.cancel", "timers", timer_id, after={"key": key})
    return bool(ids)


def cancel_prefix(session: Session, key_prefix: str) -> int:
    """Cancel every live timer whose key starts with ``key_prefix`` (all timers of one record,
    e.g. ``matter:<id>:``); return how many. Same rules as :func:`cancel`."""
    if not key_prefix:
        raise ValueError("refusing to cancel every timer: the key prefix is empty")
    ids = repository.cancel_live(session, key_prefix=key_prefix, spare_id=session.info.get(RUNNING_TIMER))
    if ids:
        record(session, "timer.cancel", "timers", None,
               after={"key_prefix": key_prefix, "count": len(ids), "ids": sorted(ids)})
    return len(ids)


def pending(session: Session, key: str) -> Timer | None:
    """The pending timer with this key, if any."""
    return repository.pending_by_key(session, key)


def timers_for(session: Session, ref_type: str, ref_id: str, *, live_only: bool = False) -> list[Timer]:
    """Every timer armed for a record, earliest due first (for timelines and tests)."""
    return repository.for_ref(session, ref_type, ref_id, live_only=live_only)


@dataclass(frozen=True)
class Summary:
    """What an operator needs to see: timers per state, how many are due but not yet run
    (a backlog means no worker is running, or it cannot keep up), and the latest failures."""

    by_state: dict[str, int]
    overdue: int
    failures: list[Timer]


def summary(session: Session, *, failures: int = 20) -> Summary:
    """Counts per state, the overdue backlog and the most recent failed timers."""
    return Summary(repository.count_by_state(session), repository.overdue_count(session, utcnow()),
                   repository.recent_failures(session, failures))


PURGE_BATCH = 5000


def purge_finished(session: Session, *, older_than: timedelta, kinds: Collection[str] | None = None,
                   limit: int = PURGE_BATCH) -> int:
    """Delete up to ``limit`` timers that finished (done or cancelled) more than ``older_than``
    ago, and record one ``timer.purge`` entry with the cut-off and the count; return how many.

    Timer rows are bookkeeping outside the audit chain; the chain keeps each timer's arming,
    firing and cancelling, and failed timers stay for operators (``civicgrid timers status``).
    Without this the table grows by two rows per timed step for ever. ``kinds`` limits it to
    some timer kinds (a worker restricted to them, tests)."""
    if older_than <= timedelta(0):
        raise ValueError("older_than must be positive")
    before = utcnow() - older_than
    ids = repository.purge_finished(session, before=before, limit=limit, kinds=kinds)
    if ids:
        record(session, "timer.purge", "timers", None,
               after={"before": before.isoformat(), "count": len(ids), "kinds": sorted(kinds) if kinds else None})
    return len(ids)
