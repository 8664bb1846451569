"""Statutory time (法定期间): the counting the law uses, as rules a timed step names.

Pure arithmetic over the holiday calendar (no database). The rules are data
(``data/statutory_rules.json``); each names its unit, amount, how its start is taken, what a
holiday does to its last day, and the articles behind all of that. The one entry point is
:func:`deadline` — ``deadline(rule, start, adjustments, calendar)`` — and a running clock is a
:class:`StatutoryClock` value (start + events) that a timed step or a durable timer stores and
recomputes.

How periods are counted (刑事诉讼法 2018 第105条; 公安机关办理行政案件程序规定 第35条;
民事诉讼法 2023 第85条; 最高人民法院关于适用《刑事诉讼法》的解释 2021 第202条):

* **Start.** ``exact``: from the recorded moment, to the minute, where the law fixes it
  (继续盘问 and 留置 "自带至公安机关之时起"; 传唤/拘传/询问查证 from the arrival time on the
  summons). ``next_full_hour``: the starting hour is not counted, so an event at 10:00 *or*
  10:20 counts from 11:00 (the hour in which it happened, 10:00–11:00, is "期间开始的时").
  ``next_day``: the starting day is not counted; counting begins at 00:00 the next day.
* **Hours** run straight through nights and holidays.
* **Days** end at 24:00 (Asia/Shanghai) of the last day. A last day that is not a working day
  in the holiday calendar (a statutory holiday, or a weekend day not made a working day by 调休)
  moves to the first working day after it — except custody periods (在押期间 / 被限制人身自由的
  期间), which end on their last day regardless. Reading 节假日 as every non-working day of the
  calendar (weekends included, 调休 working weekends excluded) is the prevailing practice, not
  words of the articles; it is why the calendar rows, not a list of festivals, decide.
* **Months** end on the same date of the month; a start on a month's last day ends on the last
  day of the target month; a date the month lacks becomes its last day; half a month is 15 days.
  The holiday rule for days applies to the last day.
* **Exclusions** (pause → resume) stop the clock; on resume it runs on with the time it had left.
  Hours resume to the minute. Days and months resume by whole days: the day of the pause counts
  as used and the day of the resumption is, like any starting day, not counted.
* **Restarts** (重新计算) count the full period afresh from the restart, by the rule's start mode.
"""

from __future__ import annotations

import calendar as _monthcal
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Any

from civicgrid.kit.clock import CHINA_TZ
from civicgrid.kit.errors import Invalid
from civicgrid.worktime.arith import WorkCalendar

RULES_FILE = "statutory_rules.json"
MAX_ROLL_DAYS = 60  # no run of holidays is longer; a longer one is a calendar error


class PeriodUnit(StrEnum):
    """Units the law writes a period in."""

    HOURS = "hours"
    DAYS = "days"
    MONTHS = "months"


class StartMode(StrEnum):
    """Where counting starts relative to the recorded moment."""

    EXACT = "exact"
    NEXT_FULL_HOUR = "next_full_hour"
    NEXT_DAY = "next_day"


class HolidayMode(StrEnum):
    """What a holiday on the last day does."""

    ROLL_FORWARD = "roll_forward"  # 顺延 to the first day after the holiday
    CUSTODY = "custody"  # 在押期间: never extended
    NONE = "none"  # hours: the clock runs through


class EventKind(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    RESTART = "restart"


@dataclass(frozen=True)
class Citation:
    """One article of one law, as read (verified) or not."""

    law_zh: str
    law_en: str
    version: str
    article: int
    paragraph: int | None = None
    verified: bool = False
    note: str = ""

    @property
    def text_zh(self) -> str:
        para = f"第{self.paragraph}款" if self.paragraph else ""
        if not self.article:  # a local practice, or an article not yet read (its note says which)
            return f"《{self.law_zh}》（{self.version}）"
        return f"《{self.law_zh}》（{self.version}）第{self.article}条{para}"

    @property
    def text_en(self) -> str:
        para = f"({self.paragraph})" if self.paragraph else ""
        if not self.article:
            return f"{self.law_en} ({self.version})"
        return f"{self.law_en} ({self.version}) Art. {self.article}{para}"


@dataclass(frozen=True)
class AdjustmentRule:
    """An exclusion or restart a rule allows, with its article."""

    code: str
    name_zh: str
    name_en: str
    basis: Citation


@dataclass(frozen=True)
class StatutoryRule:
    """A statutory period a timed step can name."""

    code: str
    name_zh: str
    name_en: str
    unit: PeriodUnit
    amount: float
    start_mode: StartMode
    holidays: HolidayMode
    basis: tuple[Citation, ...]
    counting: Citation
    exclusions: tuple[AdjustmentRule, ...] = ()
    restarts: tuple[AdjustmentRule, ...] = ()
    note_zh: str = ""
    note_en: str = ""

    @property
    def verified(self) -> bool:
        """True only when every citation of the rule was read in the primary text."""
        cites = [*self.basis, self.counting, *(a.basis for a in (*self.exclusions, *self.restarts))]
        return all(c.verified for c in cites)

    @property
    def amount_zh(self) -> str:
        return _amount_text(self.unit, self.amount, "zh")

    @property
    def amount_en(self) -> str:
        return _amount_text(self.unit, self.amount, "en")


def _amount_text(unit: PeriodUnit, amount: float, lang: str) -> str:
    whole = int(amount)
    if unit is PeriodUnit.MONTHS:
        half = amount - whole >= 0.5
        if lang == "zh":
            if whole == 0:
                return "半个月"
            return f"{whole} 个半月" if half else f"{whole} 个月"
        return f"{whole}½ months" if half else f"{whole} month{'s' if whole != 1 else ''}"
    if lang == "zh":
        return f"{whole} 小时" if unit is PeriodUnit.HOURS else f"{whole} 日"
    return f"{whole} hours" if unit is PeriodUnit.HOURS else f"{whole} days"


# ---------------------------------------------------------------- rules data


def parse_rules(data: dict[str, Any]) -> dict[str, StatutoryRule]:
    """The rules file → rules by code; a malformed rule raises ValueError naming it."""
    sources: dict[str, dict[str, str]] = data["sources"]

    def cite(raw: dict[str, Any], where: str) -> Citation:
        src = sources.get(raw["source"])
        if src is None:
            raise ValueError(f"{where}: unknown source {raw['source']!r}")
        return Citation(law_zh=src["zh"], law_en=src["en"], version=src["version"], article=int(raw["article"]),
                        paragraph=raw.get("paragraph"), verified=bool(raw.get("verified", False)),
                        note=raw.get("note", ""))

    def adjustments(raw: list[dict[str, Any]], where: str) -> tuple[AdjustmentRule, ...]:
        return tuple(AdjustmentRule(a["code"], a["name_zh"], a["name_en"], cite(a["basis"], f"{where} {a['code']}"))
                     for a in raw)

    rules: dict[str, StatutoryRule] = {}
    for raw in data["rules"]:
        code = raw["code"]
        unit = PeriodUnit(raw["unit"])
        start = StartMode(raw["start_mode"])
        holidays = HolidayMode(raw["holidays"])
        amount = float(raw["amount"])
        if code in rules:
            raise ValueError(f"{code}: code repeats")
        if amount <= 0 or (amount * 2) % 1 or (unit is not PeriodUnit.MONTHS and amount % 1):
            raise ValueError(f"{code}: amount must be a positive whole number (months: a multiple of 0.5)")
        if (unit is PeriodUnit.HOURS) != (start is not StartMode.NEXT_DAY):
            raise ValueError(f"{code}: hours start exact or at the next full hour; days and months the next day")
        if (unit is PeriodUnit.HOURS) != (holidays is HolidayMode.NONE):
            raise ValueError(f"{code}: hours never roll over holidays; days and months say what a holiday does")
        rules[code] = StatutoryRule(
            code=code, name_zh=raw["name_zh"], name_en=raw["name_en"], unit=unit, amount=amount,
            start_mode=start, holidays=holidays,
            basis=tuple(cite(b, code) for b in raw["basis"]), counting=cite(raw["counting"], code),
            exclusions=adjustments(raw.get("exclusions", []), code),
            restarts=adjustments(raw.get("restarts", []), code),
            note_zh=raw.get("note_zh", ""), note_en=raw.get("note_en", ""))
    return rules


@lru_cache(maxsize=1)
def shipped_rules() -> dict[str, StatutoryRule]:
    """The rules shipped in ``civicgrid/data/statutory_rules.json``."""
    text = resources.files("civicgrid").joinpath("data", RULES_FILE).read_text(encoding="utf-8")
    return parse_rules(json.loads(text))


def get_rule(code: str) -> StatutoryRule:
    """A shipped rule by code; an unknown code is refused (422) naming it."""
    rule = shipped_rules().get(code)
    if rule is None:
        raise Invalid(f"未知的法定期间规则：{code}", f"Unknown statutory rule: {code}", details={"field": "rule"})
    return rule


# ---------------------------------------------------------------- the clock


@dataclass(frozen=True)
class ClockEvent:
    """Something that happened to a running period: an exclusion begins (pause) or ends
    (resume), or the period is counted afresh (restart). ``reason`` is the code of one of the
    rule's exclusions or restarts."""

    kind: EventKind
    at: datetime
    reason: str = ""


@dataclass(frozen=True)
class StatutoryClock:
    """A running statutory period as a value: the rule, the recorded start and the events since.
    Store it (``to_dict``), add events, and recompute the deadline whenever needed."""

    rule: str
    start: datetime
    events: tuple[ClockEvent, ...] = ()

    def with_event(self, kind: EventKind | str, at: datetime, reason: str = "") -> StatutoryClock:
        return StatutoryClock(self.rule, self.start, (*self.events, ClockEvent(EventKind(kind), at, reason)))

    def pause(self, at: datetime, reason: str) -> StatutoryClock:
        return self.with_event(EventKind.PAUSE, at, reason)

    def resume(self, at: datetime, reason: str = "") -> StatutoryClock:
        return self.with_event(EventKind.RESUME, at, reason)

    def restart(self, at: datetime, reason: str) -> StatutoryClock:
        return self.with_event(EventKind.RESTART, at, reason)

    def deadline(self, calendar: WorkCalendar) -> StatutoryDeadline:
        return deadline(self.rule, self.start, self.events, calendar)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "start": self.start.astimezone(UTC).isoformat(),
                "events": [{"kind": e.kind.value, "at": e.at.astimezone(UTC).isoformat(), "reason": e.reason}
                           for e in self.events]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatutoryClock:
        return cls(data["rule"], datetime.fromisoformat(data["start"]),
                   tuple(ClockEvent(EventKind(e["kind"]), datetime.fromisoformat(e["at"]), e.get("reason", ""))
                         for e in data.get("events", [])))


@dataclass(frozen=True)
class StatutoryDeadline:
    """The result: when the period ends (None while an exclusion runs), and why, in words."""

    rule: StatutoryRule
    due_at: datetime | None
    counting_from: datetime
    paused: bool
    last_day: date | None = None
    nominal_last_day: date | None = None
    remaining_days: int | None = None
    remaining: timedelta | None = None
    steps_zh: tuple[str, ...] = ()
    steps_en: tuple[str, ...] = ()
    assumed_years: frozenset[int] = field(default_factory=frozenset)

    @property
    def explanation_zh(self) -> str:
        return "，".join(self.steps_zh)

    @property
    def explanation_en(self) -> str:
        return "; ".join(self.steps_en)


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise Invalid("时间须带时区", "Times must carry a time zone", details={"field": "start"})
    return moment.astimezone(CHINA_TZ)


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _md(day: date) -> str:
    return day.strftime("%m-%d")


def _end_of(day: date) -> datetime:
    """24:00 of a local day (= 00:00 of the next), as UTC."""
    nxt = day + timedelta(days=1)
    return datetime(nxt.year, nxt.month, nxt.day, tzinfo=CHINA_TZ).astimezone(UTC)


def add_months(start: date, months: int) -> date:
    """Same date ``months`` later; a start on a month's last day ends on the target month's last
    day, and a date the target month lacks becomes its last day (SPC CPL Interpretation 2021
    Art. 202)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    last = _monthcal.monthrange(year, month)[1]
    start_is_last = start.day == _monthcal.monthrange(start.year, start.month)[1]
    return date(year, month, last if start_is_last else min(start.day, last))


class _Run:
    """Mutable working state of one computation."""

    def __init__(self, rule: StatutoryRule) -> None:
        self.rule = rule
        self.origin: datetime = datetime.min.replace(tzinfo=UTC)
        self.end: datetime | None = None  # hours: the instant; days/months: 24:00 of last_day
        self.last_day: date | None = None
        self.paused_left_days: int | None = None
        self.paused_left: timedelta | None = None
        self.zh: list[str] = []
        self.en: list[str] = []

    def begin(self, moment: datetime, *, restart: AdjustmentRule | None = None) -> None:
        rule, local = self.rule, _local(moment)
        if restart is not None:
            self.zh.append(f"{_fmt(local)} {restart.name_zh}，依{restart.basis.text_zh}重新计算")
            self.en.append(f"{_fmt(local)} {restart.name_en}: counted afresh under {restart.basis.text_en}")
        if rule.unit is PeriodUnit.HOURS:
            if rule.start_mode is StartMode.EXACT:
                self.origin = local
                self.zh.append(f"自 {_fmt(local)} 起算 {rule.amount_zh}（精确到分钟）")
                self.en.append(f"counted from {_fmt(local)}, {rule.amount_en} to the minute")
            else:
                self.origin = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
                self.zh.append(f"{_fmt(local)} 所在之时不计入，自 {_fmt(self.origin)} 起算 {rule.amount_zh}")
                self.en.append(f"the hour of {_fmt(local)} is not counted; {rule.amount_en} "
                               f"counted from {_fmt(self.origin)}")
            self.end = self.origin + timedelta(hours=rule.amount)
            return
        first = local.date() + timedelta(days=1)
        self.origin = datetime(first.year, first.month, first.day, tzinfo=CHINA_TZ)
        if rule.unit is PeriodUnit.DAYS:
            self.last_day = first + timedelta(days=int(rule.amount) - 1)
        else:
            whole = int(rule.amount)
            self.last_day = add_months(local.date(), whole)
            if rule.amount - whole:
                self.last_day += timedelta(days=15)
        self.end = _end_of(self.last_day)
        self.zh.append(f"自 {first.isoformat()} 起算 {rule.amount_zh}")
        self.en.append(f"{rule.amount_en} counted from {first.isoformat()}")

    def pause(self, moment: datetime, reason: AdjustmentRule, number: int) -> None:
        local = _local(moment)
        assert self.end is not None
        if moment >= self.end:
            raise Invalid(f"第 {number} 项调整：{_fmt(local)} 期间已届满，不能再扣除",
                          f"adjustment {number}: the period had already ended at {_fmt(local)}",
                          details={"field": "adjustments", "index": number})
        if self.rule.unit is PeriodUnit.HOURS:
            self.paused_left = self.end - max(moment, self.origin)
            left_zh = _duration_zh(self.paused_left)
            left_en = _duration_en(self.paused_left)
        else:
            assert self.last_day is not None
            self.paused_left_days = (self.last_day - local.date()).days
            left_zh, left_en = f"{self.paused_left_days} 日", f"{self.paused_left_days} days"
        self.zh.append(f"{_fmt(local)} 起{reason.name_zh}不计入期限（{reason.basis.text_zh}），尚余 {left_zh}")
        self.en.append(f"from {_fmt(local)} the {reason.name_en.lower()} is not counted ({reason.basis.text_en}); "
                       f"{left_en} left")
        self.end = None

    def resume(self, moment: datetime) -> None:
        local = _local(moment)
        if self.rule.unit is PeriodUnit.HOURS:
            assert self.paused_left is not None
            self.origin = local
            self.end = local + self.paused_left
            self.zh.append(f"{_fmt(local)} 恢复计算，余 {_duration_zh(self.paused_left)}")
            self.en.append(f"resumed at {_fmt(local)} with {_duration_en(self.paused_left)} left")
            self.paused_left = None
            return
        assert self.paused_left_days is not None
        first = local.date() + timedelta(days=1)
        self.origin = datetime(first.year, first.month, first.day, tzinfo=CHINA_TZ)
        self.last_day = local.date() + timedelta(days=self.paused_left_days)
        self.end = _end_of(self.last_day)
        self.zh.append(f"{local.date().isoformat()} 恢复计算，"
                       f"自 {first.isoformat()} 起计余下 {self.paused_left_days} 日")
        self.en.append(f"resumed on {local.date().isoformat()}: the {self.paused_left_days} days left "
                       f"counted from {first.isoformat()}")
        self.paused_left_days = None


def _duration_zh(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    return f"{hours} 小时 {rest} 分" if rest else f"{hours} 小时"


def _duration_en(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} hours"


def _find(options: Sequence[AdjustmentRule], code: str) -> AdjustmentRule | None:
    return next((o for o in options if o.code == code), None)


def deadline(rule: StatutoryRule | str, start: datetime, adjustments: Iterable[ClockEvent],
             calendar: WorkCalendar) -> StatutoryDeadline:
    """When ``rule``'s period (a rule, or the code of a shipped one), started at ``start`` and
    adjusted by ``adjustments`` (pauses, resumptions and restarts, in order), ends on
    ``calendar`` — with the reasoning in words.

    Refused (422, naming the event) when an event is out of order, names an exclusion or a
    restart the rule does not declare, pauses a paused clock, resumes a running one, or pauses a
    period that had already ended. While an exclusion runs there is no deadline (``paused``).
    """
    if isinstance(rule, str):
        rule = get_rule(rule)
    run = _Run(rule)
    events = list(adjustments)
    run.begin(start)
    previous = start
    paused_by: AdjustmentRule | None = None
    for number, event in enumerate(events, start=1):
        where_zh, where_en = f"第 {number} 项调整", f"adjustment {number}"
        if event.at < previous:
            raise Invalid(f"{where_zh}：时间早于前一事件", f"{where_en}: earlier than the event before it",
                          details={"field": "adjustments", "index": number})
        previous = event.at
        if event.kind is EventKind.PAUSE:
            reason = _find(rule.exclusions, event.reason)
            if reason is None:
                raise Invalid(f"{where_zh}：本期间没有可扣除的“{event.reason}”",
                              f"{where_en}: the rule allows no exclusion {event.reason!r}",
                              details={"field": "adjustments", "index": number})
            if paused_by is not None:
                raise Invalid(f"{where_zh}：期间已暂停", f"{where_en}: the clock is already paused",
                              details={"field": "adjustments", "index": number})
            run.pause(event.at, reason, number)
            paused_by = reason
        elif event.kind is EventKind.RESUME:
            if paused_by is None:
                raise Invalid(f"{where_zh}：期间未暂停，无从恢复", f"{where_en}: the clock is not paused",
                              details={"field": "adjustments", "index": number})
            run.resume(event.at)
            paused_by = None
        else:
            restart = _find(rule.restarts, event.reason)
            if restart is None:
                raise Invalid(f"{where_zh}：本期间没有“{event.reason}”重新计算的规定",
                              f"{where_en}: the rule allows no restart {event.reason!r}",
                              details={"field": "adjustments", "index": number})
            paused_by = None
            run.paused_left = run.paused_left_days = None
            run.begin(event.at, restart=restart)

    if paused_by is not None:
        run.zh.append("扣除期间尚未结束，期限暂停计算")
        run.en.append("the excluded period is still running: the clock is stopped")
        return StatutoryDeadline(rule=rule, due_at=None, counting_from=run.origin.astimezone(UTC), paused=True,
                                 remaining_days=run.paused_left_days, remaining=run.paused_left,
                                 steps_zh=tuple(run.zh), steps_en=tuple(run.en))

    assert run.end is not None
    if rule.unit is PeriodUnit.HOURS:
        end_local = run.end.astimezone(CHINA_TZ)
        run.zh.append(f"至 {_fmt(end_local)} 届满")
        run.en.append(f"ends at {_fmt(end_local)}")
        return StatutoryDeadline(rule=rule, due_at=run.end.astimezone(UTC), counting_from=run.origin.astimezone(UTC),
                                 paused=False, steps_zh=tuple(run.zh), steps_en=tuple(run.en))

    assert run.last_day is not None
    nominal = last = run.last_day
    assumed: set[int] = set()

    def working(day: date) -> bool:
        if day.year not in calendar.known_years:
            assumed.add(day.year)
        return calendar.is_working_day(day)

    if working(nominal):
        run.zh.append(f"至末日 {nominal.isoformat()} 24:00 届满")
        run.en.append(f"ends at 24:00 on the last day, {nominal.isoformat()}")
    else:
        kind_zh = "法定节假日" if nominal in calendar.holidays else "休息日"
        kind_en = "a public holiday" if nominal in calendar.holidays else "a rest day"
        if rule.holidays is HolidayMode.CUSTODY:
            run.zh.append(f"末日 {_md(nominal)} 为{kind_zh}，但在押期间不因节假日延长（刑事诉讼法第105条第4款），"
                          f"至 {nominal.isoformat()} 24:00 届满")
            run.en.append(f"the last day, {_md(nominal)}, is {kind_en}, but a custody period is never extended "
                          f"for holidays (CPL Art. 105(4)): ends at 24:00 on {nominal.isoformat()}")
        else:
            for _ in range(MAX_ROLL_DAYS):
                last += timedelta(days=1)
                if working(last):
                    break
            else:
                raise ValueError(f"no working day within {MAX_ROLL_DAYS} days after {nominal}")
            after = "节后" if nominal in calendar.holidays else "其后"
            run.zh.append(f"末日 {_md(nominal)} 为{kind_zh}，顺延至{after}第一日 {_md(last)} 24:00")
            run.en.append(f"the last day, {_md(nominal)}, is {kind_en}: the period ends on the first day after it, "
                          f"{_md(last)}, at 24:00")
    return StatutoryDeadline(rule=rule, due_at=_end_of(last), counting_from=run.origin.astimezone(UTC), paused=False,
                             last_day=last, nominal_last_day=nominal, steps_zh=tuple(run.zh), steps_en=tuple(run.en),
                             assumed_years=frozenset(assumed))
