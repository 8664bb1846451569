"""Matters, the catalogue they are routed by, and what hangs off a matter."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.ids import new_id
from civicgrid.kit.personal import Personal

# The associated data of the reporter's phone and name (kept when a column is renamed).
REPORTER_PHONE_CONTEXT = "matters.reporter_phone"


class Level(StrEnum):
    """The four levels that own and settle matters (市县乡村四级), lowest first."""

    VILLAGE = "village"
    TOWNSHIP = "township"
    COUNTY = "county"
    CITY = "city"


LEVELS: tuple[Level, ...] = (Level.VILLAGE, Level.TOWNSHIP, Level.COUNTY, Level.CITY)


class ListKind(StrEnum):
    """Which of the three lists (三张清单) a matter type belongs to."""

    POWER = "power"  # 权力清单
    RESPONSIBILITY = "responsibility"  # 责任清单
    SERVICE = "service"  # 公共服务清单


class Channel(StrEnum):
    """Where a report came from."""

    GRID_WORKER = "grid_worker"
    RESIDENT = "resident"
    HOTLINE = "hotline"  # 12345
    VOLUNTEER = "volunteer"
    OPEN311 = "open311"


REQUEST_TYPES: dict[str, tuple[str, str]] = {
    "consultation": ("咨询", "consultation"),
    "help": ("求助", "request for help"),
    "complaint": ("投诉", "complaint"),
    "report": ("举报", "report of wrongdoing"),
    "suggestion": ("建议", "suggestion"),
}
"""The request types a 12345 hotline files its tickets under, by code: (zh, en)."""


class CatalogueVersion(Base):
    """One published version of the catalogue. A change makes a new version; matters keep the
    version (and so the limits) they started with."""

    __tablename__ = "matter_catalogue_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    note: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    is_current: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class MatterType(Base):
    """A matter type of one catalogue version: who owns it, which list it is on, its time limits.

    ``limits`` is JSON: ``{"accept": [2, "working_hours"], "handle": [3, "working_days"],
    "verify": [1, "working_days"]}`` (units from :class:`civicgrid.worktime.arith.Unit`).
    """

    __tablename__ = "matter_types"
    __table_args__ = (UniqueConstraint("version", "code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(ForeignKey("matter_catalogue_versions.version"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(16), nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    category_zh: Mapped[str] = mapped_column(String(32), nullable=False)
    category_en: Mapped[str] = mapped_column(String(64), nullable=False)
    name_zh: Mapped[str] = mapped_column(String(64), nullable=False)
    name_en: Mapped[str] = mapped_column(String(128), nullable=False)
    owner_level: Mapped[str] = mapped_column(String(16), nullable=False)
    department: Mapped[str] = mapped_column(String(64), nullable=False)
    department_en: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    list_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    limits: Mapped[str] = mapped_column(Text, nullable=False)
    auto_escalate: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    handoff: Mapped[str | None] = mapped_column(String(32))  # e.g. "disputes": handed to that module
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class Matter(Base):
    """A reported matter (事项): where it is, who owns it now, where it stands, how it ended.

    ``division_code`` is the owning unit (12-digit code of the village, township, county or
    city that owns it now); ``grid_code`` is where it happened. Scoping uses ``division_code``
    for owners and the grid for the levels below them.
    """

    __tablename__ = "matters"
    __scope_column__ = "division_code"  # and grid_code; the reporter sees their own
    __audit_redact__ = frozenset({"reporter_phone_hash"})
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_matters_division_status", "division_code", "status"),
        Index("ix_matters_grid_code", "grid_code"),
        Index("ix_matters_type_lat", "type_code", "lat", "reported_at"),  # duplicate candidates nearby
        Index("ix_matters_external_system_external_ref", "external_system", "external_ref", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    type_id: Mapped[str] = mapped_column(ForeignKey("matter_types.id"), nullable=False)
    type_code: Mapped[str] = mapped_column(String(16), nullable=False)
    catalogue_version: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    reporter_id: Mapped[str | None] = mapped_column(String(32), index=True)
    reporter_name: Mapped[str | None] = mapped_column(Personal("matters.reporter_name", "name"))
    reporter_phone: Mapped[str | None] = mapped_column(Personal(REPORTER_PHONE_CONTEXT, "phone"))
    reporter_phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    lng: Mapped[float] = mapped_column(Float, nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    grid_code: Mapped[str] = mapped_column(String(15), nullable=False)
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    owner_level: Mapped[str] = mapped_column(String(16), nullable=False)
    department: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    step: Mapped[str | None] = mapped_column(String(16))  # the timed step now running
    step_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    alert: Mapped[str] = mapped_column(String(8), nullable=False, default="none")  # none | yellow | red
    overdue: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # any step ever ran late
    escalations: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rework_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    settled_level: Mapped[str | None] = mapped_column(String(16))
    settled_division_code: Mapped[str | None] = mapped_column(String(15))
    result: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    evaluation_note: Mapped[str | None] = mapped_column(Text)
    duplicate_of: Mapped[str | None] = mapped_column(String(32))
    supervised: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    step_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the timed step began
    extension_days: Mapped[int | None] = mapped_column(Integer)  # a pending extension request (working days)
    reported_division_code: Mapped[str | None] = mapped_column(String(15))  # first owner, before any move
    # A record of an external system (the 12345 hotline's ticket): which system and its own number,
    # unique per system; and the caller's request type (咨询/求助/投诉/举报/建议, REQUEST_TYPES).
    external_system: Mapped[str | None] = mapped_column(String(32))
    external_ref: Mapped[str | None] = mapped_column(String(64))
    request_type: Mapped[str | None] = mapped_column(String(16))
    # 就地办结: settled on the spot by the grid's worker (verified by the owning unit, or drawn for a
    # supervisor's spot check: ``spot_check``, drawn at settlement with the configured share).
    on_spot: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    spot_check: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class MatterPhoto(Base):
    """A photo of a matter (at report, or of the result). The bytes, type, size and hash are a
    file of the store (``files.models.StoredFile``, owner ``matter``); this row says which stage
    of the matter it shows."""

    __tablename__ = "matter_photos"
    __scope_column__ = "division_code"  # read through its matter's scope

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    matter_id: Mapped[str] = mapped_column(ForeignKey("matters.id"), nullable=False, index=True)
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    stage: Mapped[str] = mapped_column(String(16), nullable=False)  # report | result | verify (核查照片)
    file_id: Mapped[str] = mapped_column(ForeignKey("stored_files.id"), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class DuplicateCandidate(Base):
    """Same type within 200 m and 24 h: linked for the acceptor to merge or keep."""

    __tablename__ = "matter_duplicates"
    __scope_column__ = "division_code"  # read through its matter's scope
    __table_args__ = (UniqueConstraint("matter_id", "candidate_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    matter_id: Mapped[str] = mapped_column(ForeignKey("matters.id"), nullable=False, index=True)
    candidate_id: Mapped[str] = mapped_column(ForeignKey("matters.id"), nullable=False)
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    distance_m: Mapped[float] = mapped_column(Float, nullable=False)
    decision: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")  # pending|merged|kept
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class SupervisionOrder(Base):
    """督办: a higher level orders the owner to settle a matter by a deadline of its own."""

    __tablename__ = "matter_supervision_orders"
    __scope_column__ = "division_code"  # read through its matter's scope

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    matter_id: Mapped[str] = mapped_column(ForeignKey("matters.id"), nullable=False, index=True)
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)  # the matter's owner
    issuer_id: Mapped[str] = mapped_column(String(32), nullable=False)
    issuer_division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")  # open | answered | overdue
    answer: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
