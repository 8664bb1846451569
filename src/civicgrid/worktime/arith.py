"""Deadline arithmetic over a working calendar (pure: no database).

Working time is office time: by default 08:30–12:00 and 14:30–17:30, Asia/Shanghai, on working
days. A working day is Monday–Friday unless the calendar says otherwise (a national holiday on a
weekday, or a weekend day made a working day by the State Council's arrangement, 调休上班).
"N working days" is N full office days of working time counted from the start, so a matter
dispatched on Monday at 10:00 with 3 working days is due on Thursday at 10:00; one dispatched
outside office hours starts counting at the next opening.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from civicgrid.kit.clock import CHINA_TZ

MAX_SPAN_DAYS = 3 * 366  # no time limit runs longer; a bigger one is a data error


class Unit(StrEnum):
    """Units a time limit can be written in."""

    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"


@dataclass(frozen=True)
class OfficeHours:
    """The office periods of a working day, local time, in order and not overlapping."""

    periods: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(14, 30), time(17, 30)))

    def __post_init__(self) -> None:
        previous = time.min
        for start, end in self.periods:
            if not (previous <= start < end):
                raise ValueError("office periods must be ordered and non-empty")
            previous = end

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """``"08:30-12:00,14:30-17:30"`` → OfficeHours."""
        periods = []
        for part in text.split(","):
            start, _, end = part.strip().partition("-")
            periods.append((time.fromisoformat(start.strip()), time.fromisoformat(end.strip())))
        return cls(tuple(periods))

    @property
    def minutes_per_day(self) -> int:
        return sum((_minutes(end) - _minutes(start)) for start, end in self.periods)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


@dataclass(frozen=True)
class Due:
    """A computed deadline, and the years it crossed for which no arrangement is known (counted
    Monday–Friday: administrators must be warned)."""

    at: datetime
    assumed_years: frozenset[int] = field(default_factory=frozenset)


class WorkCalendar:
    """Holidays and adjusted working days of the known years, plus office hours."""

    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = (),
                 known_years: Iterable[int] = (), hours: OfficeHours | None = None) -> None:
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        self.known_years = frozenset(known_years)
        self.hours = hours or OfficeHours()

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add(self, start: datetime, amount: int, unit: Unit | str) -> Due:
        """``start`` plus a time limit; ``start`` must be timezone-aware (any zone)."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if amount < 0:
            raise ValueError("a time limit cannot be negative")
        unit = Unit(unit)
        if unit is Unit.MINUTES:
            return Due(start + timedelta(minutes=amount))
        if unit is Unit.HOURS:
            return Due(start + timedelta(hours=amount))
        if unit is Unit.DAYS:
            return Due(start + timedelta(days=amount))
        per_day = self.hours.minutes_per_day
        minutes = amount * 60 if unit is Unit.WORKING_HOURS else amount * per_day
        return self.add_office_minutes(start, minutes)

    def add_office_minutes(self, start: datetime, minutes: float) -> Due:
        """``start`` plus ``minutes`` of office time (fractions allowed, e.g. 75 % of a limit)."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        local = start.astimezone(CHINA_TZ)
        day = local.date()
        clock = _minutes(local.time()) + local.second / 60 + local.microsecond / 60_000_000
        assumed: set[int] = set()
        remaining = float(minutes)
        for _ in range(MAX_SPAN_DAYS):
            if day.year not in self.known_years:
                assumed.add(day.year)
            if self.is_working_day(day):
                for p_start, p_end in self.hours.periods:
                    lo, hi = max(clock, _minutes(p_start)), _minutes(p_end)
                    if lo >= hi:
                        continue
                    if remaining <= hi - lo and (remaining > 0 or lo < hi):
                        if remaining == 0 and lo > clock:
                            # Zero time left: due at the moment counting would have started.
                            return Due(_at(day, lo), frozenset(assumed))
                        return Due(_at(day, lo + remaining), frozenset(assumed))
                    remaining -= hi - lo
            day += timedelta(days=1)
            clock = 0
        raise ValueError(f"time limit of {minutes} office minutes runs past {MAX_SPAN_DAYS} days")

    def office_minutes_between(self, start: datetime, end: datetime) -> float:
        """Office time between two instants (for "time used" and on-time figures)."""
        if end <= start:
            return 0.0
        a, b = start.astimezone(CHINA_TZ), end.astimezone(CHINA_TZ)
        total = 0.0
        day = a.date()
        while day <= b.date():
            if self.is_working_day(day):
                for p_start, p_end in self.hours.periods:
                    lo = _at(day, _minutes(p_start))
                    hi = _at(day, _minutes(p_end))
                    lo, hi = max(lo, a), min(hi, b)
                    if hi > lo:
                        total += (hi - lo).total_seconds() / 60
            day += timedelta(days=1)
        return total


def _at(day: date, minute_of_day: float) -> datetime:
    whole = int(minute_of_day)
    seconds = round((minute_of_day - whole) * 60, 6)
    base = datetime(day.year, day.month, day.day, whole // 60, whole % 60, tzinfo=CHINA_TZ)
    return base + timedelta(seconds=seconds)
