"""The durable timers table."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.ids import new_id


class TimerState(StrEnum):
    """Where a timer is in its life: armed, being run by a worker, or finished one way or another."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Timer(Base):
    """One deadline, escalation or reminder: what to run (``kind``), for which record
    (``ref_type``/``ref_id``), when (``due_at``), and the worker's lease while it runs.

    ``key`` names the timer for its owner (e.g. ``matter:<id>:deadline``): at most one *pending*
    timer per key, so arming a key again replaces it. ``attempts`` counts claims, so a timer whose
    worker keeps dying is given up after ``max_attempts`` like one whose handler keeps raising.

    Rows are bookkeeping (claims and leases change them all the time), so the flush listener
    leaves them out of the audit chain; the service records arm, cancel, fire and failure
    explicitly.
    """

    __tablename__ = "timers"
    __unscoped__ = "system bookkeeping: only the worker and services acting for a scoped record read it"
    __audit__ = False
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'running', 'done', 'cancelled', 'failed')", name="state"),
        Index("ix_timers_state_due_at", "state", "due_at"),
        Index("ix_timers_ref_type_ref_id", "ref_type", "ref_id"),
        Index("uq_timers_key_pending", "key", unique=True,
              sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    key: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    ref_type: Mapped[str] = mapped_column(String(64), nullable=False)
    ref_id: Mapped[str] = mapped_column(String(64), nullable=False)
    division_code: Mapped[str | None] = mapped_column(String(15))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=TimerState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=5)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def data(self) -> dict[str, Any]:
        """The payload as a dict (empty when none was given)."""
        return dict(json.loads(self.payload)) if self.payload else {}

    def __repr__(self) -> str:
        return f"<Timer {self.key} {self.kind} {self.state} due {self.due_at.isoformat()}>"
