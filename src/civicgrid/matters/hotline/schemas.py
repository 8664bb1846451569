"""Bodies of the 12345 hotline interface (docs/api/clients.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator


class TicketIn(BaseModel):
    """One hotline ticket: the hotline's own number, the request type, what and where."""

    ticket_number: str = Field(min_length=1, max_length=64, description="The hotline's ticket number (工单编号)")
    request_type: str = Field(
        min_length=1,
        max_length=16,
        description="consultation/help/complaint/report/suggestion, or 咨询/求助/投诉/举报/建议",
    )
    type_code: str = Field(min_length=1, max_length=16, description="Matter type of the catalogue (三张清单)")
    title: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=4000)
    lng: float = Field(ge=-180, le=180, description="WGS-84")
    lat: float = Field(ge=-90, le=90, description="WGS-84")
    address: str | None = Field(default=None, max_length=200)
    caller_name: str | None = Field(default=None, max_length=64)
    caller_phone: str | None = Field(default=None, max_length=32)


class TicketBatch(BaseModel):
    """Up to 200 tickets; each is checked on its own (a bad one is refused, the others applied)."""

    tickets: list[dict[str, Any]] = Field(
        min_length=1, max_length=200, description="TicketIn objects (checked one by one)"
    )


class ReturnVisitIn(BaseModel):
    """The hotline's return visit (回访) of a closed ticket: the caller's satisfaction."""

    visit_id: str = Field(min_length=1, max_length=64, description="The hotline's id of the visit")
    ticket_number: str = Field(min_length=1, max_length=64)
    satisfaction: int | None = Field(default=None, ge=1, le=5,
                                     description="1 very dissatisfied … 5 very satisfied; none when not reached")
    reached: bool = Field(default=True, description="false: the caller could not be reached — recorded as "
                          "not rated (未评价), never filled in")
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _rating_only_when_reached(self) -> ReturnVisitIn:
        if self.reached and self.satisfaction is None:
            raise ValueError("satisfaction is required when the caller was reached")
        if not self.reached and self.satisfaction is not None:
            raise ValueError("an unreached caller gives no satisfaction: leave it out")
        return self


class ReturnVisitBatch(BaseModel):
    visits: list[dict[str, Any]] = Field(
        min_length=1, max_length=200, description="ReturnVisitIn objects (checked one by one)"
    )


class TicketRead(BaseModel):
    """What the hotline reads back about one of its tickets (no personal data)."""

    ticket_number: str
    matter_id: str
    number: str
    request_type: str | None
    request_type_name: str | None
    status: str
    division_code: str
    reported_at: datetime
    status_changed_at: datetime
    closed_at: datetime | None
    result: str | None
    satisfaction: int | None


class HandedBackRead(BaseModel):
    """A ticket a unit returned to the hotline (退回热线), from the outbox; ``id`` is the cursor."""

    id: str
    ticket_number: str
    matter_id: str
    number: str
    reason: str
    handed_back_at: datetime


class ExtendedRead(BaseModel):
    """延期告知: a ticket whose time limit was extended, from the outbox; ``id`` is the cursor."""

    id: str
    ticket_number: str
    matter_id: str
    number: str
    days: int
    step_due_at: datetime
    reason: str
    extended_at: datetime


class ExtendedPage(BaseModel):
    items: list[ExtendedRead]
    next_after: str | None


class HandedBackPage(BaseModel):
    items: list[HandedBackRead]
    next_after: str | None
