"""Statutory time (法定期间): how the law counts hours, days and months, holidays, custody,
exclusions and restarts — worked examples over the stored holiday calendar.

Each test names the article and the version of the law that decides it. The calendar is the one
the migration seeds from ``chinese-calendar`` 1.11.0; for 2026 it records 1–7 October as National
Day holidays and Sunday 20 September and Saturday 10 October as adjusted working days (调休上班).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from civicgrid.kit.clock import CHINA_TZ
from civicgrid.kit.errors import Invalid
from civicgrid.worktime import service
from civicgrid.worktime.arith import WorkCalendar
from civicgrid.worktime.statutory import (
    ClockEvent,
    EventKind,
    StatutoryClock,
    add_months,
    deadline,
    get_rule,
    parse_rules,
    shipped_rules,
)


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


def end_of(y: int, m: int, d: int) -> datetime:
    """24:00 of a local day, as stored (UTC)."""
    return (local(y, m, d) + timedelta(days=1)).astimezone(UTC)


def pause(at: datetime, reason: str) -> ClockEvent:
    return ClockEvent(EventKind.PAUSE, at, reason)


def resume(at: datetime) -> ClockEvent:
    return ClockEvent(EventKind.RESUME, at)


def restart(at: datetime, reason: str) -> ClockEvent:
    return ClockEvent(EventKind.RESTART, at, reason)


# ------------------------------------------------------------------------------------------ days


def test_15_days_from_friday_18_september_2026_roll_over_national_day(db: Session) -> None:
    """信访工作条例 (2022-02-25) Art. 22: 15 days; counted as 刑事诉讼法 (2018) Art. 105 /
    民事诉讼法 (2023) Art. 85 count: the starting day is not counted, so day 1 is Sat 09-19 and
    day 15 is Sat 10-03. The 2026 calendar rows make 1–7 October holidays (and 10-03 would be a
    Saturday anyway); the first day after them is Thu 10-08, a working day: the period ends at
    24:00 on 10-08, stored as 2026-10-08T16:00Z."""
    cal = service.load(db)
    assert [cal.is_working_day(date(2026, 10, d)) for d in range(1, 9)] == [False] * 7 + [True]
    result = service.statutory_deadline(db, "petition_registration", local(2026, 9, 18, 15, 30), [])
    assert result.nominal_last_day == date(2026, 10, 3)
    assert result.last_day == date(2026, 10, 8)
    assert result.due_at == datetime(2026, 10, 8, 16, 0, tzinfo=UTC)
    assert result.due_at.isoformat() == "2026-10-08T16:00:00+00:00"
    assert result.counting_from == local(2026, 9, 19).astimezone(UTC)
    assert result.explanation_zh == "自 2026-09-19 起算 15 日，末日 10-03 为法定节假日，顺延至节后第一日 10-08 24:00"
    assert "10-08, at 24:00" in result.explanation_en


def test_15_days_from_saturday_5_september_end_on_an_adjusted_working_sunday(db: Session) -> None:
    """信访工作条例 (2022-02-25) Art. 22, counted per 刑事诉讼法 (2018) Art. 105: day 1 is
    09-06, day 15 is Sun 09-20 — a Sunday the 2026 arrangement makes a working day (调休上班),
    so it is not a holiday and nothing rolls over."""
    result = service.statutory_deadline(db, "petition_registration", local(2026, 9, 5, 9), [])
    assert date(2026, 9, 20).weekday() == 6
    assert result.last_day == result.nominal_last_day == date(2026, 9, 20)
    assert result.due_at == end_of(2026, 9, 20)
    assert "顺延" not in result.explanation_zh


def test_an_ordinary_weekend_last_day_rolls_to_monday(db: Session) -> None:
    """信访工作条例 (2022-02-25) Art. 35 (30 days), 刑事诉讼法 (2018) Art. 105(4): a last day on
    a rest day (Sat 2026-11-28) moves to the first working day after it, Mon 11-30."""
    result = service.statutory_deadline(db, "petition_review", local(2026, 10, 29, 10), [])
    assert result.nominal_last_day == date(2026, 11, 28)
    assert result.due_at == end_of(2026, 11, 30)
    assert "休息日" in result.explanation_zh


def test_custody_period_is_not_extended_by_a_holiday(db: Session) -> None:
    """刑事诉讼法 (2018-10-26) Art. 91(1) and Art. 105(4): request approval of arrest within 3
    days of detention; a suspect in custody is held only until the last day, never extended for
    holidays. Detained Wed 2026-09-30: days 10-01..10-03, all holidays; ends 24:00 on 10-03."""
    result = service.statutory_deadline(db, "cpl_arrest_request", local(2026, 9, 30, 21, 40), [])
    assert result.last_day == date(2026, 10, 3)
    assert result.due_at == end_of(2026, 10, 3)
    assert "不因节假日延长" in result.explanation_zh
    # The same dates under a non-custody rule roll over to 10-08 (Art. 105(4), first clause).
    rolled = service.statutory_deadline(db, "petition_registration", local(2026, 9, 18, 10), [])
    assert rolled.due_at == end_of(2026, 10, 8)


# ----------------------------------------------------------------------------------------- hours


def test_next_full_hour_versus_exact_start() -> None:
    """刑事诉讼法 (2018-10-26) Art. 85(2) with Art. 105(2): notify the family within 24 hours of
    detention, the starting hour not counted — detained at 10:00 or at 10:20, counting starts at
    11:00 and ends at 11:00 the next day. 公安机关适用继续盘问规定 (2004) Art. 11(2): continued
    questioning runs from the moment the person is brought to the station, to the minute —
    10:20 + 12 hours is 22:20. Hours never roll over holidays (1 October 2026 is one)."""
    cal = WorkCalendar(holidays=[date(2026, 10, 1)], known_years=[2026])
    notice = get_rule("cpl_detention_family_notice")
    at_ten = deadline(notice, local(2026, 9, 30, 10, 0), [], cal)
    at_ten_twenty = deadline(notice, local(2026, 9, 30, 10, 20), [], cal)
    assert at_ten.counting_from == at_ten_twenty.counting_from == local(2026, 9, 30, 11).astimezone(UTC)
    assert at_ten.due_at == at_ten_twenty.due_at == local(2026, 10, 1, 11).astimezone(UTC)
    assert "不计入" in at_ten_twenty.explanation_zh
    questioning = deadline(get_rule("continued_questioning"), local(2026, 9, 30, 10, 20), [], cal)
    assert questioning.due_at == local(2026, 9, 30, 22, 20).astimezone(UTC)
    summons = deadline(get_rule("cpl_summons_extended"), local(2026, 9, 30, 23, 59), [], cal)
    assert summons.due_at == local(2026, 10, 1, 23, 59).astimezone(UTC)  # through the holiday


# ---------------------------------------------------------------------------------------- months


@pytest.mark.parametrize(("start", "months", "end"), [
    (date(2027, 2, 28), 1, date(2027, 3, 31)),  # starts on a month's last day → next month's last day
    (date(2027, 1, 31), 1, date(2027, 2, 28)),  # 2027-02-31 does not exist → the month's last day
    (date(2028, 1, 30), 1, date(2028, 2, 29)),  # leap year
    (date(2027, 1, 15), 1, date(2027, 2, 15)),  # same date
    (date(2026, 11, 30), 3, date(2027, 2, 28)),  # 30 Nov is the last day of November
    (date(2026, 12, 31), 12, date(2027, 12, 31)),
])
def test_month_end_rules(start: date, months: int, end: date) -> None:
    """最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释 (2021-03-01) Art. 202: a month runs
    to the same date of the next month; from a month's last day to the next month's last day; a
    date the next month lacks becomes its last day."""
    assert add_months(start, months) == end


def test_month_periods_and_half_a_month() -> None:
    """Same Art. 202 (SPC interpretation, 2021): half a month is always 15 days. 刑事诉讼法 (2018)
    Art. 172(1): review for prosecution 1 month, +15 days if major and complex. Received
    2026-11-16: 1 month ends 12-16, 1½ months ends 12-31 (both working days)."""
    cal = WorkCalendar(known_years=[2026])
    one = deadline(get_rule("cpl_prosecution_review"), local(2026, 11, 16, 9), [], cal)
    assert one.due_at == end_of(2026, 12, 16)
    extended = deadline(get_rule("cpl_prosecution_review_extended"), local(2026, 11, 16, 9), [], cal)
    assert extended.due_at == end_of(2026, 12, 31)
    assert get_rule("cpl_prosecution_review_extended").amount_zh == "1 个半月"
    # Starting on the last day of February 2027: the last day of March (Wed 03-31).
    feb = deadline(get_rule("cpl_prosecution_review"), local(2027, 2, 28, 9), [],
                   WorkCalendar(known_years=[2027]))
    assert feb.due_at == end_of(2027, 3, 31)


def test_month_custody_period_ends_on_a_holiday(db: Session) -> None:
    """刑事诉讼法 (2018-10-26) Art. 156 (2 months' investigative custody after arrest) and
    Art. 105(4): arrested 2026-08-03, the period's last day is Sat 10-03 in the National Day
    holiday; a custody period is not extended."""
    result = service.statutory_deadline(db, "cpl_investigation_custody", local(2026, 8, 3, 16), [])
    assert result.due_at == end_of(2026, 10, 3)


# ------------------------------------------------------------------------- exclusions and restarts


def test_an_exclusion_of_five_days_moves_the_end_by_five_days(db: Session) -> None:
    """信访工作条例 (2022-02-25) Art. 36(2): hearing time is not counted in the 30-day re-review.
    Request received Mon 2026-11-02: days 11-03..12-02. A hearing from 11-05 to 11-10 stops
    the clock with 27 days left (11-05 itself counted); it resumes on the 10th and runs 11-11..
    12-07 (Mon): five days later than without the hearing."""
    start = local(2026, 11, 2, 9)
    plain = service.statutory_deadline(db, "petition_re_review", start, [])
    assert plain.due_at == end_of(2026, 12, 2)
    events = [pause(local(2026, 11, 5, 14), "hearing"), resume(local(2026, 11, 10, 9))]
    result = service.statutory_deadline(db, "petition_re_review", start, events)
    assert result.due_at == end_of(2026, 12, 7)
    assert result.due_at - plain.due_at == timedelta(days=5)
    assert "尚余 27 日" in result.explanation_zh and "听证" in result.explanation_zh


def test_while_excluded_there_is_no_deadline_and_the_time_left_is_kept(db: Session) -> None:
    """刑事诉讼法 (2018-10-26) Art. 149: psychiatric appraisal of the suspect is not counted in the
    time limit. Arrested 2026-11-02 (2 months → 2027-01-02, Art. 156); appraisal from 11-10:
    paused with 53 days left; resumed 11-30 → last day 2027-01-22."""
    clock = StatutoryClock("cpl_investigation_custody", local(2026, 11, 2, 10))
    clock = clock.pause(local(2026, 11, 10, 10), "psychiatric_appraisal")
    cal = service.load(db)
    stopped = clock.deadline(cal)
    assert stopped.paused and stopped.due_at is None and stopped.remaining_days == 53
    running = clock.resume(local(2026, 11, 30, 15)).deadline(cal)
    assert running.due_at == end_of(2027, 1, 22)
    assert not running.paused


def test_restart_counts_the_period_afresh(db: Session) -> None:
    """刑事诉讼法 (2018-10-26) Art. 160(1): another major crime discovered during investigation →
    the investigative custody period of Art. 156 is counted again from the day of discovery.
    Arrested 2026-09-01 (would end 11-01); discovery on 10-10 → 2 months from 10-10: 12-10."""
    start = local(2026, 9, 1, 10)
    before = service.statutory_deadline(db, "cpl_investigation_custody", start, [])
    assert before.due_at == end_of(2026, 11, 1)
    after = service.statutory_deadline(db, "cpl_investigation_custody", start,
                                       [restart(local(2026, 10, 10, 16), "other_major_crime")])
    assert after.due_at == end_of(2026, 12, 10)
    assert "重新计算" in after.explanation_zh and "第160条第1款" in after.explanation_zh


def test_hour_exclusion_resumes_to_the_minute() -> None:
    """The hours arithmetic of an exclusion, on a rule that declares one (a test rule: no shipped
    hours rule has an exclusion): 12 hours from 08:00, paused 10:30 (9 h 30 min left), resumed
    13:00 → 22:30."""
    rules = parse_rules({"sources": {"cpl": {"zh": "刑事诉讼法", "en": "CPL", "version": "2018-10-26"}}, "rules": [{
        "code": "t", "name_zh": "测试", "name_en": "test", "unit": "hours", "amount": 12, "start_mode": "exact",
        "holidays": "none", "basis": [], "counting": {"source": "cpl", "article": 105, "verified": True},
        "exclusions": [{"code": "x", "name_zh": "扣除", "name_en": "Excluded",
                        "basis": {"source": "cpl", "article": 149, "verified": True}}]}]})
    cal = WorkCalendar(known_years=[2026])
    result = deadline(rules["t"], local(2026, 12, 1, 8), [pause(local(2026, 12, 1, 10, 30), "x"),
                                                           resume(local(2026, 12, 1, 13))], cal)
    assert result.due_at == local(2026, 12, 1, 22, 30).astimezone(UTC)
    assert "9 小时 30 分" in result.explanation_zh


@pytest.mark.parametrize(("events", "index"), [
    ([pause(local(2026, 11, 5), "appraisal_of_anything")], 1),  # not an exclusion this rule declares
    ([resume(local(2026, 11, 5))], 1),  # nothing to resume
    ([pause(local(2026, 11, 5), "hearing"), pause(local(2026, 11, 6), "hearing")], 2),
    ([pause(local(2026, 11, 9), "hearing"), resume(local(2026, 11, 6))], 2),  # out of order
    ([restart(local(2026, 11, 5), "supplementary_investigation")], 1),  # no restart for petitions
    ([pause(local(2026, 12, 3, 1), "hearing")], 1),  # the period had ended on 12-02
])
def test_adjustments_the_rule_does_not_allow_are_refused(db: Session, events: list[ClockEvent], index: int) -> None:
    """信访工作条例 (2022-02-25) Art. 36(2) allows excluding hearing time and nothing else."""
    with pytest.raises(Invalid) as err:
        service.statutory_deadline(db, "petition_re_review", local(2026, 11, 2, 9), events)
    assert err.value.status == 422 and err.value.details["index"] == index


def test_clock_value_round_trips_through_storage() -> None:
    """A stored clock recomputes to the same deadline (刑事诉讼法 2018 Arts. 149, 156, 160)."""
    clock = (StatutoryClock("cpl_investigation_custody", local(2026, 9, 1, 10))
             .pause(local(2026, 9, 10, 10), "psychiatric_appraisal").resume(local(2026, 9, 20, 10))
             .restart(local(2026, 10, 1, 10), "other_major_crime"))
    cal = WorkCalendar(known_years=[2026])
    assert StatutoryClock.from_dict(clock.to_dict()).deadline(cal).due_at == clock.deadline(cal).due_at


# ------------------------------------------------------------------------------------ the rules


def test_rules_carry_their_articles_and_unverified_ones_say_so() -> None:
    """The shipped rules name law, article and version; a citation not read in the primary
    text (治安管理处罚法 2012, revised 2025 in force 2026-01-01) makes its rule unverified."""
    rules = shipped_rules()
    custody = rules["cpl_investigation_custody"]
    assert (custody.basis[0].article, custody.basis[0].version) == (156, "2018-10-26")
    assert custody.counting.article == 202 and custody.counting.verified and custody.verified
    assert [e.basis.article for e in custody.exclusions] == [149]
    assert {r.basis.article for r in custody.restarts} == {160}
    assert not rules["psa_case"].verified and not rules["psa_questioning"].verified
    assert rules["continued_questioning"].start_mode == "exact"
    assert rules["cpl_detention_family_notice"].start_mode == "next_full_hour"
    assert all(r.holidays == "custody" for c, r in rules.items() if c.startswith(("cpl_arrest_re", "cpl_inv")))


@pytest.mark.parametrize(("change", "message"), [
    ({"holidays": "roll_forward"}, "hours never roll"),
    ({"start_mode": "next_day"}, "hours start exact"),
    ({"amount": 1.5}, "multiple of 0.5"),
    ({"counting": {"source": "nowhere", "article": 1}}, "unknown source"),
])
def test_malformed_rules_are_refused(change: dict[str, object], message: str) -> None:
    rule = {"code": "t", "name_zh": "测试", "name_en": "test", "unit": "hours", "amount": 12, "start_mode": "exact",
            "holidays": "none", "basis": [], "counting": {"source": "cpl", "article": 105}, **change}
    with pytest.raises(ValueError, match=message):
        parse_rules({"sources": {"cpl": {"zh": "刑事诉讼法", "en": "CPL", "version": "2018"}}, "rules": [rule]})


def test_unknown_rule_refused() -> None:
    with pytest.raises(Invalid) as err:
        get_rule("no_such_rule")
    assert err.value.status == 422


def test_a_year_without_an_arrangement_is_recorded_as_a_gap(db: Session) -> None:
    """As for office time: 2091 has no imported arrangement, so its last day is judged
    Monday–Friday and administrators are warned (刑事诉讼法 2018 Art. 105)."""
    result = service.statutory_deadline(db, "petition_review", local(2091, 3, 1, 9), [])
    assert result.assumed_years == frozenset({2091})
    assert any(g.year == 2091 for g in service.gaps(db))
