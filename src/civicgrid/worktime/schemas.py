"""Bodies of the working-calendar API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field


class DayIn(BaseModel):
    """One day of a year's arrangement: a holiday on a weekday, or a working weekend day."""

    date: date
    kind: str = Field(description="holiday | workday")
    name: str = Field(default="", max_length=64)


class YearIn(BaseModel):
    """A year's arrangement as published by the State Council."""

    source: str = Field(min_length=1, max_length=128)
    days: list[DayIn]


class DayRead(BaseModel):
    date: date
    kind: str
    name: str


class YearRead(BaseModel):
    year: int
    source: str
    holidays: int
    workdays: int
    updated_at: datetime


class YearDetail(YearRead):
    days: list[DayRead]


class GapRead(BaseModel):
    """A year a deadline was counted in without a known arrangement (Monday–Friday assumed)."""

    year: int
    first_seen: datetime
    last_seen: datetime
    uses: int
    message: str


class CalendarOverview(BaseModel):
    years: list[YearRead]
    gaps: list[GapRead]


class CitationRead(BaseModel):
    """One article of one law; ``verified`` is false where it was not read in the primary text."""

    law_zh: str
    law_en: str
    version: str
    article: int
    paragraph: int | None
    text: str = Field(description="The citation in the caller's language")
    verified: bool
    note: str


class AdjustmentRuleRead(BaseModel):
    """An exclusion or a restart a rule allows."""

    code: str
    name: str
    name_zh: str
    name_en: str
    basis: CitationRead


class StatutoryRuleRead(BaseModel):
    """A statutory period a timed step can name."""

    code: str
    name: str
    name_zh: str
    name_en: str
    unit: str = Field(description="hours | days | months")
    amount: float
    amount_text: str
    start_mode: str = Field(description="exact | next_full_hour | next_day")
    holidays: str = Field(description="roll_forward | custody | none")
    basis: list[CitationRead]
    counting: CitationRead
    exclusions: list[AdjustmentRuleRead]
    restarts: list[AdjustmentRuleRead]
    verified: bool
    note: str


class ClockEventIn(BaseModel):
    """An adjustment: an exclusion begins (pause) or ends (resume), or the period restarts."""

    kind: Literal["pause", "resume", "restart"]
    at: AwareDatetime
    reason: str = Field(default="", max_length=64, description="The code of one of the rule's exclusions or restarts")


class StatutoryComputeIn(BaseModel):
    rule: str = Field(min_length=1, max_length=64)
    start: AwareDatetime
    adjustments: list[ClockEventIn] = Field(default_factory=list, max_length=50)


class StatutoryDeadlineRead(BaseModel):
    """When a statutory period ends, and why, in words."""

    rule: str
    rule_name: str
    due_at: datetime | None = Field(description="UTC; null while an exclusion runs")
    due_local: str | None = Field(description="The deadline in Asia/Shanghai, e.g. 2026-10-08 24:00")
    counting_from: datetime
    paused: bool
    last_day: date | None
    nominal_last_day: date | None
    remaining_days: int | None
    remaining_minutes: int | None
    explanation: str
    explanation_zh: str
    explanation_en: str
    verified: bool
    assumed_years: list[int]
