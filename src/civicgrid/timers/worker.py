"""The timer worker: claims due timers and runs their handlers.

Claiming and running are separate transactions. The claim (one atomic UPDATE) marks a batch
``running`` under this worker's lease; then each timer's handler runs in its own transaction
together with marking that timer done. So:

* two workers never run the same claim: PostgreSQL skips rows another claim has locked
  (``FOR UPDATE SKIP LOCKED``), SQLite serialises the claims (``BEGIN IMMEDIATE``);
* a worker that dies after claiming leaves its timers ``running`` until the lease expires,
  then any worker re-claims them: nothing is lost by a crash or a restart;
* the handler's work and "done" commit together, and "done" is written only if the claim is
  still ours (not cancelled, not re-claimed after our lease ran out), so a handler's effects
  commit at most once per firing. A handler may still *start* twice (crash, expired lease):
  handlers must be idempotent (see :mod:`civicgrid.timers.service`).
* a handler that raises is retried with exponential back-off; after ``max_attempts`` claims
  the timer is marked ``failed`` with the error kept in ``last_error`` and in the audit chain.

Once an hour the worker also deletes timers that finished (done or cancelled) longer ago than
``retention`` (``CIVICGRID_TIMER_RETENTION_DAYS``, 90 by default), in batches of their own
transactions (:func:`civicgrid.timers.service.purge_finished`). When it starts, and every five
minutes, it arms the next run of each periodic job that has none (:mod:`civicgrid.timers.periodic`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import traceback
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from civicgrid.audit.service import Actor, record, set_actor
from civicgrid.db import transaction
from civicgrid.kit.clock import utcnow
from civicgrid.kit.ids import new_id
from civicgrid.timers import repository
from civicgrid.timers.models import Timer, TimerState
from civicgrid.timers.service import PURGE_BATCH, RUNNING_TIMER, get_handler, purge_finished

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 4000
PURGE_EVERY_SECONDS = 3600.0
ENSURE_PERIODIC_EVERY_SECONDS = 300.0  # how often a worker re-arms periodic jobs left without a run


class _ClaimLost(Exception):
    """The timer was cancelled or re-claimed while its handler ran: discard the handler's work."""


class NoHandler(Exception):
    """No handler is registered for a timer's kind (a module was not imported, or a deploy is
    half-way): treated like a failing handler, so it is retried before it is given up."""


@dataclass(frozen=True)
class Claim:
    """A timer this worker holds: its id and the attempt number the claim made."""

    timer_id: str
    attempts: int


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{new_id()[-8:]}"


def purge(engine: Engine, older_than: timedelta, actor: Actor, *, kinds: Collection[str] | None = None) -> int:
    """Delete every timer that finished longer ago than ``older_than``, a batch per transaction
    (:func:`civicgrid.timers.service.purge_finished`) until none is left; return how many."""
    total = 0
    while True:
        with transaction(engine) as session:
            set_actor(session, actor)
            deleted = purge_finished(session, older_than=older_than, kinds=kinds)
        total += deleted
        if deleted < PURGE_BATCH:
            return total


class TimerWorker:
    """Claims and runs due timers on one engine. Safe to run several (threads, processes,
    machines) against the same database. ``kinds`` restricts it to some timer kinds (by default
    it takes every kind)."""

    def __init__(self, engine: Engine, *, worker_id: str | None = None, lease_seconds: int = 60,
                 batch: int = 50, retry_base_seconds: float = 30.0,
                 retry_max_seconds: float = 3600.0, kinds: Collection[str] | None = None,
                 retention: timedelta | None = None) -> None:
        if lease_seconds <= 0 or batch <= 0:
            raise ValueError("lease_seconds and batch must be positive")
        self.engine = engine
        self.worker_id = (worker_id or default_worker_id())[:64]
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self.kinds = frozenset(kinds) if kinds is not None else None
        self.actor = Actor(f"timer-worker:{self.worker_id}"[:64])
        self.retention = retention  # None: finished timers are kept
        self._purged_at: float | None = None
        self._ensured_at: float | None = None

    # ------------------------------------------------------------------ claiming

    def claim(self) -> list[Claim]:
        """Take the due timers (at most ``batch``) under a lease of ``lease_seconds``."""
        now = utcnow()
        with transaction(self.engine) as session:
            rows = repository.claim_due(session, owner=self.worker_id, now=now,
                                        lease_until=now + timedelta(seconds=self.lease_seconds),
                                        batch=self.batch, kinds=self.kinds)
        return [Claim(timer_id, attempts) for timer_id, attempts in rows]

    def run_due(self) -> int:
        """Claim the due timers and run each; return how many were claimed."""
        claims = self.claim()
        for claim in claims:
            self.run_claim(claim)
        return len(claims)

    # ------------------------------------------------------------------ running

    def run_claim(self, claim: Claim) -> str:
        """Run one claimed timer; return its new state ("done", "pending" for a retry,
        "failed", "cancelled"), or "skipped" when the claim was no longer ours."""
        try:
            with transaction(self.engine) as session:
                timer = self._claimed(session, claim)
                if timer is None:
                    return "skipped"
                if timer.attempts > timer.max_attempts:
                    # Claimed more often than allowed without ever finishing: its workers keep dying.
                    error = (f"gave up after {timer.max_attempts} attempts: each worker stopped "
                             f"before the handler finished (lease expired)")
                    return self._finish_failed(session, timer, claim, error)
                fn = get_handler(timer.kind)
                if fn is None:
                    raise NoHandler(f"no handler registered for timer kind {timer.kind!r}")
                session.info[RUNNING_TIMER] = timer.id
                fn(session, timer)
                session.flush()
                fired_at = utcnow()
                if not repository.release(session, timer.id, owner=self.worker_id, attempts=claim.attempts,
                                          state=TimerState.DONE.value, fired_at=fired_at, last_error=None):
                    raise _ClaimLost
                record(session, "timer.fire", "timers", timer.id, division_code=timer.division_code,
                       after={"kind": timer.kind, "key": timer.key, "ref_type": timer.ref_type,
                              "ref_id": timer.ref_id, "attempt": claim.attempts, "fired_at": fired_at})
            return TimerState.DONE.value
        except _ClaimLost:
            log.info("timer %s was cancelled or re-claimed while it ran; its work was rolled back",
                     claim.timer_id)
            return "skipped"
        except Exception as exc:
            log.warning("timer %s failed (attempt %d): %s", claim.timer_id, claim.attempts, exc)
            return self._after_failure(claim, exc)

    def _claimed(self, session: Session, claim: Claim) -> Timer | None:
        """The claimed timer, acting as this worker, if the claim is still ours (else None)."""
        set_actor(session, self.actor)
        timer = repository.get(session, claim.timer_id)
        return timer if self._ours(timer, claim) else None

    def _ours(self, timer: Timer | None, claim: Claim) -> bool:
        return (timer is not None and timer.state == TimerState.RUNNING.value
                and timer.lease_owner == self.worker_id and timer.attempts == claim.attempts)

    def _finish_failed(self, session: Session, timer: Timer, claim: Claim, error: str) -> str:
        if repository.release(session, timer.id, owner=self.worker_id, attempts=claim.attempts,
                              state=TimerState.FAILED.value, last_error=error):
            record(session, "timer.fail", "timers", timer.id, division_code=timer.division_code,
                   after={"kind": timer.kind, "key": timer.key, "attempts": claim.attempts, "error": error})
            return TimerState.FAILED.value
        return "skipped"

    def _backoff(self, attempts: int) -> timedelta:
        seconds = self.retry_base_seconds * (2 ** max(attempts - 1, 0))
        return timedelta(seconds=min(seconds, self.retry_max_seconds))

    def _after_failure(self, claim: Claim, exc: BaseException) -> str:
        error = "".join(traceback.format_exception(exc))[-MAX_ERROR_CHARS:]
        for superseded in (False, True):
            try:
                return self._record_failure(claim, error, superseded=superseded)
            except IntegrityError:
                # A newer pending timer with the same key was armed concurrently: this one is superseded.
                continue
        return "skipped"

    def _record_failure(self, claim: Claim, error: str, *, superseded: bool) -> str:
        with transaction(self.engine) as session:
            timer = self._claimed(session, claim)
            if timer is None:
                return "skipped"
            if timer.attempts >= timer.max_attempts:
                return self._finish_failed(session, timer, claim, error)
            if superseded or repository.pending_exists(session, timer.key, other_than=timer.id):
                state, due_at = TimerState.CANCELLED.value, timer.due_at
                error = "superseded by a newer timer with the same key after: " + error
            else:
                state, due_at = TimerState.PENDING.value, utcnow() + self._backoff(claim.attempts)
            repository.release(session, timer.id, owner=self.worker_id, attempts=claim.attempts,
                               state=state, due_at=due_at, last_error=error)
            session.flush()
            record(session, "timer.retry" if state == TimerState.PENDING.value else "timer.cancel", "timers",
                   timer.id, division_code=timer.division_code,
                   after={"kind": timer.kind, "key": timer.key, "attempts": claim.attempts,
                          "next_due_at": due_at if state == TimerState.PENDING.value else None,
                          "error": error.strip().splitlines()[-1][:500] if error.strip() else ""})
            return state

    # ------------------------------------------------------------------ loop

    def purge(self) -> int:
        """Delete the timers (of this worker's kinds) that finished longer ago than
        ``retention``; return how many."""
        if self.retention is None:
            return 0
        return purge(self.engine, self.retention, self.actor, kinds=self.kinds)

    def _purge_when_due(self) -> None:
        now = time.monotonic()
        if self.retention is None or (self._purged_at is not None and now - self._purged_at < PURGE_EVERY_SECONDS):
            return
        self._purged_at = now
        deleted = self.purge()
        if deleted:
            log.info("timer worker %s: deleted %d finished timers older than %s", self.worker_id, deleted,
                     self.retention)

    def ensure_periodic(self) -> list[str]:
        """Arm the next run of every periodic job (of this worker's kinds) that has none."""
        from civicgrid.timers import periodic

        with transaction(self.engine) as session:
            set_actor(session, self.actor)
            armed = periodic.ensure_armed(session, self.kinds)
        if armed:
            log.info("timer worker %s armed periodic jobs: %s", self.worker_id, ", ".join(armed))
        return armed

    def _ensure_when_due(self) -> None:
        now = time.monotonic()
        if self._ensured_at is not None and now - self._ensured_at < ENSURE_PERIODIC_EVERY_SECONDS:
            return
        self._ensured_at = now
        self.ensure_periodic()

    async def run_forever(self, stop: asyncio.Event, poll_seconds: float = 1.0) -> None:
        """Run :meth:`run_due` in a thread until ``stop`` is set; poll every ``poll_seconds``
        (at once again when a full batch was claimed, so a backlog drains without waiting)."""
        log.info("timer worker %s started", self.worker_id)
        while not stop.is_set():
            try:
                await asyncio.to_thread(self._ensure_when_due)
                claimed = await asyncio.to_thread(self.run_due)
                await asyncio.to_thread(self._purge_when_due)
            except Exception:
                # The database may be briefly unreachable; try again on the next tick.
                log.exception("timer worker %s: run_due failed", self.worker_id)
                claimed = 0
            if claimed >= self.batch:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
        log.info("timer worker %s stopped", self.worker_id)
