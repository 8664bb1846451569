"""Pydantic shapes of the geo API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DivisionBrief(BaseModel):
    """A division as one link of a chain (village → township → county → city)."""

    code: str
    name: str
    level: str


class DivisionRead(BaseModel):
    """A division. ``lng``/``lat`` are WGS-84; ``point_source`` is ``amap``/``datav`` (converted
    from the published GCJ-02 point) or ``generated``; ``child_count`` counts child divisions
    in the caller's jurisdiction (for a village: its grids)."""

    code: str
    name: str
    level: str
    parent_code: str | None
    urban_rural_code: str | None
    lng: float | None
    lat: float | None
    point_source: str | None
    host_code: str | None = Field(
        None, description="For a statistical-only unit: the county whose territory holds it"
    )
    has_boundary: bool
    boundary_generated: bool
    child_count: int


class GridRead(BaseModel):
    """A grid with its chain of divisions, nearest first (village, township, county, city)."""

    code: str
    name: str
    kind: str
    village_code: str
    lng: float
    lat: float
    area_km2: float
    generated: bool
    chain: list[DivisionBrief]


class ImportReportRead(BaseModel):
    kind: str
    source: str
    digest: str
    created: int
    updated: int
    unchanged: int
    deleted: int = 0
