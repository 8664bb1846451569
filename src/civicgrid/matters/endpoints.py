"""Thin routes of the matters API (docs/api/matters.md): intake, queues, the closed loop,
photos, and the catalogue with its Excel import and export."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from civicgrid.audit.service import audit_export
from civicgrid.authz.dependencies import require, require_login
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession, reads_only, transaction
from civicgrid.files.endpoints import file_response
from civicgrid.kit.excel import attachment_headers
from civicgrid.kit.i18n import pick
from civicgrid.kit.pagination import Offset
from civicgrid.matters import callers, catalogue, intake, service
from civicgrid.matters.models import CatalogueVersion, MatterType
from civicgrid.matters.repository import MatterFilter
from civicgrid.matters.schemas import (
    CallerHistoryIn,
    CallerHistoryRead,
    CallerMatter,
    CatalogueVersionRead,
    HotlineExtensionRead,
    MatterCreate,
    MatterDetail,
    MatterPage,
    MatterPublic,
    MatterTypeIn,
    MatterTypeRead,
    MyReport,
    PhotoRead,
    PlaceCorrected,
    PlaceCorrectionIn,
    PrintIn,
    RevealIn,
    RevealRead,
    SatisfactionIn,
    StepLimit,
    TransitionIn,
    WithdrawIn,
)

router = APIRouter(prefix="/api/v1", tags=["matters"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"}, 403: {"description": "Permission missing"},
    404: {"description": "No such matter in your jurisdiction"}, 409: {"description": "Action not allowed now"},
    413: {"description": "Too large"}, 415: {"description": "Not an image"}, 422: {"description": "Invalid field"},
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _lang(request: Request) -> str | None:
    return getattr(request.state, "lang", None)


# ---------------------------------------------------------------- intake and queues


@router.post("/matters", response_model=MatterDetail | MatterPublic, status_code=201, responses=ERRORS)
@reads_only
async def report_matter(session: DbSession, request: Request, body: MatterCreate,
                        principal: Annotated[Principal, Depends(require("matters.report"))],
                        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> Response:
    """Report a matter. A retry with the same ``Idempotency-Key`` answers 200 with the matter the
    first request created (201 when this request created it). Anywhere in the city: a reporter
    outside the owner's jurisdiction gets the public view (``service.in_full_view``); the answer
    never lists duplicate candidates.

    The report goes to the intake's group commit (:mod:`civicgrid.matters.intake`): it is checked,
    written and committed together with the reports that arrive with it, by a writer thread,
    while this request waits without holding a worker thread."""
    report = intake.Report(principal, body, idempotency_key, session.info.get("actor"), session.info.get("ip"))
    engine = request.app.state.engine
    if service.settings().intake_group_commit:
        written = await intake.committer(engine).submit_async(report)
    else:
        written = await run_in_threadpool(_write_alone, engine, report)
    if written.created:
        return _json(service.answer_report(principal, written), 201)
    return _json(await run_in_threadpool(_fresh_detail, session, principal, written.matter.id), 200)


def _fresh_detail(session: Session, principal: Principal, matter_id: str) -> MatterDetail | MatterPublic:
    session.commit()  # the read transaction began before the matter was committed: look again
    return service.detail(session, principal, matter_id)


def _write_alone(engine: Engine, report: intake.Report) -> intake.Written:
    """One report in a transaction of its own (group commit switched off)."""
    with transaction(engine) as own:
        result = intake.write_reports(own, [report])[0]
    if isinstance(result, Exception):
        raise result
    return result


def _json(detail: MatterDetail | MatterPublic, status: int) -> Response:
    return Response(detail.model_dump_json(), status_code=status, media_type="application/json")


SEARCH_DOC = "Number, title or address words, or the reporter's phone (matched by its keyed hash)"
QUEUE_DOC = "mine (open, my unit's: what needs my action) | done (my unit's finished) | division | reported_by_me"


def queue_filter(
        status: str | None = None,
        overdue: Annotated[bool | None, Query(description="true: open matters that ran late (仅看超期)")] = None,
        q: Annotated[str | None, Query(max_length=100, description=SEARCH_DOC)] = None,
        unit: Annotated[str | None, Query(max_length=15, description="Owning unit: a division code")] = None,
        place: Annotated[str | None, Query(max_length=15, description="Where it happened: a division (12 digits) "
                                                                      "or grid (15 digits) code")] = None,
        type_code: Annotated[str | None, Query(max_length=16)] = None,
        category: Annotated[str | None, Query(max_length=32)] = None,
        channel: Annotated[str | None, Query(max_length=16)] = None,
        reported_from: Annotated[date | None, Query(description="Local date (Asia/Shanghai), included")] = None,
        reported_to: Annotated[date | None, Query(description="Local date (Asia/Shanghai), included")] = None,
        flag: Annotated[list[str] | None, Query(description="supervised, urged, rework, escalated, duplicate, "
                                                            "on_spot (就地办结), spot_check (抽查) "
                                                            "(repeat for several: all must hold)")] = None,
) -> MatterFilter:
    """The filters a queue page and its Excel export share."""
    return service.matter_filter(status=status, overdue=overdue, q=q, unit=unit, type_code=type_code,
                                 category=category, channel=channel, reported_from=reported_from,
                                 reported_to=reported_to, flags=flag or (), place=place)


@router.get("/matters", response_model=MatterPage, responses=ERRORS)
def list_matters(session: DbSession, principal: Annotated[Principal, Depends(require("matters.read"))],
                 filters: Annotated[MatterFilter, Depends(queue_filter)],
                 queue: Annotated[str, Query(description=QUEUE_DOC)] = "mine",
                 offset: Offset = 0,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> MatterPage:
    """A work queue: mine first, overdue on top, then the nearest deadline; filters and a search."""
    page = service.list_matters(session, principal, queue=queue, filters=filters, offset=offset, limit=limit)
    return MatterPage(items=service.with_names(session, [service.to_read(session, m, principal) for m in page.items]),
                      total=page.total, offset=offset, limit=limit)


@router.get("/my-reports", response_model=MatterPage, responses=ERRORS)
def my_reports(session: DbSession, principal: Annotated[Principal, Depends(require("matters.report"))],
               offset: Offset = 0, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> MatterPage:
    """The matters the caller reported, newest state first: whoever reports (volunteers and
    residents too, who read no queue) follows what became of their reports (issue 11 §1)."""
    page = service.list_matters(session, principal, queue="reported_by_me", offset=offset, limit=limit)
    return MatterPage(items=service.with_names(session, [service.to_read(session, m, principal) for m in page.items]),
                      total=page.total, offset=offset, limit=limit)


@router.get("/my-reports/{matter_id}", response_model=MyReport, responses=ERRORS)
def my_report(session: DbSession, request: Request, matter_id: str,
              principal: Annotated[Principal, Depends(require("matters.report"))]) -> MyReport:
    """One report as its reporter follows it: state, public notes, the rating given, and whether
    the caller may rate it (满意度, once closed) or withdraw it (撤回, within 10 minutes of
    reporting) — only ever the person who reported it."""
    return service.my_report(session, principal, matter_id, _lang(request))


@router.post("/my-reports/{matter_id}/satisfaction", response_model=MyReport, responses=ERRORS)
def rate_my_report(session: DbSession, request: Request, matter_id: str, body: SatisfactionIn,
                   principal: Annotated[Principal, Depends(require("matters.report"))]) -> MyReport:
    """满意度 (1–5) for a closed matter, from the person who reported it: 409 for anyone else
    (the handler included) and for a matter not closed yet or already rated."""
    service.rate(session, principal, matter_id, body.satisfaction, body.note)
    return service.my_report(session, principal, matter_id, _lang(request))


@router.post("/my-reports/{matter_id}/withdraw", response_model=MyReport, responses=ERRORS)
def withdraw_my_report(session: DbSession, request: Request, matter_id: str, body: WithdrawIn,
                       principal: Annotated[Principal, Depends(require("matters.report"))]) -> MyReport:
    """撤回: the reporter takes the report back while nobody has accepted it and within
    ``CIVICGRID_MATTER_WITHDRAW_MINUTES`` (10) of reporting; on the timeline; 409 otherwise."""
    service.withdraw(session, principal, matter_id, body.note)
    return service.my_report(session, principal, matter_id, _lang(request))


@router.post("/matters/{matter_id}/place", response_model=PlaceCorrected, responses=ERRORS)
def correct_place(session: DbSession, matter_id: str, body: PlaceCorrectionIn,
                  principal: Annotated[Principal, Depends(require("matters.read"))]) -> PlaceCorrected:
    """更正位置: the owning unit (or the reporter, before acceptance) moves a mis-located matter to
    the right point with a reason; it is re-routed (new grid → the type's owning unit there,
    which accepts it afresh) and the old and new places stay on the timeline."""
    return service.correct_place(session, principal, matter_id, lng=body.lng, lat=body.lat, address=body.address,
                                 reason=body.reason)


def _described(filters: MatterFilter) -> dict[str, Any]:
    """The filters as the audit entry records them (the phone never: only that one was searched)."""
    out = {k: v for k, v in filters.__dict__.items() if v not in (None, (), frozenset()) and k != "phone_hashes"}
    out["flags"] = sorted(filters.flags)
    if filters.phone_hashes:
        out["q"] = "(phone)"
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in out.items()}


@router.get("/matters.xlsx", responses={**ERRORS, 200: {"content": {XLSX: {}}}})
def export_matters(session: DbSession, request: Request,
                   principal: Annotated[Principal, Depends(require("matters.read"))],
                   filters: Annotated[MatterFilter, Depends(queue_filter)],
                   queue: Annotated[str, Query(description=QUEUE_DOC)] = "division") -> Response:
    """The queue as an Excel workbook, exactly what the page's filters show (Chinese and English
    headers; phone numbers masked). The export is recorded in the audit chain once the file has
    gone out."""
    content, rows = service.export_xlsx(session, principal, queue=queue, filters=filters)
    name = f"事项清单-{principal.jurisdiction}.xlsx"
    return Response(content, media_type=XLSX, headers=attachment_headers(name),
                    background=BackgroundTask(audit_export, request.app.state.engine, principal, "matters.export",
                                              {"queue": queue, "filters": _described(filters), "rows": rows}))


@router.get("/matters/{matter_id}", response_model=MatterDetail | MatterPublic, responses=ERRORS)
def get_matter(session: DbSession, matter_id: str,
               principal: Annotated[Principal, Depends(require("matters.read"))]) -> MatterDetail | MatterPublic:
    """A matter with its timeline, photos, duplicate candidates (for those who may accept it) and
    supervision orders; the public view for its reporter outside the jurisdiction."""
    return service.detail(session, principal, matter_id)


@router.post("/matters/{matter_id}/reveal", response_model=RevealRead, responses=ERRORS)
def reveal(session: DbSession, matter_id: str, body: RevealIn,
           principal: Annotated[Principal, Depends(require("pii.reveal"))]) -> RevealRead:
    """查看明文 — the reporter's name or phone in clear, for a stated purpose; one audit entry."""
    value = service.reveal_field(session, principal, matter_id, body.field, body.purpose)
    return RevealRead(id=matter_id, field=body.field, value=value)


@router.post("/matters/{matter_id}/print", response_class=HTMLResponse,
             responses={**ERRORS, 200: {"content": {"text/html": {}}}})
def print_sheet(session: DbSession, matter_id: str, body: PrintIn,
                principal: Annotated[Principal, Depends(require("pii.reveal"))]) -> HTMLResponse:
    """打印事项登记表 — the report sheet with the reporter in clear, under the viewer's watermark
    (name, username, time); printing is a reveal, recorded once in the audit chain."""
    page, number = service.print_report_sheet(session, principal, matter_id, body.purpose)
    return HTMLResponse(page, headers={"Content-Disposition": f'inline; filename="{number}.html"',
                                       "Cache-Control": "no-store"})


@router.post("/matters/{matter_id}/transitions", response_model=MatterDetail, responses=ERRORS)
def transition(session: DbSession, matter_id: str, body: TransitionIn,
               principal: Annotated[Principal, Depends(require("matters.read"))]) -> MatterDetail:
    """Perform an action; the action's own permission is checked by the transition table."""
    service.act(session, principal, matter_id, body.action, note=body.note, lng=body.lng, lat=body.lat,
                **body.extra())
    return service.full_detail(session, principal, matter_id)


# ---------------------------------------------------------------- photos


@router.post("/matters/{matter_id}/photos", response_model=PhotoRead, status_code=201, responses=ERRORS)
async def upload_photo(session: DbSession, matter_id: str, file: Annotated[UploadFile, File()],
                       principal: Annotated[Principal, Depends(require("matters.read"))],
                       stage: Annotated[str, Form()] = "report") -> PhotoRead:
    """Attach a JPEG, PNG or WebP photo (``stage`` report or result), kept in the file store; its
    ``url`` is ``/api/v1/files/{file_id}``."""
    content = await file.read(service.settings().photo_max_bytes + 1)
    return await run_in_threadpool(service.add_photo, session, principal, matter_id, stage, content, file.filename)


@router.get("/matters/{matter_id}/photos/{photo_id}", responses={**ERRORS, 200: {"content": {"image/*": {}}}})
def get_photo(session: DbSession, request: Request, matter_id: str, photo_id: str,
              principal: Annotated[Principal, Depends(require("matters.read"))]) -> Response:
    """The photo's bytes, for callers who may see the matter (the same bytes, checks and hash
    verification as ``GET /api/v1/files/{file_id}``)."""
    photo = service.get_photo(session, principal, matter_id, photo_id)
    return file_response(request.app.state.engine, session, principal, photo.file_id, download=False)


# ---------------------------------------------------------------- catalogue


def _type_read(t: MatterType, lang: str | None) -> MatterTypeRead:
    limits = catalogue.limits_of(t)
    return MatterTypeRead(code=t.code, version=t.version, category=t.category,
                          category_name=pick(t.category_zh, t.category_en, lang), name=pick(t.name_zh, t.name_en, lang),
                          name_zh=t.name_zh, name_en=t.name_en, owner_level=t.owner_level, department=t.department,
                          department_en=t.department_en, list_kind=t.list_kind,
                          limits={k: StepLimit(amount=a, unit=u) for k, (a, u) in limits.items()},
                          auto_escalate=t.auto_escalate, handoff=t.handoff, active=t.active)


def _version_read(v: CatalogueVersion, count: int) -> CatalogueVersionRead:
    return CatalogueVersionRead(version=v.version, created_at=v.created_at, created_by=v.created_by, note=v.note,
                                is_current=v.is_current, types=count)


@router.get("/matter-types", response_model=list[MatterTypeRead], responses=ERRORS)
def list_types(session: DbSession, request: Request, principal: Annotated[Principal, Depends(require_login)],
               include_inactive: bool = False) -> list[MatterTypeRead]:
    """The current catalogue version's matter types (names in the caller's language). Any logged-in
    user: everyone who reports (volunteers included) picks from it."""
    return [_type_read(t, _lang(request)) for t in catalogue.current_types(session, include_inactive=include_inactive)]


@router.post("/matter-types", response_model=MatterTypeRead, status_code=201, responses=ERRORS)
def add_type(session: DbSession, request: Request, body: MatterTypeIn,
             principal: Annotated[Principal, Depends(require("matters.configure"))]) -> MatterTypeRead:
    """Add a matter type (a new catalogue version; city level only)."""
    _, saved = catalogue.put_type(session, principal, body.code or "", body.model_dump(), create=True)
    return _type_read(saved, _lang(request))


@router.put("/matter-types/{code}", response_model=MatterTypeRead, responses=ERRORS)
def edit_type(session: DbSession, request: Request, code: str, body: MatterTypeIn,
              principal: Annotated[Principal, Depends(require("matters.configure"))]) -> MatterTypeRead:
    """Replace a matter type (a new catalogue version; open matters keep their limits)."""
    _, saved = catalogue.put_type(session, principal, code, body.model_dump())
    return _type_read(saved, _lang(request))


@router.get("/catalogue/versions", response_model=list[CatalogueVersionRead], responses=ERRORS)
def list_versions(session: DbSession,
                  principal: Annotated[Principal, Depends(require_login)]) -> list[CatalogueVersionRead]:
    """Every catalogue version, newest first."""
    return [_version_read(v, n) for v, n in catalogue.versions(session)]


@router.get("/catalogue.xlsx", responses={**ERRORS, 200: {"content": {XLSX: {}}}})
def export_catalogue(session: DbSession, principal: Annotated[Principal, Depends(require("matters.configure"))],
                     version: int | None = None) -> Response:
    """The catalogue as an Excel workbook (the current version unless ``version`` is given)."""
    data = catalogue.export_xlsx(session, version)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="catalogue.xlsx"'})


@router.post("/catalogue.xlsx", response_model=CatalogueVersionRead, status_code=201, responses=ERRORS)
async def import_catalogue(
        session: DbSession, file: Annotated[UploadFile, File()],
        principal: Annotated[Principal, Depends(require("matters.configure"))]) -> CatalogueVersionRead:
    """Replace the catalogue from a workbook (as exported) as a new version; a bad cell refuses
    the whole sheet, naming its row and column."""
    content = await file.read()

    def apply() -> CatalogueVersionRead:  # reading the workbook and the database: off the event loop
        version = catalogue.import_xlsx(session, principal, content)
        return _version_read(version, len(catalogue.current_types(session, include_inactive=True)))

    return await run_in_threadpool(apply)


@router.post("/hotline/caller-history", response_model=CallerHistoryRead, responses=ERRORS)
def caller_history(session: DbSession, request: Request, body: CallerHistoryIn,
                   principal: Annotated[Principal, Depends(require("matters.caller_history"))]) -> CallerHistoryRead:
    """来电人历史 — the caller's earlier matters in the operator's scope, found by the keyed hash of
    the phone number (sent in the body, never in the URL), shown masked; the look-up is audited."""
    found = callers.history(session, principal, body.phone, body.purpose)
    language = _lang(request)
    names = {t.code: t for t in catalogue.current_types(session, include_inactive=True)}
    return CallerHistoryRead(items=[
        CallerMatter(id=m.id, number=m.number, title=m.title, status=str(m.status), reported_at=m.reported_at,
                     reporter_phone=m.reporter_phone,
                     type_name=(pick(names[m.type_code].name_zh, names[m.type_code].name_en, language)
                                if m.type_code in names else m.type_code))
        for m in found])


@router.get("/hotline/extension-requests", response_model=list[HotlineExtensionRead], responses=ERRORS)
def hotline_extension_requests(session: DbSession,
                               principal: Annotated[Principal, Depends(require("matters.read"))],
                               limit: Annotated[int, Query(ge=1, le=200)] = 100) -> list[HotlineExtensionRead]:
    """延期申请 on 12345 matters in the caller's view, for the 12345 desk: the operator tells the
    caller (延期告知); the level above the owner approves or denies."""
    return service.hotline_extension_requests(session, principal, limit)
