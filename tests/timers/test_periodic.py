"""Periodic jobs (issue 14 §5): a durable registry beside one-shot timers, surviving restarts,
visible in `civicgrid timers jobs`. A fake clock drives time; each test registers jobs of its
own name and runs workers restricted to them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from civicgrid.audit.service import record
from civicgrid.db import transaction
from civicgrid.kit.clock import FakeClock, get_clock, set_clock
from civicgrid.kit.ids import new_id
from civicgrid.timers import periodic
from civicgrid.timers.models import Timer, TimerState
from civicgrid.timers.worker import TimerWorker

START = datetime(2030, 3, 4, 1, 30, tzinfo=UTC)  # 09:30 in Yongzhou


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    previous = get_clock()
    fake = FakeClock(START)
    set_clock(fake)
    yield fake
    set_clock(previous)


@pytest.fixture
def names() -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for name in made:
        periodic.unregister(name)


def _register(names: list[str], runs: list[datetime], *, fail: int = 0, **schedule: object) -> str:
    name = f"test.job_{new_id()[-10:]}"
    names.append(name)
    failures = [fail]

    def job(session: Session) -> None:
        if failures[0] > 0:
            failures[0] -= 1
            raise RuntimeError("the job broke")
        record(session, "test.periodic_ran", "periodic_job", name)
        runs.append(get_clock().now())

    periodic.job(name, zh="测试任务", en="test job", **schedule)(job)  # type: ignore[arg-type]
    return name


def _timers(engine: Engine, name: str) -> list[Timer]:
    with transaction(engine, write=False) as session:
        return list(session.scalars(select(Timer).where(Timer.key == periodic.PREFIX + name).order_by(Timer.due_at)))


def test_schedule_next_after() -> None:
    hourly = periodic.Schedule(every=timedelta(hours=1))
    assert hourly.next_after(START) == START + timedelta(hours=1)
    nightly = periodic.Schedule(daily_at=time(2, 0))  # 02:00 Asia/Shanghai = 18:00 UTC the day before
    assert nightly.next_after(START) == datetime(2030, 3, 4, 18, 0, tzinfo=UTC)
    assert nightly.next_after(datetime(2030, 3, 4, 18, 0, tzinfo=UTC)) == datetime(2030, 3, 5, 18, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        periodic.Schedule()
    with pytest.raises(ValueError):
        periodic.Schedule(every=timedelta(seconds=5))


def test_runs_on_schedule_and_survives_a_restart(engine: Engine, clock: FakeClock, names: list[str]) -> None:
    runs: list[datetime] = []
    name = _register(names, runs, every=timedelta(hours=1))
    kinds = [periodic.PREFIX + name]
    worker = TimerWorker(engine, kinds=kinds)
    assert worker.ensure_periodic() == [name]
    assert worker.ensure_periodic() == []  # armed once, however often a worker asks
    assert TimerWorker(engine, kinds=kinds).ensure_periodic() == []  # or how many workers

    clock.advance(timedelta(minutes=59))
    assert worker.run_due() == 0
    clock.advance(timedelta(minutes=1))
    assert worker.run_due() == 1
    assert runs == [START + timedelta(hours=1)]

    # The worker process goes away; a new one finds the next run already armed in the database.
    restarted = TimerWorker(engine, kinds=kinds)
    assert restarted.ensure_periodic() == []
    clock.advance(timedelta(hours=1))
    assert restarted.run_due() == 1
    assert runs == [START + timedelta(hours=1), START + timedelta(hours=2)]

    # Down for five hours: the job runs once when a worker is back, then keeps its rhythm from then.
    clock.advance(timedelta(hours=5))
    assert restarted.run_due() == 1
    assert restarted.run_due() == 0
    rows = _timers(engine, name)
    assert [r.state for r in rows] == [TimerState.DONE] * 3 + [TimerState.PENDING]
    assert rows[-1].due_at == START + timedelta(hours=8)


def test_a_failing_job_is_retried_then_rearmed(engine: Engine, clock: FakeClock, names: list[str]) -> None:
    runs: list[datetime] = []
    name = _register(names, runs, fail=1, every=timedelta(minutes=30))
    worker = TimerWorker(engine, kinds=[periodic.PREFIX + name], retry_base_seconds=60)
    worker.ensure_periodic()
    clock.advance(timedelta(minutes=30))
    assert worker.run_due() == 1 and runs == []  # broke: retried with back-off, nothing armed twice
    clock.advance(timedelta(minutes=1))
    assert worker.run_due() == 1 and len(runs) == 1
    assert [r.state for r in _timers(engine, name)] == [TimerState.DONE, TimerState.PENDING]

    # A job that failed for good (max attempts) is re-armed by the next ensure, not forgotten.
    with transaction(engine) as session:
        session.execute(Timer.__table__.update().where(Timer.key == periodic.PREFIX + name,
                                                       Timer.state == TimerState.PENDING.value)
                        .values(state=TimerState.FAILED.value))
    assert worker.ensure_periodic() == [name]


def test_status_lists_each_job(engine: Engine, clock: FakeClock, names: list[str]) -> None:
    runs: list[datetime] = []
    name = _register(names, runs, daily_at=time(2, 0))
    with transaction(engine, write=False) as session:
        before = next(s for s in periodic.status(session) if s.name == name)
    assert before.next_due is None and before.last_run is None
    assert "02:00" in before.schedule
    worker = TimerWorker(engine, kinds=[periodic.PREFIX + name])
    worker.ensure_periodic()
    clock.set(datetime(2030, 3, 4, 18, 0, tzinfo=UTC))
    assert worker.run_due() == 1
    with transaction(engine, write=False) as session:
        after = next(s for s in periodic.status(session) if s.name == name)
        audited = session.scalar(select(func.count()).select_from(Timer).where(Timer.key == periodic.PREFIX + name))
    assert after.last_state == "done" and after.last_run == datetime(2030, 3, 4, 18, 0, tzinfo=UTC)
    assert after.next_due == datetime(2030, 3, 5, 18, 0, tzinfo=UTC)
    assert audited == 2


def test_cli_lists_jobs(engine: Engine, clock: FakeClock, names: list[str]) -> None:
    from typer.testing import CliRunner

    from civicgrid.cli import app

    name = _register(names, [], every=timedelta(hours=6))
    result = CliRunner().invoke(app, ["timers", "jobs"])
    assert result.exit_code == 0, result.output
    assert name in result.output and "every 360 min" in result.output and "never / 从未运行" in result.output
