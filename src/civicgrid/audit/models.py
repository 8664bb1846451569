"""The audit chain table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime


class AuditEntry(Base):
    """One link of a chain: who did what to which record, before and after, and the hashes that
    tie it to the link before it in the same chain. Rows are only ever inserted (triggers refuse
    the rest). Each county-level unit has its own chain (its 6-digit code) and the city one more
    (``city``: city-level records and entries tied to no division, such as logins), so writes in
    different counties never wait for each other; ``seq`` counts within the chain."""

    __tablename__ = "audit_log"
    __scope_column__ = "division_code"
    __audit__ = False

    chain: Mapped[str] = mapped_column(String(12), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    entity_type: Mapped[str] = mapped_column(String(64), nullable=False)
    entity_id: Mapped[str | None] = mapped_column(String(64))
    division_code: Mapped[str | None] = mapped_column(String(15), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)


class AuditPurgePermit(Base):
    """Lets the append-only trigger pass the deletion of entries up to ``through_seq``. Only
    ``civicgrid audit purge`` writes one, and removes it in the same transaction, so no other
    transaction ever sees it (on PostgreSQL the application's role may not touch this table)."""

    __tablename__ = "audit_purge_permits"
    __audit__ = False

    chain: Mapped[str] = mapped_column(String(12), primary_key=True)
    through_seq: Mapped[int] = mapped_column(Integer, nullable=False)
