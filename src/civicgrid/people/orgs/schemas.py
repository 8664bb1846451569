"""Request and response bodies of the org-unit API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

DIVISION = r"^\d{12}$"
GRID = r"^\d{15}$"


class OrgUnitTypeRead(BaseModel):
    code: str
    name: str
    name_zh: str
    name_en: str
    group: str
    mobile: bool


class OrgUnitCreate(BaseModel):
    """A new unit, placed in the division tree, optionally under a parent unit."""

    name: str = Field(min_length=1, max_length=100)
    type_code: str = Field(min_length=1, max_length=40)
    division_code: str = Field(pattern=DIVISION, description="12-digit division code where the unit sits")
    parent_id: str | None = Field(default=None, max_length=32)


class OrgUnitUpdate(BaseModel):
    """Fields to change; those left out stay. ``current_grid_code`` moves a unit (a patrol
    platform) to the grid it is in now."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    type_code: str | None = Field(default=None, min_length=1, max_length=40)
    parent_id: str | None = Field(default=None, max_length=32)
    current_grid_code: str | None = Field(default=None, pattern=GRID)


class AreaSummary(BaseModel):
    kind: str | None = Field(description="null (scoped by its division), 'grids' or 'polygon'")
    grid_count: int
    version: int
    updated_at: datetime | None


class OrgUnitRead(BaseModel):
    id: str
    name: str
    type_code: str
    type_name: str
    division_code: str
    division_name: str | None
    parent_id: str | None
    area: AreaSummary
    current_grid_code: str | None
    current_grid_at: datetime | None
    demo: bool
    created_at: datetime
    updated_at: datetime


class OrgUnitPage(BaseModel):
    items: list[OrgUnitRead]
    total: int
    offset: int
    limit: int


class AreaSet(BaseModel):
    """A responsibility area: an explicit list of 15-digit grid codes, or a GeoJSON Polygon /
    MultiPolygon (WGS-84) snapped to the grids whose representative point lies inside it. Both
    empty/absent clears the area (the unit is scoped by its division again)."""

    grids: list[str] | None = Field(default=None, max_length=5000)
    polygon: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> AreaSet:
        if self.grids is not None and self.polygon is not None:
            raise ValueError("give either grids or polygon, not both")
        return self


class AreaRead(BaseModel):
    unit_id: str
    kind: str | None
    version: int
    polygon: dict[str, Any] | None
    grids: list[str]
    whole_villages: list[str] = Field(description="Villages every grid of which lies in the area")


class DepartmentCreate(BaseModel):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1, max_length=100)
    matter_type_code: str | None = Field(default=None, max_length=40)


class DepartmentRead(BaseModel):
    id: str
    unit_id: str
    code: str
    name: str
    matter_type_code: str | None
    created_at: datetime


class MembershipSet(BaseModel):
    """The org unit an account belongs to (null: none)."""

    org_unit_id: str | None = Field(default=None, max_length=32)


class MembershipRead(BaseModel):
    user_id: str
    org_unit_id: str | None
