"""What the figures endpoints answer."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class SettledShare(BaseModel):
    """Closed matters settled at one level, and their share of all closed ones."""

    count: int
    share: float | None = Field(description="count ÷ closed; null when nothing was closed")


class LevelRate(BaseModel):
    """One of the three settled-level rates, with what it divides (docs/figures.md)."""

    key: str = Field(description="in_village | in_township | not_escalated")
    name: str = Field(description="小事不出村 / 大事不出乡镇 / 矛盾不上交, in the caller's language")
    numerator: int | None
    denominator: int | None
    rate: float | None = Field(description="numerator ÷ denominator; null when the denominator is 0 or the "
                                           "rate is not available")
    definition: str = Field(description="what is counted, in words")
    available: bool = True


class FiguresRead(BaseModel):
    """The matter figures of one division over an inclusive range of local dates
    (definitions: docs/figures.md). Rates are fractions 0–1; null when the denominator is 0."""

    division: str = Field(description="12-digit division code or 15-digit grid code")
    name: str | None
    date_from: date
    date_to: date
    received: int = Field(description="受理数: reported in the range")
    received_void: int = Field(description="of those, now rejected or cancelled")
    received_closed: int = Field(description="of those, now closed")
    closed: int = Field(description="办结数: closed in the range")
    closed_on_time: int
    closed_reworked: int
    closure_rate: float | None = Field(description="办结率 = received_closed ÷ (received − received_void)")
    on_time_rate: float | None = Field(description="按期办结率 = closed_on_time ÷ closed")
    rework_rate: float | None = Field(description="返工率 = closed_reworked ÷ closed")
    avg_handling_hours: float | None = Field(description="平均办理时长: mean closed_at − dispatched_at, hours")
    handled_count: int = Field(description="closed matters that were dispatched (the mean's denominator)")
    satisfaction: float | None = Field(description="满意度: mean 1–5 over evaluated closed matters")
    satisfaction_count: int
    not_rated: int = Field(0, description="未评价: closed in the range without a rating (the reporter did not rate, "
                           "or could not be reached) = closed − satisfaction_count; never filled in by anyone else")
    settled: dict[str, SettledShare] = Field(description="化解层级: village, township, county, city")
    rates: list[LevelRate] = Field(default_factory=list,
                                   description="小事不出村, 大事不出乡镇, 矛盾不上交 with numerators and denominators")


class FiguresByChildren(BaseModel):
    """A division's figures and those of each child division (for charts by county, township…)."""

    division: FiguresRead
    children: list[FiguresRead]


class TrendRead(BaseModel):
    """The figures of one division per week or month (each period's dates inclusive)."""

    division: str
    name: str | None
    step: str = Field(description="week (Monday to Sunday) or month")
    periods: list[FiguresRead]


class TypeFigures(BaseModel):
    category: str
    category_name: str
    type_code: str
    type_name: str
    received: int = Field(description="reported in the range")
    closed: int = Field(description="closed in the range")
    on_time: int = Field(description="closed in the range and never overdue")
    overdue_open: int = Field(description="reported in the range, still open, and ran late")


class BreakdownRead(BaseModel):
    """A division's matters by category and type over a range of local dates."""

    division: str
    name: str | None
    date_from: date
    date_to: date
    types: list[TypeFigures]
