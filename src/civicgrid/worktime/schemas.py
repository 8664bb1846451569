"""Bodies of the working-calendar API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


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
