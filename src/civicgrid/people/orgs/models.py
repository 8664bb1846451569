"""Org units (机构), their departments and their responsibility areas (责任区).

A unit sits in the division tree (``division_code``, 12 digits) and may have a parent unit. A
unit whose duties do not follow the tree (a police station over parts of two townships, a patrol
platform along a corridor, a sector mediation committee serving a county) has a responsibility
area: a set of grids, given as a list of grid codes or as a polygon snapped to grids. The
resolved grids are rows of :class:`AreaGrid`, so scoping a request is a join, never geometry.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.clock import utcnow
from civicgrid.kit.ids import new_id


class Whereabouts:
    """Where a moving thing is now: the grid it was last reported in and when.

    A mixin for things that move inside a home area — org units of a mobile type (巡防平台) now;
    volunteers and patrol units when their modules land (they add ``home_unit_id``, a reference to
    the org unit whose responsibility area is their home area, and this mixin)."""

    current_grid_code: Mapped[str | None] = mapped_column(String(15), default=None)
    current_grid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class OrgUnit(Whereabouts, Base):
    """An org unit: 综治中心, 派出所, 司法所, 调解委员会, a government department….

    ``type_code`` names a type of ``data/org_unit_types.json``. ``area_kind`` is None (the unit is
    scoped by its division like everyone else), ``grids`` (an explicit list) or ``polygon`` (the
    drawn GeoJSON polygon, kept in ``area_polygon``, snapped to grids). ``area_version`` moves on
    every change of the area (the principal's cached copy of the area is keyed by it)."""

    __tablename__ = "org_units"
    __scope_column__ = "division_code"
    __table_args__ = (
        Index("ix_org_units_division_code", "division_code", postgresql_ops={"division_code": "varchar_pattern_ops"}),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    type_code: Mapped[str] = mapped_column(String(40))
    division_code: Mapped[str] = mapped_column(String(12))
    parent_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("org_units.id"), default=None, index=True)
    area_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    area_polygon: Mapped[str | None] = mapped_column(Text, default=None)
    area_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    area_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Department(Base):
    """A department inside a unit (e.g. a township's 综合执法办). ``matter_type_code`` is the
    matter type it owns, when the catalogue routes one to it (a code, since catalogue rows are
    versioned)."""

    __tablename__ = "org_unit_departments"
    __scope_column__ = "division_code"
    __table_args__ = (UniqueConstraint("unit_id", "code", name="uq_org_unit_departments_unit_id_code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    unit_id: Mapped[str] = mapped_column(String(32), ForeignKey("org_units.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    matter_type_code: Mapped[str | None] = mapped_column(String(40), default=None)
    # Copied from the unit: the row carries the code it is scoped and audited by.
    division_code: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AreaGrid(Base):
    """One grid of a unit's responsibility area (the resolved set). ``whole_village`` is true when
    every grid of the grid's village is in the area, so rows filed under that village are in it.

    Written in bulk when the area is set; the change is one ``orgs.area_set`` audit event (grids
    added and removed) rather than a row entry per grid."""

    __tablename__ = "org_unit_area_grids"
    __unscoped__ = "a unit's area, read with its unit (scoped) or by authentication and the scoping helper itself"
    __audit__ = False
    __table_args__ = (
        Index("ix_org_unit_area_grids_grid_code", "grid_code", "unit_id"),
        Index("ix_org_unit_area_grids_unit_village", "unit_id", "village_code"),
    )

    unit_id: Mapped[str] = mapped_column(String(32), ForeignKey("org_units.id", ondelete="CASCADE"),
                                         primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(15), primary_key=True)
    village_code: Mapped[str] = mapped_column(String(12))
    whole_village: Mapped[bool] = mapped_column(Boolean, default=False)
