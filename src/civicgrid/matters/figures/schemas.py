"""What the figures endpoints answer."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class SettledShare(BaseModel):
    """Closed matters settled at one level, and their share of all closed ones."""

    count: int
    share: float | None = Field(description="count ÷ closed; null when nothing was closed")


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
    settled: dict[str, SettledShare] = Field(description="化解层级: village, township, county, city")


class FiguresByChildren(BaseModel):
    """A division's figures and those of each child division (for charts by county, township…)."""

    division: FiguresRead
    children: list[FiguresRead]
