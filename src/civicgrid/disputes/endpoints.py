"""Thin routes of the disputes API: registration, the file and its life cycle, sessions,
agreements (print and reveal), mediators, screening reports and figures."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from civicgrid.audit.service import audit_export
from civicgrid.authz.dependencies import require, require_login
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.disputes import catalogue, service
from civicgrid.disputes.models import Agreement, Dispute, MediationSession, Mediator, ScreeningReport
from civicgrid.disputes.schemas import (
    AgreementIn,
    AgreementRead,
    AttachmentRead,
    CategoryRead,
    DisputeCreate,
    DisputeDetail,
    DisputePage,
    DisputeRead,
    FiguresRead,
    HandlerChoice,
    HeatCell,
    JudicialIn,
    MediatorIn,
    MediatorPage,
    MediatorRead,
    PartyRead,
    PrintIn,
    ReturnVisitIn,
    RevealIn,
    RevealRead,
    ScreeningIn,
    ScreeningPage,
    ScreeningRead,
    SessionIn,
    SessionRead,
    SignIn,
    TimelineRead,
    TransitionIn,
    WorkbenchRead,
)
from civicgrid.disputes.workflow import level_of
from civicgrid.files.models import StoredFile
from civicgrid.kit.excel import attachment_headers
from civicgrid.kit.i18n import pick
from civicgrid.kit.pagination import Offset

router = APIRouter(prefix="/api/v1", tags=["disputes"])
ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Forbidden"},
    404: {"description": "Not found"},
    409: {"description": "Conflict"},
    422: {"description": "Invalid"},
}


def _lang(request: Request) -> str | None:
    return request.headers.get("accept-language")


def _read(d: Dispute, lang: str | None) -> DisputeRead:
    cat = catalogue.categories().get(d.category)
    return DisputeRead(
        id=d.id,
        number=d.number,
        title=d.title,
        happened_on=d.happened_on,
        place=d.place,
        grid_code=d.grid_code,
        division_code=d.division_code,
        category=d.category,
        category_name=pick(cat.name_zh, cat.name_en, lang) if cat else d.category,
        scale=d.scale,
        people_involved=d.people_involved,
        amount_fen=d.amount_fen,
        source=d.source,
        risk_level=d.risk_level,
        complexity=d.complexity,
        court_mode=d.court_mode,
        status=d.status,
        registered_at=d.registered_at,
        handler_kind=d.handler_kind,
        handler_unit_id=d.handler_unit_id,
        handler_level=d.handler_level,
        mediator_id=d.mediator_id,
        due_at=d.due_at,
        limit_basis=d.limit_basis,
        overdue=d.overdue,
        failed_attempts=d.failed_attempts,
        transfers=d.transfers,
        outcome=d.outcome,
        settled_level=d.settled_level,
        settled_division_code=d.settled_division_code,
        matter_id=d.matter_id,
        incident_id=d.incident_id,
    )


def _agreement(a: Agreement) -> AgreementRead:
    return AgreementRead(
        id=a.id,
        kind=a.kind,
        status=a.status,
        facts=a.facts,
        issues=a.issues,
        responsibilities=a.responsibilities,
        terms=a.terms,
        performance=a.performance,
        perform_by=a.perform_by,
        mediator_signed_at=a.mediator_signed_at,
        sealed_at=a.sealed_at,
        effective_at=a.effective_at,
        judicial_due_at=a.judicial_due_at,
        judicial_status=a.judicial_status,
        performance_status=a.performance_status,
        visited_at=a.visited_at,
    )


def _detail(session: DbSession, principal: Principal, dispute_id: str, lang: str | None) -> DisputeDetail:
    d = service.detail(session, principal, dispute_id)
    files = service.attachments(session, [s.id for s in d.sessions])
    base = _read(d.dispute, lang).model_dump()
    return DisputeDetail(
        **base,
        summary=d.dispute.summary,
        division_name=service.place_names(session, [d.dispute.division_code]).get(d.dispute.division_code),
        lng=d.dispute.lng,
        lat=d.dispute.lat,
        court_receipt_at=d.dispute.court_receipt_at,
        other_routes=[r for r in (d.dispute.other_routes or "").split(",") if r],
        police_reported=d.dispute.police_reported,
        threats=d.dispute.threats,
        turned_criminal_at=d.dispute.turned_criminal_at,
        turned_collective_at=d.dispute.turned_collective_at,
        concluded_at=d.dispute.concluded_at,
        parties=[
            PartyRead(
                id=p.id,
                kind=p.kind,
                role=p.role,
                full_name=p.full_name,
                org_name=p.org_name,
                uscc=p.uscc,
                doc_type=p.doc_type,
                id_number=p.id_number,
                phone=p.phone,
                address=p.address,
                signed_at=p.signed_at,
            )
            for p in d.parties
        ],
        sessions=[_session_read(s, files.get(s.id, [])) for s in d.sessions],
        agreement=_agreement(d.agreement) if d.agreement else None,
        timeline=[
            TimelineRead(
                seq=e.seq,
                entity_type=e.entity_type,
                action=e.action,
                from_status=e.from_status,
                to_status=e.to_status,
                actor_name=e.actor_name,
                at=e.at,
                note=e.note,
            )
            for e in d.timeline
        ],
        allowed_actions=d.allowed,
    )


@router.get("/dispute-categories", response_model=list[CategoryRead], responses=ERRORS)
def categories(request: Request, principal: Annotated[Principal, Depends(require_login)]) -> list[CategoryRead]:
    """The dispute categories (the city's catalogue, ``disputes/data/categories.json``)."""
    lang = _lang(request)
    return [
        CategoryRead(code=c.code, name=pick(c.name_zh, c.name_en, lang), name_zh=c.name_zh, name_en=c.name_en)
        for c in catalogue.categories().values()
    ]


@router.post("/disputes", response_model=DisputeDetail, status_code=201, responses=ERRORS)
def register(
    session: DbSession,
    request: Request,
    body: DisputeCreate,
    principal: Annotated[Principal, Depends(require("disputes.register"))],
) -> DisputeDetail:
    """Register a dispute once (and route it when ``unit_id`` is given)."""
    dispute = service.register(session, principal, body)
    return _detail(session, principal, dispute.id, _lang(request))


@router.get("/disputes", response_model=DisputePage, responses=ERRORS)
def list_disputes(
    session: DbSession,
    request: Request,
    principal: Annotated[Principal, Depends(require("disputes.read"))],
    status: str | None = None,
    mediator_id: str | None = None,
    handler_unit_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> DisputePage:
    total, rows = service.listing(
        session,
        principal,
        status=status,
        mediator_id=mediator_id,
        handler_unit_id=handler_unit_id,
        limit=limit,
        offset=offset,
    )
    return DisputePage(total=total, items=[_read(d, _lang(request)) for d in rows])


@router.get("/disputes/{dispute_id}", response_model=DisputeDetail, responses=ERRORS)
def get_dispute(
    session: DbSession,
    request: Request,
    dispute_id: str,
    principal: Annotated[Principal, Depends(require("disputes.read"))],
) -> DisputeDetail:
    """The dispute file: parties (masked), sessions, agreement, timeline, the caller's next actions."""
    return _detail(session, principal, dispute_id, _lang(request))


@router.post("/disputes/{dispute_id}/transitions", response_model=DisputeDetail, responses=ERRORS)
def transition(
    session: DbSession,
    request: Request,
    dispute_id: str,
    body: TransitionIn,
    principal: Annotated[Principal, Depends(require("disputes.read"))],
) -> DisputeDetail:
    """Perform an action; the action's own permission is checked by the transition table."""
    service.act(session, principal, dispute_id, body.action, note=body.note, data=body.extra())
    return _detail(session, principal, dispute_id, _lang(request))


@router.post("/disputes/{dispute_id}/sessions", response_model=SessionRead, status_code=201, responses=ERRORS)
def record_session(
    session: DbSession,
    dispute_id: str,
    body: SessionIn,
    principal: Annotated[Principal, Depends(require("disputes.mediate"))],
) -> SessionRead:
    s = service.record_session(
        session,
        principal,
        dispute_id,
        held_at=body.held_at,
        participants=body.participants,
        notes=body.notes,
        result=body.result,
    )
    return _session_read(s)


def _attachment(f: StoredFile) -> AttachmentRead:
    return AttachmentRead(
        file_id=f.id,
        kind=f.kind,
        content_type=f.content_type,
        size=f.size,
        file_name=f.file_name,
        url=f"/api/v1/files/{f.id}",
    )


def _session_read(s: MediationSession, attached: list[StoredFile] | None = None) -> SessionRead:
    return SessionRead(
        id=s.id,
        dispute_id=s.dispute_id,
        attachments=[_attachment(f) for f in attached or []],
        held_at=s.held_at,
        participants=s.participants,
        notes=s.notes,
        result=s.result,
        handler_unit_id=s.handler_unit_id,
        mediator_id=s.mediator_id,
    )


@router.post("/disputes/{dispute_id}/agreement", response_model=AgreementRead, status_code=201, responses=ERRORS)
def draft_agreement(
    session: DbSession,
    dispute_id: str,
    body: AgreementIn,
    principal: Annotated[Principal, Depends(require("disputes.mediate"))],
) -> AgreementRead:
    """Draft the written agreement (content of 人民调解法 Art. 29)."""
    return _agreement(service.draft_agreement(session, principal, dispute_id, body))


@router.post("/disputes/{dispute_id}/agreement/signatures", response_model=AgreementRead, responses=ERRORS)
def sign(
    session: DbSession,
    dispute_id: str,
    body: SignIn,
    principal: Annotated[Principal, Depends(require("disputes.mediate"))],
) -> AgreementRead:
    """Record a party's or the mediator's signature."""
    return _agreement(service.sign(session, principal, dispute_id, party_id=body.party_id, mediator=body.mediator))


@router.post("/disputes/{dispute_id}/agreement/seal", response_model=AgreementRead, responses=ERRORS)
def seal(
    session: DbSession, dispute_id: str, principal: Annotated[Principal, Depends(require("disputes.mediate"))]
) -> AgreementRead:
    """Apply the seal: the agreement takes effect and the dispute is settled."""
    return _agreement(service.seal(session, principal, dispute_id))


@router.post("/disputes/{dispute_id}/agreement/judicial", response_model=AgreementRead, responses=ERRORS)
def judicial(
    session: DbSession,
    dispute_id: str,
    body: JudicialIn,
    principal: Annotated[Principal, Depends(require("disputes.mediate"))],
) -> AgreementRead:
    """Record the joint application for judicial confirmation, or the court's decision."""
    return _agreement(
        service.judicial(session, principal, dispute_id, action=body.action, decision=body.decision, note=body.note)
    )


@router.post("/disputes/{dispute_id}/agreement/return-visits", response_model=AgreementRead, responses=ERRORS)
def return_visit(
    session: DbSession,
    dispute_id: str,
    body: ReturnVisitIn,
    principal: Annotated[Principal, Depends(require("disputes.read"))],
) -> AgreementRead:
    """Record a return visit (履行回访) on the effective agreement; the table checks
    ``disputes.mediate`` or ``disputes.register`` (grid workers visit too)."""
    return _agreement(service.return_visit(session, principal, dispute_id, performed=body.performed, note=body.note))


@router.post("/disputes/{dispute_id}/agreement/print", response_class=HTMLResponse, responses=ERRORS)
def print_agreement(
    session: DbSession, dispute_id: str, body: PrintIn, principal: Annotated[Principal, Depends(require("pii.reveal"))]
) -> HTMLResponse:
    """The agreement as a printable page with the parties in clear under the viewer's watermark;
    printing is a reveal, recorded once in the audit chain."""
    page, number = service.print_agreement(session, principal, dispute_id, body.purpose)
    return HTMLResponse(
        page, headers={"Content-Disposition": f'inline; filename="{number}.html"', "Cache-Control": "no-store"}
    )


@router.post("/disputes/{dispute_id}/reveal", response_model=RevealRead, responses=ERRORS)
def reveal(
    session: DbSession, dispute_id: str, body: RevealIn, principal: Annotated[Principal, Depends(require("pii.reveal"))]
) -> RevealRead:
    """One field of one party in clear (audited)."""
    value = service.reveal_party(session, principal, dispute_id, body.party_id, body.field, body.purpose)
    return RevealRead(field=body.field, value=value)


@router.get("/disputes/{dispute_id}/mediator-suggestions", response_model=list[MediatorRead], responses=ERRORS)
def suggestions(
    session: DbSession, dispute_id: str, principal: Annotated[Principal, Depends(require("disputes.read"))]
) -> list[MediatorRead]:
    """Mediators for the dispute: specialty, nearness and load."""
    return [
        _mediator(m, load, outcomes, score)
        for m, load, outcomes, score in service.suggest_mediators(session, principal, dispute_id)
    ]


def _mediator(m: Mediator, load: int, outcomes: dict[str, int], score: float | None = None) -> MediatorRead:
    return MediatorRead(
        id=m.id,
        full_name=m.full_name,
        phone=m.phone,
        category=m.category,
        elder_kind=m.elder_kind,
        specialties=[s for s in m.specialties.split(",") if s],
        org_unit_id=m.org_unit_id,
        division_code=m.division_code,
        active=m.active,
        load=load,
        outcomes=outcomes,
        score=score,
    )


@router.post("/mediators", response_model=MediatorRead, status_code=201, responses=ERRORS)
def add_mediator(
    session: DbSession, body: MediatorIn, principal: Annotated[Principal, Depends(require("disputes.manage"))]
) -> MediatorRead:
    """Add a mediator to the registry."""
    return _mediator(service.add_mediator(session, principal, body), 0, {})


@router.get("/mediators", response_model=MediatorPage, responses=ERRORS)
def list_mediators(
    session: DbSession,
    principal: Annotated[Principal, Depends(require("disputes.read"))],
    org_unit_id: str | None = None,
    category: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> MediatorPage:
    total, rows, loads, outcomes = service.mediators(
        session, principal, org_unit_id=org_unit_id, category=category, limit=limit, offset=offset
    )
    return MediatorPage(total=total, items=[_mediator(m, loads.get(m.id, 0), outcomes.get(m.id, {})) for m in rows])


def _screening(r: ScreeningReport, names: dict[str, str] | None = None) -> ScreeningRead:
    return ScreeningRead(
        id=r.id,
        division_code=r.division_code,
        division_name=(names or {}).get(r.division_code),
        level=r.level,
        period_start=r.period_start,
        period_end=r.period_end,
        due_at=r.due_at,
        found=r.found,
        note=r.note,
        filed_at=r.filed_at,
        on_time=r.on_time,
    )


@router.post("/dispute-screening-reports", response_model=ScreeningRead, status_code=201, responses=ERRORS)
def file_screening(
    session: DbSession, body: ScreeningIn, principal: Annotated[Principal, Depends(require("disputes.register"))]
) -> ScreeningRead:
    """File a periodic screening report (排查); zero disputes found is a zero report, which counts."""
    row = service.file_screening(session, principal, body)
    return _screening(row, service.place_names(session, [row.division_code]))


@router.get("/dispute-screening-reports", response_model=ScreeningPage, responses=ERRORS)
def list_screening(
    session: DbSession,
    principal: Annotated[Principal, Depends(require("disputes.read"))],
    start: date | None = None,
    end: date | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> ScreeningPage:
    total, rows = service.screening_reports(session, principal, start=start, end=end, limit=limit, offset=offset)
    names = service.place_names(session, [r.division_code for r in rows])
    return ScreeningPage(total=total, items=[_screening(r, names) for r in rows])


@router.get("/dispute-figures", response_model=FiguresRead, responses=ERRORS)
def figures(
    session: DbSession,
    principal: Annotated[Principal, Depends(require("disputes.read"))],
    division_code: Annotated[str, Query(pattern=r"^\d{12}$")],
    start: date,
    end: date,
) -> FiguresRead:
    """Figures of a division and an inclusive range of local dates (docs/figures.md)."""
    return FiguresRead(**service.figures(session, principal, division_code, start, end))


@router.get(
    "/dispute-figures/export",
    responses={**ERRORS, 200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}},
)
def export_figures(
    session: DbSession,
    request: Request,
    principal: Annotated[Principal, Depends(require("disputes.read"))],
    division_code: Annotated[str, Query(pattern=r"^\d{12}$")],
    start: date,
    end: date,
) -> Response:
    """The figures as an .xlsx (Chinese and English header rows); the download is recorded in the
    audit chain once the file has gone out."""
    data = service.figures_xlsx(session, principal, division_code, start, end)
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=attachment_headers(f"disputes-{division_code}-{start}-{end}.xlsx"),
        background=BackgroundTask(
            audit_export,
            request.app.state.engine,
            principal,
            "disputes.export",
            {"figures": division_code, "start": str(start), "end": str(end)},
        ),
    )


@router.get("/dispute-warnings/heat", response_model=list[HeatCell], responses=ERRORS)
def warning_heat(
    session: DbSession, principal: Annotated[Principal, Depends(require("disputes.read"))]
) -> list[HeatCell]:
    """The warning heat map: open warnings on disputes by the grid where they happened."""
    return [HeatCell(**cell) for cell in service.warning_heat(session, principal)]


@router.get("/disputes/{dispute_id}/handler-choices", response_model=list[HandlerChoice], responses=ERRORS)
def handler_choices(
    session: DbSession,
    request: Request,
    dispute_id: str,
    principal: Annotated[Principal, Depends(require("disputes.read"))],
) -> list[HandlerChoice]:
    """The bodies the dispute may be routed or transferred to (those on its chain, lowest first)."""
    lang = _lang(request)
    out = []
    for unit, kind in service.handler_choices(session, principal, dispute_id):
        zh, en, _types = catalogue.HANDLER_KINDS.get(kind, (kind, kind, ()))
        out.append(
            HandlerChoice(
                unit_id=unit.id,
                name=unit.name,
                kind=kind,
                kind_name=pick(zh, en, lang),
                division_code=unit.division_code,
                level=level_of(unit.division_code),
            )
        )
    return out


@router.get("/dispute-workbench", response_model=WorkbenchRead, responses=ERRORS)
def workbench(
    session: DbSession, request: Request, principal: Annotated[Principal, Depends(require("disputes.mediate"))]
) -> WorkbenchRead:
    """The mediator's workbench: open files handled in my jurisdiction or mediated by me, the
    sessions held on them today, and the limits ending within three days (or passed)."""
    lang = _lang(request)
    bench = service.workbench(session, principal)
    return WorkbenchRead(
        files=[_read(d, lang) for d in bench.files],
        sessions_today=[_session_read(s) for s in bench.sessions_today],
        deadlines=[_read(d, lang) for d in bench.deadlines],
    )


@router.post("/disputes/{dispute_id}/attachments", response_model=AttachmentRead, status_code=201, responses=ERRORS)
async def attach(
    session: DbSession,
    dispute_id: str,
    file: Annotated[UploadFile, File()],
    principal: Annotated[Principal, Depends(require("disputes.mediate"))],
    session_id: Annotated[str, Form(max_length=32)],
    kind: Annotated[str, Form(max_length=16)] = "document",
) -> AttachmentRead:
    """Attach a file to a mediation session (``kind`` photo, voice, document or agreement — the
    scanned signed agreement); kept in the file store, read at ``/api/v1/files/{file_id}`` by
    whoever may see the dispute."""
    content = await file.read(20 * 1024 * 1024 + 1)
    stored = await run_in_threadpool(
        service.attach, session, principal, dispute_id, session_id, kind=kind, content=content, file_name=file.filename
    )
    return _attachment(stored)
