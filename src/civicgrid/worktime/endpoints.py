"""Routes of the working calendar: the known years, one year's days, importing a year (JSON,
CSV or Excel), and the warnings about years nobody has imported yet; statutory time's routes
are in ``statutory_endpoints`` and join them in ``router``."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.kit.errors import Invalid, NotFound
from civicgrid.kit.i18n import pick
from civicgrid.worktime import service, statutory_endpoints
from civicgrid.worktime.models import CalendarYear
from civicgrid.worktime.schemas import CalendarOverview, DayRead, GapRead, YearDetail, YearIn, YearRead

calendar_router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])

ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "Not logged in"},
                                           403: {"description": "Permission missing"},
                                           404: {"description": "Year not imported"},
                                           422: {"description": "A row is invalid (named)"}}
COLUMNS = ("date", "kind", "name")


def _year_read(y: CalendarYear) -> YearRead:
    return YearRead(year=y.year, source=y.source, holidays=y.holidays, workdays=y.workdays, updated_at=y.updated_at)


def _detail(session: DbSession, year: int) -> YearDetail:
    record = next((y for y in service.years(session) if y.year == year), None)
    if record is None:
        raise NotFound("日历年份", "calendar year")
    days = [DayRead(date=d.day, kind=d.kind, name=d.name) for d in service.days_of(session, year)]
    return YearDetail(**_year_read(record).model_dump(), days=days)


@calendar_router.get("/years", response_model=CalendarOverview, responses=ERRORS)
def list_years(session: DbSession,
               principal: Annotated[Principal, Depends(require("calendar.manage"))]) -> CalendarOverview:
    """The years whose arrangement is known, and the years deadlines ran into without one."""
    gaps = [GapRead(year=g.year, first_seen=g.first_seen, last_seen=g.last_seen, uses=g.uses,
                    message=pick(f"{g.year} 年的节假日安排尚未导入，期限按周一至周五计算（已用 {g.uses} 次）",
                                 f"The holiday arrangement of {g.year} is not imported: deadlines count "
                                 f"Monday-Friday ({g.uses} uses so far)"))
            for g in service.gaps(session)]
    return CalendarOverview(years=[_year_read(y) for y in service.years(session)], gaps=gaps)


@calendar_router.get("/years/{year}", response_model=YearDetail, responses=ERRORS)
def get_year(session: DbSession, year: int,
             principal: Annotated[Principal, Depends(require("calendar.manage"))]) -> YearDetail:
    """One year's holidays and adjusted working days."""
    return _detail(session, year)


@calendar_router.put("/years/{year}", response_model=YearDetail, responses=ERRORS)
def put_year(session: DbSession, year: int, body: YearIn,
             principal: Annotated[Principal, Depends(require("calendar.manage"))]) -> YearDetail:
    """Replace a year's arrangement; refused whole, naming the row, when any row is wrong."""
    rows = [service.DayRow(d.date, d.kind, d.name) for d in body.days]
    service.import_year(session, year, rows, source=body.source)
    return _detail(session, year)


def _parse_table(filename: str, content: bytes) -> list[service.DayRow]:
    """CSV (UTF-8, header date,kind,name) or XLSX (first sheet, same header) → rows; a bad cell
    is refused naming its row."""
    lines: list[list[Any]]
    if filename.lower().endswith(".xlsx") or content[:2] == b"PK":
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
        except Exception:
            raise Invalid("无法读取 Excel 文件", "Not a readable Excel workbook", details={"field": "file"}) from None
        lines = [list(r) for r in sheet.iter_rows(values_only=True)]
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid("CSV 应为 UTF-8 编码", "The CSV file must be UTF-8", details={"field": "file"}) from None
        try:
            # newline="": the csv module itself reads CRLF, LF and bare CR (old Mac, some Excel
            # exports) line ends; a StringIO that split lines first broke on a bare CR (500).
            lines = [list(r) for r in csv.reader(io.StringIO(text, newline=""))]
        except csv.Error as exc:
            raise Invalid(f"无法读取 CSV 文件：{exc}", f"Not a readable CSV file: {exc}",
                          details={"field": "file"}) from None
    if not lines or [str(c or "").strip().lower() for c in lines[0][:3]] != list(COLUMNS):
        raise Invalid("第 1 行应为表头 date,kind,name", "Row 1 must be the header date,kind,name",
                      details={"row": 1})
    rows: list[service.DayRow] = []
    for number, line in enumerate(lines[1:], start=2):
        cells = ([*list(line), None, None, None])[:3]
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        if any(isinstance(c, str) and "\x00" in c for c in cells):
            raise Invalid(f"第 {number} 行含有空字符（NUL）", f"Row {number} contains a NUL character",
                          details={"row": number})
        raw_day, kind, name = cells
        try:
            day = raw_day.date() if hasattr(raw_day, "date") else date.fromisoformat(str(raw_day).strip())
        except ValueError:
            raise Invalid(f"第 {number} 行：日期应为 YYYY-MM-DD", f"Row {number}: date must be YYYY-MM-DD",
                          details={"row": number, "field": "date"}) from None
        rows.append(service.DayRow(day, str(kind or "").strip(), str(name or "").strip()))
    return rows


@calendar_router.post("/years/{year}/upload", response_model=YearDetail, responses=ERRORS)
async def upload_year(session: DbSession, year: int, file: Annotated[UploadFile, File()],
                      principal: Annotated[Principal, Depends(require("calendar.manage"))],
                      source: Annotated[str, Form(min_length=1, max_length=128)] = "upload") -> YearDetail:
    """The same table as a CSV or Excel file (columns date, kind, name)."""
    content = await file.read()

    def apply() -> YearDetail:  # parsing the workbook and writing: off the event loop
        rows = _parse_table(file.filename or "", content)
        service.import_year(session, year, rows, source=source)
        return _detail(session, year)

    return await run_in_threadpool(apply)


# The worktime routes: the working calendar, and statutory time (法定期间).
router = APIRouter()
router.include_router(calendar_router)
router.include_router(statutory_endpoints.router)
