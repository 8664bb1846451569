"""The kit's timed steps: a limit in calendar, working or statutory time, and the warning at a
share of it (office time for working units)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from civicgrid.kit.clock import CHINA_TZ
from civicgrid.workflow.timed import due_after, warning_at


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=CHINA_TZ)


def test_a_statutory_limit_rolls_over_national_day(db: Session) -> None:
    """信访工作条例 (2022-02-25) Art. 22: 15 days, the starting day not counted; the last day
    10-03-2026 falls in the National Day holiday, so the step runs to 24:00 on Thu 10-08."""
    assert due_after(db, local(2026, 9, 18, 15, 30), (0, "statutory:petition_registration")) == datetime(
        2026, 10, 8, 16, 0, tzinfo=UTC
    )


def test_calendar_limits_warn_at_their_share_of_clock_time(db: Session) -> None:
    start = local(2026, 12, 7, 9, 0).astimezone(UTC)
    due = due_after(db, start, (48, "hours"))
    assert due == start + timedelta(hours=48)
    assert warning_at(db, start, due, "hours", 0.75) == start + timedelta(hours=36)


def test_working_limits_warn_at_their_share_of_office_time(db: Session) -> None:
    """4 office hours from Monday 09:00 end at 15:30 (lunch 12:00–14:30); 75 % of them (3 h) is
    used at 12:00, not at 13:52 (75 % of the clock time)."""
    start = local(2026, 12, 7, 9, 0)
    due = due_after(db, start, (4, "working_hours"))
    assert due == local(2026, 12, 7, 15, 30).astimezone(UTC)
    assert warning_at(db, start, due, "working_hours", 0.75) == local(2026, 12, 7, 12, 0).astimezone(UTC)
