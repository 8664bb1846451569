"""What starts and stops with the app: the realtime hub's backend, the timer worker and (on
SQLite) the WAL checkpointer.

(The migration check happens before this, in ``civicgrid serve``.) The timer worker runs as a
task on the server's event loop and calls the database in a thread; every process that serves
may run one, since claims are exclusive (see :mod:`civicgrid.timers.worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

from fastapi import FastAPI

from civicgrid.config import Settings
from civicgrid.db import WalCheckpointer, transaction

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 30.0


async def startup(app: FastAPI, settings: Settings, run_workers: bool) -> None:
    """Start the realtime hub's backend (the PostgreSQL listener when there is one) and, when
    ``run_workers``, the timer worker loop."""
    from civicgrid.realtime.hub import get_hub

    app.state.background = []
    checkpointer = WalCheckpointer(app.state.engine)
    checkpointer.start()  # SQLite only: WAL checkpoints leave the request path
    app.state.checkpointer = checkpointer
    hub = get_hub(settings)
    await asyncio.to_thread(hub.start)  # waits until LISTEN is in place
    app.state.hub = hub
    await asyncio.to_thread(_warm, app)
    from civicgrid.response.telemetry import Flusher

    app.state.track_flusher = Flusher(app.state.engine, settings.response_track_flush_seconds)
    app.state.track_flusher.start()
    # What startup built lives as long as the process: keep it out of the collector's full
    # passes, which would otherwise walk it again and again (each a pause of ~0.2 s here).
    gc.collect()
    gc.freeze()
    app.state.timer_worker = None
    if run_workers:
        from civicgrid.timers.worker import TimerWorker

        worker = TimerWorker(app.state.engine, lease_seconds=settings.timer_lease_seconds,
                             retention=settings.timer_retention)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run_forever(stop, settings.timer_poll_seconds),
                                   name=f"timer-worker:{worker.worker_id}")
        app.state.timer_worker = worker
        app.state.timer_stop = stop
        app.state.background.append(task)
    app.state.response_simulator = None
    if run_workers and settings.response_simulator:
        from civicgrid.simulate.response import start_simulator

        # One simulator per process and database, however many apps the process starts.
        app.state.response_simulator = start_simulator(app.state.engine,
                                                       per_day=settings.response_simulator_per_day,
                                                       tick_seconds=settings.response_simulator_tick_seconds)


def _warm(app: FastAPI) -> None:
    """Build the point → grid index now, not in the first report after a restart (~1 s)."""
    from civicgrid.geo.index import index_for

    try:
        with transaction(app.state.engine, write=False) as session:
            index_for(session)
    except Exception:  # an empty or half-loaded database: the first report builds it instead
        log.exception("could not build the grid index at startup")
    from civicgrid.response.index import index_for as unit_index_for

    try:  # the dispatch index, from the units and their latest written positions
        with transaction(app.state.engine, write=False) as session:
            unit_index_for(session)
    except Exception:
        log.exception("could not build the dispatch index at startup")


async def shutdown(app: FastAPI) -> None:
    """Stop the timer worker after its current batch (a handler in flight finishes and commits,
    or its timer is re-claimed after the lease), then the hub's backend."""
    stop: asyncio.Event | None = getattr(app.state, "timer_stop", None)
    if stop is not None:
        stop.set()
    tasks: list[asyncio.Task[None]] = getattr(app.state, "background", [])
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
        for task in pending:
            log.warning("background task %s did not stop in time; cancelling it", task.get_name())
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    app.state.background = []
    simulator = getattr(app.state, "response_simulator", None)
    if simulator is not None:
        from civicgrid.simulate.response import stop_simulator

        await asyncio.to_thread(stop_simulator, simulator)
        app.state.response_simulator = None
    hub = getattr(app.state, "hub", None)
    if hub is not None:
        await asyncio.to_thread(hub.stop)
        app.state.hub = None
    flusher = getattr(app.state, "track_flusher", None)
    if flusher is not None:
        await asyncio.to_thread(flusher.stop)  # the pending unit positions are written first
        app.state.track_flusher = None
    from civicgrid.matters.intake import stop_committers

    await asyncio.to_thread(stop_committers)  # reports still queued are written first
    checkpointer: WalCheckpointer | None = getattr(app.state, "checkpointer", None)
    if checkpointer is not None:
        await asyncio.to_thread(checkpointer.stop)
        app.state.checkpointer = None
