"""The metadata of a stored file; the bytes live in a backend (:mod:`civicgrid.files.backends`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.ids import new_id


class StoredFile(Base):
    """One stored file: the record it belongs to (``owner_type`` + ``owner_id``, e.g. a matter),
    the division it was filed under (the scope column), its kind (photo, voice, agreement,
    document), the content type recognised from its bytes, size, SHA-256 (checked on every
    read), and where its bytes are (``backend`` + ``storage_key``, content-addressed). Written
    through the ORM, so each upload is an audited ``create``."""

    __tablename__ = "stored_files"
    __scope_column__ = "division_code"  # or the owner's own rule (files.service.register_owner)
    __table_args__ = (Index("ix_stored_files_owner", "owner_type", "owner_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_type: Mapped[str] = mapped_column(String(32), nullable=False)
    owner_id: Mapped[str] = mapped_column(String(64), nullable=False)
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    backend: Mapped[str] = mapped_column(String(8), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(200), nullable=False)
    file_name: Mapped[str | None] = mapped_column(String(200))  # as uploaded, cleaned (Content-Disposition)
    created_by: Mapped[str | None] = mapped_column(String(32))  # user id; None for the system (migration, demo)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
