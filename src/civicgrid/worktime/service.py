"""The working calendar as data, and deadlines computed over it.

The calendar knows the years that ``chinese-calendar`` shipped with (seeded by the migration)
and the years administrators import afterwards, each from the State Council's annual notice on
holiday arrangements (国务院办公厅关于某年部分节假日安排的通知). A deadline that runs into a
year nobody has imported is counted Monday–Friday; it never fails a request, but the year is
recorded as a gap and shown to administrators until its arrangement is imported.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from civicgrid.config import get_settings
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import Invalid
from civicgrid.worktime import repository, statutory
from civicgrid.worktime.arith import Due, OfficeHours, Unit, WorkCalendar
from civicgrid.worktime.models import CalendarDay, CalendarGap, CalendarYear

log = logging.getLogger(__name__)

KINDS = ("holiday", "workday")

RECHECK_SECONDS = 5.0
"""How long a process trusts its cached calendar before asking the database whether a year was
imported by another process (an import in this process drops the cache at once)."""

_cache_lock = threading.Lock()
_cache: tuple[object, WorkCalendar, float] | None = None


def forget() -> None:
    """Drop the cached calendar (after an import, or in tests)."""
    global _cache
    with _cache_lock:
        _cache = None


def load(session: Session) -> WorkCalendar:
    """The calendar as stored, cached per process; re-validated against the database at most
    every :data:`RECHECK_SECONDS` (deadlines are computed on every intake and transition)."""
    global _cache
    now = time.monotonic()
    with _cache_lock:
        if _cache is not None and now - _cache[2] < RECHECK_SECONDS:
            return _cache[1]
    stamp = (repository.version(session), get_settings().office_hours)
    with _cache_lock:
        if _cache is not None and _cache[0] == stamp:
            _cache = (stamp, _cache[1], now)
            return _cache[1]
    days = repository.all_days(session)
    calendar = WorkCalendar(
        holidays=[d.day for d in days if d.kind == "holiday"],
        workdays=[d.day for d in days if d.kind == "workday"],
        known_years=[y.year for y in repository.years(session)],
        hours=OfficeHours.parse(get_settings().office_hours),
    )
    with _cache_lock:
        _cache = (stamp, calendar, now)
    return calendar


def deadline(session: Session, start: datetime, amount: int, unit: Unit | str) -> Due:
    """``start`` plus a time limit on the working calendar. A year without a known arrangement is
    counted Monday–Friday and recorded as a gap for administrators (never an error)."""
    due = load(session).add(start, amount, unit)
    for year in sorted(due.assumed_years):
        _note_gap(session, year)
    return due


def _note_gap(session: Session, year: int) -> None:
    now = utcnow()
    gap = repository.get_gap(session, year)
    if gap is None:
        log.warning("working calendar: no holiday arrangement for %s; counting Monday-Friday", year)
        session.add(CalendarGap(year=year, first_seen=now, last_seen=now, uses=1))
    else:
        gap.last_seen = now
        gap.uses += 1
    session.flush()


@dataclass(frozen=True)
class DayRow:
    """One line of an imported arrangement."""

    day: date
    kind: str
    name: str = ""


def import_year(session: Session, year: int, rows: list[DayRow], *, source: str) -> CalendarYear:
    """Replace a year's arrangement (holidays on weekdays, working weekend days) as one unit.

    Refused whole, naming the row, when a date lies outside the year, a kind is unknown, a date
    repeats, or a "workday" falls on a weekday (it would change nothing: a mistake).
    """
    if not 2000 <= year <= 2100:
        raise Invalid(f"年份不合理：{year}", f"Implausible year: {year}", details={"field": "year"})
    seen: set[date] = set()
    for number, row in enumerate(rows, start=1):
        where_zh, where_en = f"第 {number} 行", f"row {number}"
        if row.day.year != year:
            raise Invalid(f"{where_zh}：日期 {row.day} 不在 {year} 年", f"{where_en}: {row.day} is not in {year}",
                          details={"row": number, "field": "date"})
        if row.kind not in KINDS:
            raise Invalid(f"{where_zh}：类型应为 holiday（放假）或 workday（调休上班）",
                          f"{where_en}: kind must be holiday or workday", details={"row": number, "field": "kind"})
        if row.day in seen:
            raise Invalid(f"{where_zh}：日期 {row.day} 重复", f"{where_en}: {row.day} appears twice",
                          details={"row": number, "field": "date"})
        if row.kind == "workday" and row.day.weekday() < 5:
            raise Invalid(f"{where_zh}：{row.day} 本是工作日，不能再标为调休上班",
                          f"{where_en}: {row.day} is already a weekday; only weekend days can be made working days",
                          details={"row": number, "field": "kind"})
        seen.add(row.day)
    repository.delete_days_of(session, year)
    for row in rows:
        session.add(CalendarDay(day=row.day, year=year, kind=row.kind, name=row.name[:64]))
    record = repository.get_year(session, year)
    now = utcnow()
    holidays = sum(1 for r in rows if r.kind == "holiday")
    workdays = len(rows) - holidays
    if record is None:
        record = CalendarYear(year=year, source=source[:128], holidays=holidays, workdays=workdays, updated_at=now)
        session.add(record)
    else:
        record.source, record.holidays, record.workdays, record.updated_at = source[:128], holidays, workdays, now
    repository.clear_gap(session, year)
    session.flush()
    forget()
    return record


def years(session: Session) -> list[CalendarYear]:
    return list(repository.years(session))


def days_of(session: Session, year: int) -> list[CalendarDay]:
    return list(repository.days_of(session, year))


def gaps(session: Session) -> list[CalendarGap]:
    """Years a deadline was counted in without a known arrangement (the administrators' warning)."""
    return list(repository.gaps(session))


def package_rows() -> dict[int, list[DayRow]]:
    """The arrangements that the installed ``chinese-calendar`` knows, by year."""
    import chinese_calendar

    by_year: dict[int, list[DayRow]] = {}
    for day, name in chinese_calendar.holidays.items():
        by_year.setdefault(day.year, []).append(DayRow(day, "holiday", _holiday_name(name)))
    for day, name in chinese_calendar.workdays.items():
        if day.weekday() >= 5:
            by_year.setdefault(day.year, []).append(DayRow(day, "workday", _holiday_name(name)))
    return {year: sorted(rows, key=lambda r: r.day) for year, rows in by_year.items()}


HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "Mid-autumn Festival": "中秋节", "National Day": "国庆节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def _holiday_name(value: object) -> str:
    english = str(value or "")
    chinese = HOLIDAY_NAMES_ZH.get(english)
    return f"{chinese} {english}" if chinese else english


def statutory_deadline(session: Session, rule_code: str, start: datetime,
                       adjustments: list[statutory.ClockEvent]) -> statutory.StatutoryDeadline:
    """A statutory period (法定期间) named by ``rule_code``, over the stored holiday calendar.
    A last day in a year without a known arrangement is judged Monday–Friday and the year is
    recorded as a gap for administrators, as for office time."""
    result = statutory.deadline(rule_code, start, adjustments, load(session))
    for year in sorted(result.assumed_years):
        _note_gap(session, year)
    return result


def statutory_rules() -> list[statutory.StatutoryRule]:
    """The shipped statutory rules, in the order of the rules file."""
    return list(statutory.shipped_rules().values())
