"""Durable timers on a real database: arming, re-arming, cancelling, claiming once with several
workers, surviving crashes and restarts, retrying failing handlers. A fake clock drives time.

Every test uses timer kinds of its own and workers restricted to them, so timers other tests
leave in the shared database are never touched.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from civicgrid.audit.models import AuditEntry
from civicgrid.audit.service import record
from civicgrid.db import make_engine, transaction
from civicgrid.kit.clock import FakeClock, get_clock, set_clock
from civicgrid.kit.ids import new_id
from civicgrid.timers import service as timers
from civicgrid.timers.models import Timer, TimerState
from civicgrid.timers.worker import TimerWorker

START = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)
FIRED = "test.timer_fired"
KindMaker = Callable[[timers.Handler], str]


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    previous = get_clock()
    fake = FakeClock(START)
    set_clock(fake)
    yield fake
    set_clock(previous)


class Recorder:
    """A handler that notes every firing in memory and writes an audit entry in the handler's
    transaction (so a rolled-back firing leaves no trace in the database)."""

    def __init__(self, fail_times: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []
        self.fail_times = fail_times
        self._lock = threading.Lock()

    def __call__(self, session: Session, timer: Timer) -> None:
        record(session, FIRED, "timers", timer.id, after={"key": timer.key})
        with self._lock:
            self.calls.append((timer.key, timer.data))
            if len(self.calls) <= self.fail_times:
                raise RuntimeError(f"handler broke on call {len(self.calls)}")


@pytest.fixture
def kind() -> Iterator[KindMaker]:
    """Register a handler under a fresh kind; unregister it afterwards."""
    made: list[str] = []

    def make(fn: timers.Handler) -> str:
        name = f"test.{new_id()[-10:]}"
        timers.handler(name)(fn)
        made.append(name)
        return name

    yield make
    for name in made:
        timers.unregister(name)


def arm(engine: Engine, kind: str, key: str, due_at: datetime, **extra: object) -> str:
    with transaction(engine) as session:
        return timers.arm(session, kind=kind, key=key, due_at=due_at, ref_type="test", ref_id=key,
                          division_code="431102001001", **extra)  # type: ignore[arg-type]


def load(engine: Engine, timer_id: str) -> Timer:
    with transaction(engine, write=False) as session:
        timer = session.get(Timer, timer_id)
        assert timer is not None
        return timer


def fired_count(engine: Engine, timer_ids: list[str]) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEntry.entity_id, func.count()).where(
            AuditEntry.action == FIRED, AuditEntry.entity_id.in_(timer_ids)).group_by(AuditEntry.entity_id))
        return Counter({str(entity_id): int(count) for entity_id, count in rows})


def test_fires_only_once_the_clock_passes_due_at(engine: Engine, clock: FakeClock, kind: KindMaker) -> None:
    handler = Recorder()
    name = kind(handler)
    key = f"ticket:{new_id()}:deadline"
    timer_id = arm(engine, name, key, START + timedelta(minutes=10), payload={"level": "red"})
    worker = TimerWorker(engine, kinds=[name])

    assert worker.run_due() == 0
    clock.advance(timedelta(minutes=9, seconds=59))
    assert worker.run_due() == 0
    assert handler.calls == []

    clock.advance(timedelta(seconds=1))
    assert worker.run_due() == 1
    assert handler.calls == [(key, {"level": "red"})]
    timer = load(engine, timer_id)
    assert timer.state == TimerState.DONE
    assert timer.fired_at == START + timedelta(minutes=10)
    assert timer.lease_owner is None
    assert fired_count(engine, [timer_id]) == {timer_id: 1}

    clock.advance(timedelta(hours=1))
    assert worker.run_due() == 0
    assert len(handler.calls) == 1


def test_arming_a_key_again_replaces_the_pending_timer(engine: Engine, clock: FakeClock,
                                                       kind: KindMaker) -> None:
    handler = Recorder()
    name = kind(handler)
    key = f"ticket:{new_id()}:deadline"
    first = arm(engine, name, key, START + timedelta(minutes=10), payload={"n": 1})
    second = arm(engine, name, key, START + timedelta(minutes=30), payload={"n": 2})
    with transaction(engine, write=False) as session:
        live = timers.timers_for(session, "test", key, live_only=True)
        pending = timers.pending(session, key)
    assert len(live) == 1
    assert pending is not None and pending.due_at == START + timedelta(minutes=30)
    assert first == second  # the same row, re-timed

    worker = TimerWorker(engine, kinds=[name])
    clock.advance(timedelta(minutes=11))
    assert worker.run_due() == 0
    clock.advance(timedelta(minutes=20))
    assert worker.run_due() == 1
    assert handler.calls == [(key, {"n": 2})]


def test_a_rolled_back_transaction_arms_nothing(engine: Engine, clock: FakeClock, kind: KindMaker) -> None:
    name = kind(Recorder())
    key = f"ticket:{new_id()}:deadline"
    with pytest.raises(RuntimeError), transaction(engine) as session:
        timers.arm(session, kind=name, key=key, due_at=START, ref_type="test", ref_id="x")
        raise RuntimeError("the business change failed")
    with transaction(engine, write=False) as session:
        assert timers.pending(session, key) is None
    clock.advance(timedelta(days=1))
    assert TimerWorker(engine, kinds=[name]).run_due() == 0


def test_cancel_and_cancel_prefix(engine: Engine, clock: FakeClock, kind: KindMaker) -> None:
    handler = Recorder()
    name = kind(handler)
    base = new_id()[-8:]
    due = START + timedelta(minutes=5)
    for key in (f"m_{base}:1:accept", f"m_{base}:1:handle", f"m_{base}:2:accept", f"mX{base}:1:accept"):
        arm(engine, name, key, due)

    with transaction(engine) as session:
        assert timers.cancel(session, f"m_{base}:1:accept") is True
        assert timers.cancel(session, f"m_{base}:1:accept") is False
        # "_" is a LIKE wildcard: the prefix must not also cancel "mX…"
        assert timers.cancel_prefix(session, f"m_{base}:1:") == 1
        assert timers.cancel_prefix(session, f"m_{base}:9:") == 0
    with pytest.raises(ValueError), transaction(engine) as session:
        timers.cancel_prefix(session, "")

    clock.advance(timedelta(minutes=5))
    assert TimerWorker(engine, kinds=[name]).run_due() == 2
    assert sorted(key for key, _ in handler.calls) == sorted([f"m_{base}:2:accept", f"mX{base}:1:accept"])


def test_two_workers_claim_each_timer_exactly_once(engine: Engine, clock: FakeClock,
                                                   kind: KindMaker) -> None:
    handler = Recorder()
    name = kind(handler)
    base = new_id()[-8:]
    with transaction(engine) as session:
        ids = [timers.arm(session, kind=name, key=f"bulk:{base}:{n}", due_at=START + timedelta(seconds=n % 7),
                          ref_type="test", ref_id=str(n)) for n in range(120)]
    clock.advance(timedelta(minutes=1))

    # Two engines: two connection pools, as two processes would have.
    engines = [engine, make_engine(engine.url.render_as_string(hide_password=False))]
    workers = [TimerWorker(e, worker_id=f"w{n}", batch=7, kinds=[name]) for n, e in enumerate(engines)]
    claimed = [0, 0]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def drain(n: int) -> None:
        try:
            start.wait()
            while (got := workers[n].run_due()) > 0:
                claimed[n] += got
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    engines[1].dispose()

    assert errors == []
    print("claimed per worker:", claimed)
    assert sum(claimed) == 120
    assert Counter(key for key, _ in handler.calls) == Counter(f"bulk:{base}:{n}" for n in range(120))
    assert fired_count(engine, ids) == dict.fromkeys(ids, 1)
    with transaction(engine, write=False) as session:
        states = Counter(session.scalars(select(Timer.state).where(Timer.id.in_(ids))))
    assert states == {TimerState.DONE.value: 120}


def test_a_crashed_worker_s_timer_runs_after_its_lease_expires(engine: Engine, clock: FakeClock,
                                                               kind: KindMaker) -> None:
    handler = Recorder()
    name = kind(handler)
    timer_id = arm(engine, name, f"crash:{new_id()}", START)
    crashed = TimerWorker(engine, worker_id="crashed", lease_seconds=60, kinds=[name])
    survivor = TimerWorker(engine, worker_id="survivor", lease_seconds=60, kinds=[name])

    claims = crashed.claim()  # ... and the process dies before running it
    assert [c.timer_id for c in claims] == [timer_id]
    assert load(engine, timer_id).state == TimerState.RUNNING

    clock.advance(timedelta(seconds=59))
    assert survivor.run_due() == 0
    clock.advance(timedelta(seconds=2))
    assert survivor.run_due() == 1
    assert len(handler.calls) == 1
    timer = load(engine, timer_id)
    assert (timer.state, timer.attempts) == (TimerState.DONE, 2)

    # The crashed worker "comes back" with its stale claim: it must not run the timer again.
    assert crashed.run_claim(claims[0]) == "skipped"
    assert len(handler.calls) == 1
    assert fired_count(engine, [timer_id]) == {timer_id: 1}


def test_a_timer_whose_workers_keep_dying_is_given_up(engine: Engine, clock: FakeClock,
                                                      kind: KindMaker) -> None:
    handler = Recorder()
    name = kind(handler)
    timer_id = arm(engine, name, f"poison:{new_id()}", START, max_attempts=2)
    for n in range(2):
        assert len(TimerWorker(engine, worker_id=f"dies{n}", kinds=[name]).claim()) == 1
        clock.advance(timedelta(seconds=61))
    assert TimerWorker(engine, kinds=[name]).run_due() == 1
    timer = load(engine, timer_id)
    assert timer.state == TimerState.FAILED
    assert "lease expired" in (timer.last_error or "")
    assert handler.calls == []


def test_nothing_is_lost_across_a_restart(db_url: str, engine: Engine, clock: FakeClock,
                                          kind: KindMaker) -> None:
    handler = Recorder()
    name = kind(handler)
    base = new_id()[-8:]
    ids = [arm(engine, name, f"restart:{base}:{n}", START + timedelta(minutes=n)) for n in range(4)]

    before = TimerWorker(engine, worker_id="before", lease_seconds=600, kinds=[name])
    assert before.run_due() == 1  # only the first is due
    clock.advance(timedelta(minutes=1))
    assert len(before.claim()) == 1  # claimed, then the process stops
    del before

    # A new process: its own engine and worker on the same database.
    fresh_engine = make_engine(db_url)
    try:
        after = TimerWorker(fresh_engine, worker_id="after", kinds=[name])
        clock.advance(timedelta(minutes=5))
        assert after.run_due() == 2  # the two never-claimed ones; the orphan's lease still runs
        clock.advance(timedelta(minutes=5))
        assert after.run_due() == 1  # the orphan
    finally:
        fresh_engine.dispose()
    assert sorted(key for key, _ in handler.calls) == [f"restart:{base}:{n}" for n in range(4)]
    assert fired_count(engine, ids) == dict.fromkeys(ids, 1)


def test_a_failing_handler_is_retried_with_back_off_then_failed(engine: Engine, clock: FakeClock,
                                                                kind: KindMaker) -> None:
    handler = Recorder(fail_times=99)
    name = kind(handler)
    timer_id = arm(engine, name, f"fails:{new_id()}", START, max_attempts=3)
    worker = TimerWorker(engine, kinds=[name], retry_base_seconds=30)

    assert worker.run_due() == 1
    timer = load(engine, timer_id)
    assert (timer.state, timer.attempts) == (TimerState.PENDING, 1)
    assert timer.due_at == START + timedelta(seconds=30)
    assert "handler broke on call 1" in (timer.last_error or "")
    assert worker.run_due() == 0  # backing off

    clock.advance(timedelta(seconds=30))
    assert worker.run_due() == 1
    timer = load(engine, timer_id)
    assert (timer.state, timer.attempts) == (TimerState.PENDING, 2)
    assert timer.due_at == START + timedelta(seconds=30 + 60)

    clock.advance(timedelta(seconds=60))
    assert worker.run_due() == 1
    timer = load(engine, timer_id)
    assert (timer.state, timer.attempts) == (TimerState.FAILED, 3)
    assert "handler broke on call 3" in (timer.last_error or "")

    clock.advance(timedelta(days=1))
    assert worker.run_due() == 0
    assert len(handler.calls) == 3
    # Each failed attempt's own writes were rolled back.
    assert fired_count(engine, [timer_id]) == {}
    with engine.connect() as conn:
        actions = list(conn.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == timer_id)
                                    .order_by(AuditEntry.seq)))
    assert actions == ["timer.arm", "timer.retry", "timer.retry", "timer.fail"]


def test_a_handler_that_fails_once_then_succeeds(engine: Engine, clock: FakeClock, kind: KindMaker) -> None:
    handler = Recorder(fail_times=1)
    name = kind(handler)
    timer_id = arm(engine, name, f"flaky:{new_id()}", START)
    worker = TimerWorker(engine, kinds=[name], retry_base_seconds=10)
    assert worker.run_due() == 1
    clock.advance(timedelta(seconds=10))
    assert worker.run_due() == 1
    assert load(engine, timer_id).state == TimerState.DONE
    assert fired_count(engine, [timer_id]) == {timer_id: 1}


def test_a_kind_without_handler_is_retried_not_dropped(engine: Engine, clock: FakeClock) -> None:
    name = f"test.unregistered.{new_id()[-8:]}"
    timer_id = arm(engine, name, f"orphan:{new_id()}", START)
    assert TimerWorker(engine, kinds=[name]).run_due() == 1
    timer = load(engine, timer_id)
    assert timer.state == TimerState.PENDING
    assert "no handler registered" in (timer.last_error or "")


def test_a_handler_can_re_arm_its_own_key(engine: Engine, clock: FakeClock, kind: KindMaker) -> None:
    """The escalation pattern: a deadline handler moves its record on and arms the next deadline
    under the same key, after cancelling the record's timers."""
    key_prefix = f"ticket:{new_id()}:"
    key = key_prefix + "deadline"

    def escalate(session: Session, timer: Timer) -> None:
        timers.cancel_prefix(session, key_prefix)
        level = int(timer.data.get("level", 0)) + 1
        if level < 3:
            timers.arm(session, kind=timer.kind, key=timer.key, due_at=timer.due_at + timedelta(hours=1),
                       ref_type=timer.ref_type, ref_id=timer.ref_id, payload={"level": level})

    name = kind(escalate)
    arm(engine, name, key, START, payload={"level": 0})
    worker = TimerWorker(engine, kinds=[name])
    assert worker.run_due() == 1
    clock.advance(timedelta(hours=1))
    assert worker.run_due() == 1
    clock.advance(timedelta(hours=1))
    assert worker.run_due() == 1
    clock.advance(timedelta(hours=1))
    assert worker.run_due() == 0
    with transaction(engine, write=False) as session:
        rows = timers.timers_for(session, "test", key)
    assert [(t.state, t.data.get("level")) for t in rows] == [
        (TimerState.DONE, 0), (TimerState.DONE, 1), (TimerState.DONE, 2)]


def test_a_cancel_committed_while_the_handler_runs_discards_its_work(
        engine: Engine, clock: FakeClock, kind: KindMaker) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's handler transaction holds the database lock: a cancel cannot interleave")
    key = f"race:{new_id()}"

    def slow(session: Session, timer: Timer) -> None:
        # Another request cancels the timer and commits while this handler is still running.
        with transaction(engine) as other:
            assert timers.cancel(other, key) is True
        record(session, FIRED, "timers", timer.id)

    name = kind(slow)
    timer_id = arm(engine, name, key, START)
    assert TimerWorker(engine, kinds=[name]).run_due() == 1
    assert load(engine, timer_id).state == TimerState.CANCELLED
    assert fired_count(engine, [timer_id]) == {}


def test_a_new_arm_supersedes_a_failed_attempt(engine: Engine, clock: FakeClock, kind: KindMaker) -> None:
    key = f"supersede:{new_id()}"

    def fail_after_rearm(session: Session, timer: Timer) -> None:
        raise RuntimeError("boom")

    name = kind(fail_after_rearm)
    first = arm(engine, name, key, START)
    worker = TimerWorker(engine, kinds=[name])
    claims = worker.claim()
    second = arm(engine, name, key, START + timedelta(hours=1))  # armed while the first is running
    assert second != first
    assert worker.run_claim(claims[0]) == TimerState.CANCELLED
    assert load(engine, first).state == TimerState.CANCELLED
    assert load(engine, second).state == TimerState.PENDING


def test_finished_timers_are_deleted_after_the_retention(engine: Engine, clock: FakeClock, kind: KindMaker) -> None:
    done_name, failing_name = kind(Recorder()), kind(Recorder(fail_times=99))
    worker = TimerWorker(engine, kinds=[done_name, failing_name], retention=timedelta(days=90))
    done = arm(engine, done_name, f"done:{new_id()}", START + timedelta(minutes=1))
    failed = arm(engine, failing_name, f"failed:{new_id()}", START + timedelta(minutes=1), max_attempts=1)
    pending = arm(engine, done_name, f"pending:{new_id()}", START + timedelta(days=400))
    cancelled_key, cancelled_late_key = f"cancelled:{new_id()}", f"cancelled-late:{new_id()}"
    cancelled = arm(engine, done_name, cancelled_key, START + timedelta(days=1))
    cancelled_late = arm(engine, done_name, cancelled_late_key, START + timedelta(days=200))
    with transaction(engine) as session:
        timers.cancel(session, cancelled_key)
        timers.cancel(session, cancelled_late_key)
    clock.advance(timedelta(minutes=2))
    assert worker.run_due() == 2
    assert load(engine, failed).state == TimerState.FAILED
    clock.advance(timedelta(days=100))  # the cut-off is now START + 10 days
    recent = arm(engine, done_name, f"recent:{new_id()}", clock.now() + timedelta(minutes=1))
    clock.advance(timedelta(minutes=2))
    assert worker.run_due() == 1

    assert worker.purge() == 2  # done and cancelled long ago
    with transaction(engine, write=False) as session:
        left = set(session.scalars(select(Timer.id).where(Timer.kind.in_([done_name, failing_name]))))
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "timer.purge")
                                .order_by(AuditEntry.at.desc(), AuditEntry.seq.desc()).limit(1)).one()
    # Failed timers stay for operators; pending, not yet due (cancelled) and recent ones stay.
    assert left == {failed, pending, cancelled_late, recent}
    assert done not in left and cancelled not in left
    assert '"count":2' in (entry.after or "").replace(" ", "")
    assert worker.purge() == 0
