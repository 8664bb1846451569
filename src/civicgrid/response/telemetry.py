"""Unit positions are telemetry (DESIGN.md "Live data"): coalesced, batched, never audited.

A report (REST from a vehicle terminal, or a ``position`` frame on the unit's WebSocket) moves the
unit in the in-memory index at once (the latest position per unit is all the index keeps) and
appends the point to this process's pending track. A background thread writes the pending points
every ``CIVICGRID_RESPONSE_TRACK_FLUSH_SECONDS`` as one batch: one Core ``INSERT`` of many rows in
one transaction, into ``response_unit_tracks`` — a table marked ``__telemetry__``, so the audit
chain records nothing for it (status changes, which are audited, are what the chain needs). A
report therefore never opens a request transaction, never takes the write turn and never waits
for the database; only the flush does, once per batch. Points not yet flushed when a process dies
are lost (at most one flush interval); a restart rebuilds the index from the latest written ones.
The track is kept ``CIVICGRID_RESPONSE_TRACK_RETENTION_DAYS`` (a periodic job purges older points
and records one audit event per purge).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from civicgrid.audit.service import record
from civicgrid.config import get_settings
from civicgrid.db import transaction
from civicgrid.kit.clock import utcnow
from civicgrid.kit.ids import new_id
from civicgrid.response import repository
from civicgrid.response.index import UnitIndex
from civicgrid.response.models import UnitTrackPoint
from civicgrid.timers import periodic

log = logging.getLogger(__name__)

MAX_PENDING = 200_000  # beyond this (the database is away) the oldest points are dropped and counted


@dataclass(frozen=True)
class Point:
    unit_id: str
    at: datetime
    lng: float
    lat: float
    speed_kmh: float | None = None
    heading: float | None = None


@dataclass
class Buffer:
    """The pending track points of one database in this process."""

    pending: list[Point] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: int = 0
    dropped: int = 0
    batches: int = 0
    written: int = 0


_buffers: dict[str, Buffer] = {}
_buffers_lock = threading.Lock()


def buffer_for(url: str) -> Buffer:
    buf = _buffers.get(url)
    if buf is None:
        with _buffers_lock:
            buf = _buffers.setdefault(url, Buffer())
    return buf


def accept(index: UnitIndex, url: str, points: list[Point]) -> int:
    """Move the units in the index and queue the points for the next batch; returns how many
    were accepted (a point of a unit the index does not know is skipped)."""
    taken = [p for p in points if index.move(p.unit_id, p.lng, p.lat, p.at)]
    if taken:
        buf = buffer_for(url)
        with buf.lock:
            buf.pending.extend(taken)
            buf.received += len(taken)
            overflow = len(buf.pending) - MAX_PENDING
            if overflow > 0:
                del buf.pending[:overflow]
                buf.dropped += overflow
    return len(taken)


def flush(engine: Engine) -> int:
    """Write the pending points of this database as one batch (one transaction, one
    multi-row INSERT, no audit entries); returns how many were written. On failure the points
    go back to the front of the queue for the next flush."""
    buf = buffer_for(str(engine.url))
    with buf.lock:
        points, buf.pending = buf.pending, []
    if not points:
        return 0
    batch = new_id()
    rows = [{"unit_id": p.unit_id, "at": p.at, "lng": p.lng, "lat": p.lat, "speed_kmh": p.speed_kmh,
             "heading": p.heading, "batch": batch} for p in points]
    try:
        with transaction(engine) as session:
            session.execute(insert(UnitTrackPoint.__table__), rows)  # type: ignore[arg-type]
    except Exception:
        with buf.lock:
            buf.pending[:0] = points
        raise
    with buf.lock:
        buf.batches += 1
        buf.written += len(points)
    return len(points)


class Flusher:
    """The background thread that flushes every interval (one per process and database)."""

    def __init__(self, engine: Engine, interval: float | None = None) -> None:
        self.engine = engine
        self.interval = interval or get_settings().response_track_flush_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="response-track-flush", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                flush(self.engine)
            except Exception:
                log.exception("could not write the unit track batch; retrying at the next flush")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        try:
            flush(self.engine)  # what is pending goes to the database before the process ends
        except Exception:
            log.exception("could not write the last unit track batch")


@periodic.job("response.track_purge", zh="清理过期警力轨迹", en="Purge expired unit tracks",
              daily_at=time(3, 30))
def purge_tracks(session: Session) -> None:
    """Delete track points older than the retention; one audit event per purge (not per row)."""
    days = get_settings().response_track_retention_days
    before = utcnow() - timedelta(days=days)
    count = repository.purge_tracks(session, before)
    if count:
        record(session, "response.track_purge", "response_unit_tracks", None,
               after={"before": before.isoformat(), "deleted": count, "retention_days": days})
