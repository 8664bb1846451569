"""API clients of the platform and the records they sent (idempotency receipts)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.ids import new_id


class ApiClient(Base):
    """An external system allowed to send records (12345 hotline, 110, case-handling systems,
    the national petition system, Open311 applications).

    The key is shown once, at registration or rotation; only its keyed hash is stored
    (``key_hash``, redacted in the audit chain) beside its first characters (``key_prefix``).
    The client acts as its owning org unit (``org_unit_id``; Open311 clients registered before
    the platform registry have none) and is scoped by ``division_code``; ``record_kinds`` (JSON
    list) names what it may send.
    """

    __tablename__ = "api_clients"
    __scope_column__ = "division_code"
    __audit_redact__ = frozenset({"key_hash"})

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    contact: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    system_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    org_unit_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.id"))
    division_code: Mapped[str] = mapped_column(String(15), nullable=False, index=True)
    record_kinds: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    key_prefix: Mapped[str] = mapped_column(String(12), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiReceipt(Base):
    """One record an API client sent, by the sender's own id: the same id again returns the
    first result (``result_type``/``result_id``); ``payload_hash`` tells a retry from a
    different record under a reused id (409)."""

    __tablename__ = "api_receipts"
    __scope_column__ = "division_code"  # the client's division
    __table_args__ = (UniqueConstraint("client_id", "kind", "sender_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    sender_id: Mapped[str] = mapped_column(String(64), nullable=False)
    payload_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    result_type: Mapped[str | None] = mapped_column(String(40))
    result_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
