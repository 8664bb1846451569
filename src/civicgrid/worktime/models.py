"""Calendar tables: the days that break the Monday–Friday rule, and which years are known."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime


class CalendarDay(Base):
    """A day off on a weekday (holiday) or a working weekend day (adjusted working day, 调休上班)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # "holiday" | "workday"
    name: Mapped[str] = mapped_column(String(64), nullable=False, default="")


class CalendarYear(Base):
    """A year whose holiday arrangement is known, and where it came from."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(128), nullable=False)
    holidays: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    workdays: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class CalendarGap(Base):
    """A deadline was computed in a year with no known arrangement: administrators are warned."""

    __tablename__ = "calendar_gaps"
    __audit__ = False  # bookkeeping of a warning; the warning itself is what matters

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    uses: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
