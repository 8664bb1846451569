"""Routes of the matter figures (thin: permission, parameters, one service call).

Permission: ``matters.read`` — whoever may read the matters of a jurisdiction may read their
totals (the figures reveal nothing the list does not), grid workers included; the division must
lie inside the caller's jurisdiction, or the answer is 404.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.kit.excel import XLSX_MEDIA_TYPE, attachment_headers
from civicgrid.matters.figures import service
from civicgrid.matters.figures.export import figures_workbook
from civicgrid.matters.figures.schemas import BreakdownRead, FiguresByChildren, FiguresRead, TrendRead

router = APIRouter(prefix="/api/v1/figures", tags=["figures"])

Division = Annotated[str, Query(pattern=r"^(\d{12}|\d{15})$",
                                description="12-digit division code or 15-digit grid code")]
From = Annotated[date | None, Query(alias="from", description="first local date (Asia/Shanghai), inclusive; "
                                                              "default: the first of the month of 'to'")]
To = Annotated[date | None, Query(alias="to", description="last local date, inclusive; default: today")]
By = Annotated[Literal["children"] | None, Query(description="'children': also each child division")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Missing matters.read"},
    404: {"description": "Unknown division, or outside the caller's jurisdiction"},
    422: {"description": "Malformed code or dates, 'from' after 'to', range over ten years"},
}


@router.get("/matters", response_model=FiguresRead | FiguresByChildren, responses=ERRORS)
def matter_figures(session: DbSession, division: Division, day_from: From = None, day_to: To = None,
                   by: By = None, principal: Principal = Depends(require("matters.read"))
                   ) -> FiguresRead | FiguresByChildren:
    """Received, closed, closure rate, on-time rate, rework rate, handling time, satisfaction and
    settled-level shares of a division; with ``by=children`` also per child division."""
    if by == "children":
        return service.matter_figures_by_children(session, principal, division, day_from, day_to)
    return service.matter_figures(session, principal, division, day_from, day_to)


@router.get("/matters.xlsx", responses={**ERRORS, 200: {"content": {XLSX_MEDIA_TYPE: {}}}})
def matter_figures_xlsx(session: DbSession, division: Division, day_from: From = None, day_to: To = None,
                        by: By = None, principal: Principal = Depends(require("matters.read"))) -> Response:
    """The same figures as an Excel workbook (row 1 Chinese headers, row 2 English)."""
    if by == "children":
        result = service.matter_figures_by_children(session, principal, division, day_from, day_to)
        rows = [result.division, *result.children]
    else:
        rows = [service.matter_figures(session, principal, division, day_from, day_to)]
    first = rows[0]
    name = f"matter-figures-{division}-{first.date_from.isoformat()}-{first.date_to.isoformat()}.xlsx"
    return Response(figures_workbook(rows), media_type=XLSX_MEDIA_TYPE, headers=attachment_headers(name))


@router.get("/matters/trend", response_model=TrendRead, responses=ERRORS)
def matter_trend(session: DbSession, division: Division, day_from: From = None, day_to: To = None,
                 step: Annotated[Literal["week", "month"], Query(description="week (Mon–Sun) or month")] = "week",
                 principal: Principal = Depends(require("matters.read"))) -> TrendRead:
    """The same figures per week or month over the range (a trend chart's points)."""
    return service.trend(session, principal, division, day_from, day_to, step)


@router.get("/matters/breakdown", response_model=BreakdownRead, responses=ERRORS)
def matter_breakdown(session: DbSession, division: Division, day_from: From = None, day_to: To = None,
                     principal: Principal = Depends(require("matters.read"))) -> BreakdownRead:
    """Received, closed, on time and open-and-late per category and matter type over the range."""
    return service.breakdown(session, principal, division, day_from, day_to)
