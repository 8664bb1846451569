"""Every query of the working calendar."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from civicgrid.worktime.models import CalendarDay, CalendarGap, CalendarYear


def all_days(session: Session) -> Sequence[CalendarDay]:
    return session.scalars(select(CalendarDay)).all()


def years(session: Session) -> Sequence[CalendarYear]:
    return session.scalars(select(CalendarYear).order_by(CalendarYear.year)).all()


def get_year(session: Session, year: int) -> CalendarYear | None:
    return session.get(CalendarYear, year)


def days_of(session: Session, year: int) -> Sequence[CalendarDay]:
    return session.scalars(select(CalendarDay).where(CalendarDay.year == year).order_by(CalendarDay.day)).all()


def delete_days_of(session: Session, year: int) -> None:
    for day in days_of(session, year):  # ORM deletes so that each removal lands in the audit chain
        session.delete(day)
    session.flush()


def version(session: Session) -> tuple[int, datetime | None]:
    """Changes whenever a year is (re)imported: the cache key of the loaded calendar."""
    row = session.execute(select(func.count(), func.max(CalendarYear.updated_at))).one()
    return int(row[0]), row[1]


def gaps(session: Session) -> Sequence[CalendarGap]:
    return session.scalars(select(CalendarGap).order_by(CalendarGap.year)).all()


def get_gap(session: Session, year: int) -> CalendarGap | None:
    return session.get(CalendarGap, year)


def clear_gap(session: Session, year: int) -> None:
    session.execute(delete(CalendarGap).where(CalendarGap.year == year))
