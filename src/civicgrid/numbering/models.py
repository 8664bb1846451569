"""The last sequence number handed out per series and day."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base


class NumberCounter(Base):
    """One row per (series, local day): ``last`` is the last number given out. Taking numbers is
    one atomic upsert that returns the new value, so two writers never get the same number, on
    PostgreSQL as on SQLite. Bookkeeping: the numbered record itself is audited."""

    __tablename__ = "number_counters"
    __audit__ = False
    __unscoped__ = "bookkeeping of record numbers: the numbered records carry the scope"

    series: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, nullable=False)
