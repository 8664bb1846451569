"""The service requests Open311 clients filed (the clients themselves are platform API clients,
:class:`civicgrid.apiclients.models.ApiClient` of kind ``open311``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.ids import new_id


class Open311Request(Base):
    """Which client filed which matter: the attribution, the request token (retries with the same
    token return the first request) and the ``media_url`` the client sent (the matter keeps photos
    as files, not links)."""

    __tablename__ = "open311_requests"
    __scope_column__ = "grid_code"
    __table_args__ = (UniqueConstraint("client_id", "token"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    matter_id: Mapped[str] = mapped_column(ForeignKey("matters.id"), nullable=False, unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"), nullable=False)
    token: Mapped[str] = mapped_column(String(64), nullable=False)
    grid_code: Mapped[str] = mapped_column(String(15), nullable=False, index=True)
    media_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
