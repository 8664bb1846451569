"""Periodic jobs: hourly risk rules, nightly stale-case scans — a durable schedule beside the
one-shot timers, made of them.

A job is registered in code with its schedule (``every`` an interval, or ``daily_at`` a local
time in Asia/Shanghai). Its next run is an ordinary timer (kind and key ``periodic:<name>``), so
it survives restarts, is claimed by exactly one worker, retried with back-off when it raises, and
audited like any timer. Running the job arms the next run in the same transaction; a worker
makes sure, when it starts and every few minutes, that each job of its kinds has a live timer
(after a job failed for good, or when a job is new). ``civicgrid timers jobs`` lists them.

A job must be idempotent and cheap to skip: it may run late (no worker was up), and a run that
was due several times while every worker was down runs once, not once per missed slot.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from civicgrid.kit.clock import utcnow
from civicgrid.timers import repository
from civicgrid.timers import service as timers
from civicgrid.timers.models import Timer, TimerState

LOCAL = ZoneInfo("Asia/Shanghai")
PREFIX = "periodic:"
Job = Callable[[Session], None]


@dataclass(frozen=True)
class Schedule:
    """Either ``every`` (an interval counted from each run's due time) or ``daily_at`` (a local
    wall-clock time, Asia/Shanghai)."""

    every: timedelta | None = None
    daily_at: time | None = None

    def __post_init__(self) -> None:
        if (self.every is None) == (self.daily_at is None):
            raise ValueError("a schedule is either every=<interval> or daily_at=<time>")
        if self.every is not None and self.every < timedelta(minutes=1):
            raise ValueError("a periodic job runs at most once a minute")

    def next_after(self, moment: datetime) -> datetime:
        """The first due time strictly after ``moment`` (aware UTC)."""
        if self.every is not None:
            return moment + self.every
        assert self.daily_at is not None
        local = moment.astimezone(LOCAL)
        candidate = datetime.combine(local.date(), self.daily_at, tzinfo=LOCAL)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), self.daily_at, tzinfo=LOCAL)
        return candidate.astimezone(moment.tzinfo)

    def describe(self) -> str:
        if self.every is not None:
            minutes = int(self.every.total_seconds() // 60)
            return f"every {minutes} min / 每 {minutes} 分钟"
        assert self.daily_at is not None
        return f"daily at {self.daily_at:%H:%M} Asia/Shanghai / 每天 {self.daily_at:%H:%M}"


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    title_zh: str
    title_en: str
    schedule: Schedule
    run: Job

    @property
    def key(self) -> str:
        return PREFIX + self.name


_jobs: dict[str, PeriodicJob] = {}


def job(name: str, *, zh: str, en: str, every: timedelta | None = None,
        daily_at: time | None = None) -> Callable[[Job], Job]:
    """Register ``fn(session)`` as the periodic job ``name`` (``<domain>.<what>``)."""
    schedule = Schedule(every=every, daily_at=daily_at)

    def register(fn: Job) -> Job:
        entry = PeriodicJob(name, zh, en, schedule, fn)
        existing = _jobs.get(name)
        if existing is not None and existing.run is not fn and (
                getattr(existing.run, "__qualname__", None) != getattr(fn, "__qualname__", None)):
            raise ValueError(f"periodic job {name!r} is already registered")
        _jobs[name] = entry
        timers.handler(entry.key)(_runner(entry))
        return fn

    return register


def _runner(entry: PeriodicJob) -> timers.Handler:
    def run(session: Session, timer: Timer) -> None:
        entry.run(session)
        # The next run is armed with this one's work: both commit, or neither.
        _arm_next(session, entry, max(timer.due_at, utcnow()))

    run.__qualname__ = f"periodic.{entry.name}"
    return run


def _arm_next(session: Session, entry: PeriodicJob, after: datetime) -> None:
    timers.arm(session, kind=entry.key, key=entry.key, due_at=entry.schedule.next_after(after),
               ref_type="periodic_job", ref_id=entry.name)


def unregister(name: str) -> None:
    """Forget a job (tests)."""
    entry = _jobs.pop(name, None)
    if entry is not None:
        timers.unregister(entry.key)


def jobs() -> list[PeriodicJob]:
    return sorted(_jobs.values(), key=lambda j: j.name)


def kinds() -> set[str]:
    return {entry.key for entry in _jobs.values()}


def ensure_armed(session: Session, kinds: Collection[str] | None = None) -> list[str]:
    """Arm the next run of every registered job (of ``kinds``) that has no live timer; return
    the names armed. Safe to call from several workers at once: arming is an upsert by key."""
    wanted = [entry for entry in jobs() if kinds is None or entry.key in kinds]
    live = repository.live_keys(session, [entry.key for entry in wanted])
    armed = []
    now = utcnow()
    for entry in wanted:
        if entry.key not in live:
            _arm_next(session, entry, now)
            armed.append(entry.name)
    return armed


@dataclass(frozen=True)
class JobStatus:
    name: str
    title_zh: str
    title_en: str
    schedule: str
    next_due: datetime | None
    last_run: datetime | None
    last_state: str | None
    last_error: str | None


def status(session: Session) -> list[JobStatus]:
    """Each registered job: schedule, next due, and its last finished run."""
    out = []
    for entry in jobs():
        pending = repository.pending_by_key(session, entry.key)
        last = repository.latest_by_key(session, entry.key, (TimerState.DONE.value, TimerState.FAILED.value))
        out.append(JobStatus(entry.name, entry.title_zh, entry.title_en, entry.schedule.describe(),
                             pending.due_at if pending else None, last.fired_at or last.due_at if last else None,
                             last.state if last else None, (last.last_error or "").strip().splitlines()[-1][:200]
                             if last and last.last_error else None))
    return out
