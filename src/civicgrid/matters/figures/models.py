"""Daily rollups of matter figures, one table per level (county, township, village).

A row holds the counters of one local day (Asia/Shanghai) for one division, counted by where the
matter happened (its grid code). The counters are maintained in the same transaction as every
change to a matter (see :mod:`civicgrid.matters.figures.repository`) and can be rebuilt from the
raw ``matters`` table at any time (``civicgrid figures rebuild``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base

COUNTERS: tuple[str, ...] = (
    "received", "received_void", "received_closed",
    "closed", "closed_on_time", "closed_reworked",
    "handled_count", "satisfaction_count", "satisfaction_sum",
    "settled_village", "settled_township", "settled_county", "settled_city",
    "handling_seconds",
)
"""Every counter column, in table order."""


class _FiguresRow:
    """The columns shared by the three rollup tables.

    Counted on the day the matter was reported (its cohort):
      ``received`` reported that day; ``received_void`` of those, now rejected or cancelled;
      ``received_closed`` of those, now closed.
    Counted on the day the matter was closed (status closed or evaluated):
      ``closed``; ``closed_on_time`` never overdue; ``closed_reworked`` rework_count > 0;
      ``handled_count``/``handling_seconds`` closed matters that were dispatched and the sum of
      closed_at − dispatched_at in whole seconds; ``satisfaction_count``/``satisfaction_sum``
      closed matters with a 1–5 evaluation; ``settled_<level>`` by the level that settled it.
    """

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    received: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    received_void: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    received_closed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    closed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    closed_on_time: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    closed_reworked: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    handled_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    satisfaction_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    satisfaction_sum: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    settled_village: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    settled_township: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    settled_county: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    settled_city: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    handling_seconds: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class CountyFigures(_FiguresRow, Base):
    """Daily matter counters per county (6-digit code prefix of the grid)."""

    __tablename__ = "matter_figures_county"
    __scope_column__ = "code"
    __audit__ = False  # bookkeeping derived from matters, whose every change is audited
    code: Mapped[str] = mapped_column(String(6), primary_key=True, sort_order=-1)


class TownshipFigures(_FiguresRow, Base):
    """Daily matter counters per township (9-digit code prefix of the grid)."""

    __tablename__ = "matter_figures_township"
    __scope_column__ = "code"
    __audit__ = False
    code: Mapped[str] = mapped_column(String(9), primary_key=True, sort_order=-1)


class VillageFigures(_FiguresRow, Base):
    """Daily matter counters per village or community (12-digit code prefix of the grid)."""

    __tablename__ = "matter_figures_village"
    __scope_column__ = "code"
    __audit__ = False
    code: Mapped[str] = mapped_column(String(12), primary_key=True, sort_order=-1)


ROLLUPS: dict[int, type[CountyFigures] | type[TownshipFigures] | type[VillageFigures]] = {
    6: CountyFigures,
    9: TownshipFigures,
    12: VillageFigures,
}
"""Rollup model by the length of the code it is kept for."""
