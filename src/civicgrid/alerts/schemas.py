"""Warning payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ReasonRead(BaseModel):
    zh: str
    en: str


class AlertTimelineRead(BaseModel):
    seq: int
    action: str
    from_status: str | None
    to_status: str
    actor_name: str
    at: datetime
    note: str | None
    data: dict[str, Any] | None = None


class AlertRead(BaseModel):
    id: str
    rule_code: str
    rule_name: str
    legal_basis: str | None
    level: str
    status: str
    source_type: str
    source_id: str
    source_label: str | None
    reasons: list[ReasonRead]
    division_code: str
    division_name: str | None = Field(None, description="The owner's division, by name")
    origin_code: str
    raised_at: datetime
    ack_due_at: datetime
    acknowledged_at: datetime | None
    closed_at: datetime | None
    action_taken: str | None
    withdraw_reason: str | None
    allowed_actions: list[str] = []


class AlertDetailRead(AlertRead):
    timeline: list[AlertTimelineRead]


class AlertPage(BaseModel):
    total: int
    items: list[AlertRead]


class AlertAction(BaseModel):
    note: str | None = Field(None, max_length=2000, description="Required for handle (the action taken), "
                                                               "escalate and withdraw")
    reason: str | None = Field(None, description="withdraw only: late_data, lawful_exception, duplicate, "
                                                 "source_closed or other")


class AlertCreate(BaseModel):
    rule_name: str = Field(min_length=1, max_length=100, description="What the warning is about, zh-CN")
    level: str = Field(pattern="^(blue|yellow|orange|red)$")
    reasons: list[str] = Field(min_length=1, max_length=10, description="Why, in words")
    division_code: str = Field(pattern=r"^\d{12}$|^\d{15}$")
    source_type: str = Field("manual", max_length=48)
    source_id: str | None = Field(None, max_length=64)
    legal_basis: str | None = Field(None, max_length=300)


class CountyFigures(BaseModel):
    county: str
    county_name: str | None
    total: int
    by_status: dict[str, int]


class RuleFigures(BaseModel):
    rule_code: str
    rule_name: str
    total: int
    by_status: dict[str, int]


class AlertFigures(BaseModel):
    total: int
    by_status: dict[str, int]
    by_level: dict[str, int]
    open_by_level: dict[str, int]
    withdrawn: int
    by_rule: list[RuleFigures]
    by_county: list[CountyFigures]


class WithdrawReasonRead(BaseModel):
    code: str
    name: str
