"""What the inbox API returns."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class InboxItemRead(BaseModel):
    """One item; ``title`` and ``body`` in the reader's language, both languages beside them."""

    id: str
    kind: str = Field(description="notification | order | callout | escalation")
    title: str
    body: str
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    link_type: str | None = Field(description="What the console opens (matter …)")
    link_id: str | None
    division_code: str | None
    needs_ack: bool
    escalation: str = Field(description="none | repushed | raised | acknowledged")
    repushes: int
    source_item_id: str | None = Field(description="For an escalation: the item that was not acknowledged")
    created_at: datetime
    read_at: datetime | None
    acknowledged_at: datetime | None


class InboxPage(BaseModel):
    """Items and the cursor to ask ``since`` next time; the caller's counts."""

    items: list[InboxItemRead]
    cursor: str | None = Field(description="Pass as ?since= to get only what arrives after this answer")
    unread: int
    pending_ack: int


class InboxCounts(BaseModel):
    unread: int
    pending_ack: int


class MarkedRead(BaseModel):
    marked: int
