"""The outbox: every domain event published, and every delivery of one to a consumer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.ids import new_id


class DomainEvent(Base):
    """One fact a module published for others (``matters.dispute_reported`` …): written in the
    transaction that caused it, so it exists exactly when that transaction commits. ``payload``
    is the contract's fields as JSON (:mod:`civicgrid.events.contracts`)."""

    __tablename__ = "domain_events"
    __unscoped__ = "the outbox is read by the delivery worker for the system; consumers keep their own scoped records"
    __table_args__ = (Index("ix_domain_events_name_created_at", "name", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    entity_type: Mapped[str] = mapped_column(String(64), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(64), nullable=False)
    division_code: Mapped[str | None] = mapped_column(String(15), index=True)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    @property
    def data(self) -> dict[str, Any]:
        return dict(json.loads(self.payload))


class EventDelivery(Base):
    """An event handed to one consumer: written in the same transaction as the consumer's work,
    so a delivery and its effects commit together, once."""

    __tablename__ = "event_deliveries"
    __unscoped__ = "delivery bookkeeping of the outbox, read only by the delivery worker"
    __table_args__ = (UniqueConstraint("event_id", "consumer", name="uq_event_deliveries_event_consumer"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(String(32), ForeignKey("domain_events.id"), nullable=False)
    consumer: Mapped[str] = mapped_column(String(64), nullable=False)
    division_code: Mapped[str | None] = mapped_column(String(15))
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
