"""Deadlines over the working calendar: weekends, national holidays, adjusted working days,
office hours, and years nobody has imported yet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from civicgrid.kit.clock import CHINA_TZ
from civicgrid.kit.errors import Invalid
from civicgrid.worktime import service
from civicgrid.worktime.arith import OfficeHours, Unit, WorkCalendar


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


PLAIN = WorkCalendar(known_years=[2026])


def test_natural_units_ignore_the_calendar() -> None:
    start = local(2026, 10, 1, 9)
    assert PLAIN.add(start, 90, Unit.MINUTES).at == start + timedelta(minutes=90)
    assert PLAIN.add(start, 24, Unit.HOURS).at == start + timedelta(hours=24)
    assert PLAIN.add(start, 2, Unit.DAYS).at == start + timedelta(days=2)


def test_working_hours_skip_lunch_and_night() -> None:
    # Monday 10:00 + 4 working hours: 10:00-12:00 (2h), 14:30-16:30 (2h)
    assert PLAIN.add(local(2026, 11, 30, 10), 4, Unit.WORKING_HOURS).at == local(2026, 11, 30, 16, 30)
    # Monday 16:30 + 2 working hours: 1h today, then Tuesday 08:30 + 1h
    assert PLAIN.add(local(2026, 11, 30, 16, 30), 2, Unit.WORKING_HOURS).at == local(2026, 12, 1, 9, 30)


def test_working_days_skip_the_weekend() -> None:
    # Friday 10:00 + 1 working day → Monday 10:00
    assert PLAIN.add(local(2026, 11, 27, 10), 1, Unit.WORKING_DAYS).at == local(2026, 11, 30, 10)
    # reported Saturday evening: counting starts Monday 08:30
    assert PLAIN.add(local(2026, 11, 28, 20), 4, Unit.WORKING_HOURS).at == local(2026, 11, 30, 15)


def test_input_in_utc_gives_the_same_instant() -> None:
    start = local(2026, 11, 30, 10).astimezone(UTC)
    assert PLAIN.add(start, 4, Unit.WORKING_HOURS).at == local(2026, 11, 30, 16, 30)


def test_office_hours_are_configurable() -> None:
    hours = OfficeHours.parse("09:00-12:00,13:00-17:00")
    assert hours.minutes_per_day == 420
    cal = WorkCalendar(known_years=[2026], hours=hours)
    assert cal.add(local(2026, 11, 30, 11), 2, Unit.WORKING_HOURS).at == local(2026, 11, 30, 14)
    with pytest.raises(ValueError):
        OfficeHours.parse("12:00-09:00")


def test_office_minutes_between() -> None:
    assert PLAIN.office_minutes_between(local(2026, 11, 27, 16), local(2026, 11, 30, 9)) == 90 + 30


def test_negative_or_naive_refused() -> None:
    with pytest.raises(ValueError):
        PLAIN.add(local(2026, 1, 5), -1, Unit.HOURS)
    with pytest.raises(ValueError):
        PLAIN.add(datetime(2026, 1, 5), 1, Unit.HOURS)


# ------------------------------------------------------------ the stored calendar (seeded by the migration)


def test_migration_seeded_2026_national_day(db: Session) -> None:
    cal = service.load(db)
    assert 2026 in cal.known_years and 2004 in cal.known_years
    assert not cal.is_working_day(date(2026, 10, 1))  # 国庆节
    assert cal.is_working_day(date(2026, 9, 20))  # Sunday made a working day (调休上班)
    # Wednesday 30 September 2026, 10:00 + 1 working day: 1-7 October are holidays,
    # Thursday 8 October is the next working day
    due = service.deadline(db, local(2026, 9, 30, 10), 1, Unit.WORKING_DAYS)
    assert due.at == local(2026, 10, 8, 10) and not due.assumed_years


def test_spring_festival_2026(db: Session) -> None:
    # Friday 13 February 2026 16:00 + 3 working days. 14 Feb (Sat) is a working day;
    # 15-23 Feb are holidays; 24 Feb resumes.
    due = service.deadline(db, local(2026, 2, 13, 16), 3, Unit.WORKING_DAYS)
    # 13th: 1.5h; 14th: 6.5h; 24th: 6.5h; 25th: 5h left → 08:30+3.5h=12:00, +1.5h → 16:00
    assert due.at == local(2026, 2, 25, 16)


def test_unknown_year_counts_weekdays_and_warns(db: Session) -> None:
    def uses_2027() -> int:  # other tests in this database may have counted into 2027 already
        return next((g.uses for g in service.gaps(db) if g.year == 2027), 0)

    before = uses_2027()
    due = service.deadline(db, local(2026, 12, 31, 10), 2, Unit.WORKING_DAYS)
    # 31 Dec (Thu) → 1 Jan 2027 (Fri, not known as a holiday) → 4 Jan (Mon) 10:00
    assert due.at == local(2027, 1, 4, 10)
    assert due.assumed_years == frozenset({2027})
    assert uses_2027() == before + 1
    service.deadline(db, local(2026, 12, 31, 10), 2, Unit.WORKING_DAYS)
    assert uses_2027() == before + 2


def test_importing_a_year_fixes_deadlines_and_clears_the_warning(db: Session) -> None:
    service.deadline(db, local(2026, 12, 31, 10), 2, Unit.WORKING_DAYS)
    rows = [service.DayRow(date(2027, 1, 1), "holiday", "元旦")]
    service.import_year(db, 2027, rows, source="国办发明电〔2026〕 test")
    due = service.deadline(db, local(2026, 12, 31, 10), 2, Unit.WORKING_DAYS)
    assert due.at == local(2027, 1, 5, 10) and not due.assumed_years
    assert all(g.year != 2027 for g in service.gaps(db))


@pytest.mark.parametrize(("row", "field"), [
    (service.DayRow(date(2028, 1, 1), "holiday"), "date"),
    (service.DayRow(date(2027, 1, 1), "vacation"), "kind"),
    (service.DayRow(date(2027, 1, 6), "workday"), "kind"),  # a Wednesday is already a working day
])
def test_bad_rows_refused_naming_the_row(db: Session, row: service.DayRow, field: str) -> None:
    good = service.DayRow(date(2027, 1, 1), "holiday", "元旦")
    rows = [good, row] if row.day != good.day else [row]
    with pytest.raises(Invalid) as err:
        service.import_year(db, 2027, rows, source="test")
    assert err.value.details["field"] == field and err.value.details["row"] == len(rows)
    assert all(y.year != 2027 for y in service.years(db))  # nothing half-applied


def test_duplicate_date_refused(db: Session) -> None:
    row = service.DayRow(date(2027, 1, 1), "holiday")
    with pytest.raises(Invalid, match="twice"):
        service.import_year(db, 2027, [row, row], source="test")
