"""Routes of the geo domain (thin: permission, parameters, one service call)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.geo import service
from civicgrid.geo.schemas import DivisionRead, GridRead

router = APIRouter(prefix="/api/v1", tags=["geo"])

DivisionCode = Annotated[str, Path(pattern=r"^(\d{12}|\d{15})$",
                                   description="12-digit division code, or a 15-digit grid code (a leaf)")]
GridCode = Annotated[str, Path(pattern=r"^\d{15}$", description="15-digit grid code")]
MapCode = Annotated[str, Path(pattern=r"^(\d{12}|\d{15})$", description="12-digit division or 15-digit grid code")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Missing geo.read"},
    404: {"description": "Unknown, or outside the caller's jurisdiction"},
}


@router.get("/divisions/{code}", response_model=DivisionRead, responses=ERRORS)
def get_division(session: DbSession, code: DivisionCode,
    principal: Principal = Depends(require("geo.read"))) -> DivisionRead:
    """One division in the caller's jurisdiction."""
    return service.get_division(session, principal, code)


@router.get("/divisions/{code}/children", response_model=list[DivisionRead], responses=ERRORS)
def list_children(session: DbSession, code: DivisionCode,
    principal: Principal = Depends(require("geo.read"))) -> list[DivisionRead]:
    """The child divisions of a division (for the tree browser)."""
    return service.list_children(session, principal, code)


@router.get("/grids/locate", response_model=GridRead, responses=ERRORS)
def locate(session: DbSession, lng: Annotated[float, Query(ge=-180, le=180, description="WGS-84 longitude")],
    lat: Annotated[float, Query(ge=-90, le=90, description="WGS-84 latitude")],
    principal: Principal = Depends(require("geo.read"))) -> GridRead:
    """The grid holding a WGS-84 point, with its village, township, county and city."""
    return service.locate(session, principal, lng, lat)


@router.get("/grids/{code}", response_model=GridRead, responses=ERRORS)
def get_grid(session: DbSession, code: GridCode,
    principal: Principal = Depends(require("geo.read"))) -> GridRead:
    """One grid with its chain of divisions."""
    return service.get_grid(session, principal, code)


@router.get("/geo/{code}.geojson", responses={**ERRORS, 200: {"content": {"application/geo+json": {}}}})
def boundaries(session: DbSession, code: MapCode,
    outline: bool = Query(False, description="The division's own outline instead"),
    principal: Principal = Depends(require("geo.read"))) -> JSONResponse:
    """Outlines one level below a division, WGS-84 (city → counties … village → grids); a grid
    code gives that grid's own outline."""
    return JSONResponse(
        service.boundaries_geojson(session, principal, code, outline=outline),
        media_type="application/geo+json",
    )
