"""Registered Open311 clients and the service requests they filed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.ids import new_id


class Open311Client(Base):
    """A third-party application allowed to file service requests (市民端应用、第三方平台).

    The API key is shown once, when the client is created; only its keyed hash is stored
    (``key_hash``, never in the audit chain) beside the first characters (``key_prefix``) that let
    an administrator tell keys apart. ``division_code`` is the client's jurisdiction: it may file
    and read requests only for places under that code's prefix.
    """

    __tablename__ = "open311_clients"
    __scope_column__ = "division_code"
    __audit_redact__ = frozenset({"key_hash"})

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    contact: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    division_code: Mapped[str] = mapped_column(String(15), nullable=False, index=True)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    key_prefix: Mapped[str] = mapped_column(String(12), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Open311Request(Base):
    """Which client filed which matter: the attribution, the request token (retries with the same
    token return the first request) and the ``media_url`` the client sent (the matter keeps photos
    as files, not links)."""

    __tablename__ = "open311_requests"
    __scope_column__ = "grid_code"
    __table_args__ = (UniqueConstraint("client_id", "token"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    matter_id: Mapped[str] = mapped_column(ForeignKey("matters.id"), nullable=False, unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("open311_clients.id"), nullable=False)
    token: Mapped[str] = mapped_column(String(64), nullable=False)
    grid_code: Mapped[str] = mapped_column(String(15), nullable=False, index=True)
    media_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
