"""Inbox items: one row per recipient of a notification, an order or a call-out."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.ids import new_id


class Kind(StrEnum):
    """What an item is: a notice, an order to act (派单、督办), a call-out (一呼百应), or the raise
    of an unacknowledged item to a supervisor (上报主管)."""

    NOTIFICATION = "notification"
    ORDER = "order"
    CALLOUT = "callout"
    ESCALATION = "escalation"


class Escalation(StrEnum):
    """Where an item that needs acknowledgement stands: nothing yet, re-pushed (催办重推),
    raised to a supervisor (上报主管), acknowledged (确认收到)."""

    NONE = "none"
    REPUSHED = "repushed"
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"


class InboxItem(Base):
    """Something one user must see. Written in the transaction that causes it; its id is a
    time-ordered UUID, so ``id > cursor`` is "what came after" for a reconnecting client.

    ``division_code`` is where the linked thing belongs (a matter's owner unit);
    ``recipient_division_code`` is the recipient's own code at sending time (escalation walks up
    from it)."""

    __tablename__ = "inbox_items"
    __unscoped__ = "an item is read only by its recipient (recipient_id), whatever its division"
    __table_args__ = (
        Index("ix_inbox_items_recipient_id_id", "recipient_id", "id"),
        Index("ix_inbox_items_recipient_unread", "recipient_id", "read_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    recipient_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    recipient_division_code: Mapped[str] = mapped_column(String(15))
    kind: Mapped[str] = mapped_column(String(20))
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    body_zh: Mapped[str] = mapped_column(Text, default="", server_default="")
    body_en: Mapped[str] = mapped_column(Text, default="", server_default="")
    link_type: Mapped[str | None] = mapped_column(String(40), default=None)
    link_id: Mapped[str | None] = mapped_column(String(64), default=None)
    division_code: Mapped[str | None] = mapped_column(String(15), default=None)
    needs_ack: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sender_id: Mapped[str | None] = mapped_column(String(32), default=None)
    source_item_id: Mapped[str | None] = mapped_column(String(32), default=None)
    escalation: Mapped[str] = mapped_column(String(16), default=Escalation.NONE.value,
                                            server_default=Escalation.NONE.value)
    repushes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    raised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
