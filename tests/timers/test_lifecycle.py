"""The app's lifespan starts the timer worker when asked and stops it cleanly."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from civicgrid.config import get_settings
from civicgrid.db import transaction
from civicgrid.kit.clock import utcnow
from civicgrid.kit.ids import new_id
from civicgrid.main import create_app
from civicgrid.timers import service as timers
from civicgrid.timers.models import Timer, TimerState


def _state(engine: Engine, timer_id: str) -> str:
    with transaction(engine, write=False) as session:
        timer = session.get(Timer, timer_id)
        assert timer is not None
        return timer.state


def test_the_worker_runs_with_the_app_and_stops_with_it(engine: Engine) -> None:
    kind = f"test.lifecycle.{new_id()[-8:]}"
    fired: list[str] = []

    @timers.handler(kind)
    def _fire(session: Session, timer: Timer) -> None:
        fired.append(timer.key)

    settings = get_settings().model_copy(update={"timer_poll_seconds": 0.05})
    app = create_app(settings, start_workers=True)

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            tasks = list(app.state.background)
            assert len(tasks) == 1 and not tasks[0].done()
            with transaction(engine) as session:
                timer_id = timers.arm(session, kind=kind, key=f"lifecycle:{new_id()}",
                                      due_at=utcnow() - timedelta(seconds=1), ref_type="test", ref_id="1")
            deadline = time.monotonic() + 10
            while await asyncio.to_thread(_state, engine, timer_id) != TimerState.DONE:
                assert time.monotonic() < deadline, "the worker did not run the due timer"
                await asyncio.sleep(0.05)
        assert tasks[0].done() and not tasks[0].cancelled()  # stopped, not killed
        assert tasks[0].exception() is None
        assert app.state.background == []

    try:
        asyncio.run(scenario())
    finally:
        timers.unregister(kind)
    assert len(fired) == 1


def test_no_worker_when_the_app_is_told_not_to_run_one() -> None:
    app = create_app(get_settings(), start_workers=False)

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            assert app.state.background == []
            assert app.state.timer_worker is None
            assert app.state.hub is not None

    asyncio.run(scenario())
