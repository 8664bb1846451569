"""Divisions (city → county → township → village), grids, and the log of geo imports.

Geometry is stored DB-neutrally as GeoJSON geometry text in WGS-84 longitude/latitude, so
the same schema runs on SQLite and PostgreSQL without PostGIS. Spatial questions are
answered in memory (shapely) by :mod:`civicgrid.geo.index`, which is rebuilt whenever an
import changes the data.

Reference rows are written in bulk by imports (thousands of rows with polygons), so the
models opt out of the per-row audit chain; every import records one audit event with the
counts, the changed codes and the SHA-256 of its input instead (see ``service``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.ids import new_id


class Division(Base):
    """An administrative division with its 12-digit statistical code (国家统计局统计用区划代码).

    ``level`` is city, county, township or village. ``lng``/``lat`` is a WGS-84 point (the seat
    of government where the source has one, converted from GCJ-02 on import); ``point_source``
    says where it came from (``amap``, ``datav`` or ``generated``). ``boundary`` is a GeoJSON
    geometry; ``boundary_generated`` marks outlines the demo generator drew.
    """

    __tablename__ = "divisions"
    __scope_column__ = "code"
    __audit__ = False
    __table_args__ = (
        # LIKE 'prefix%' can use a btree on PostgreSQL only with the pattern operator class.
        Index("ix_divisions_code_pattern", "code", postgresql_ops={"code": "varchar_pattern_ops"}),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    parent_code: Mapped[str | None] = mapped_column(String(12), index=True)
    urban_rural_code: Mapped[str | None] = mapped_column(String(3))
    lng: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    point_source: Mapped[str | None] = mapped_column(String(16))
    attr_source: Mapped[str | None] = mapped_column(String(32))
    # A statistical-only unit (开发区, 管理区) has no territory of its own in the published maps:
    # this names the county whose territory holds it, so maps and the grid layer place it there.
    host_code: Mapped[str | None] = mapped_column(String(12), index=True)
    boundary: Mapped[str | None] = mapped_column(Text)
    boundary_generated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class Grid(Base):
    """A grid (网格): the smallest unit of governance, the patch one grid worker covers.

    ``code`` is 15 digits: the village code plus a 3-digit sequence (GB/T 30428.1 style), so a
    grid falls inside every jurisdiction prefix of its village. ``kind`` is ``comprehensive``
    (综合网格) or ``dedicated`` (专属网格: a school, hospital, industrial park…). ``lng``/``lat`` is
    a point guaranteed inside the polygon (for labels and for dispatching to the grid).
    ``generated`` marks demo geometry drawn by the generator rather than imported.
    """

    __tablename__ = "grids"
    __scope_column__ = "code"
    __audit__ = False
    __table_args__ = (Index("ix_grids_code_pattern", "code", postgresql_ops={"code": "varchar_pattern_ops"}),)

    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    village_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("divisions.code"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="comprehensive")
    boundary: Mapped[str] = mapped_column(Text, nullable=False)
    lng: Mapped[float] = mapped_column(Float, nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    area_km2: Mapped[float] = mapped_column(Float, nullable=False)
    generated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class GeoImport(Base):
    """One import of reference geography: what was read (file name, SHA-256) and what changed.

    Its ``seq`` also versions the geography: the in-memory grid index rebuilds when the latest
    ``seq`` moves, so every app process picks up an import made by another one.
    """

    __tablename__ = "geo_imports"
    __audit__ = False

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # seq alone can repeat after a rolled-back import; the random id cannot.
    import_id: Mapped[str] = mapped_column(String(32), nullable=False, default=new_id)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
