"""Routes of the enforcement supervision centre (执法监管中心)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.background import BackgroundTask

from civicgrid.apiclients import service as apiclients
from civicgrid.apiclients.dependencies import ClientCaller, require_client
from civicgrid.audit.service import audit_export
from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError
from civicgrid.kit.excel import XLSX_MEDIA_TYPE, attachment_headers
from civicgrid.kit.i18n import pick
from civicgrid.kit.pagination import Offset
from civicgrid.supervision import catalogue, figures, intake, service, upload
from civicgrid.supervision import clocks as _clocks  # noqa: F401  (registers the clock timers' handlers)
from civicgrid.supervision.models import CasePerson, CaseRecord, Clock, ClockException, Measure, PropertyItem
from civicgrid.supervision.schemas import (
    AreaRead,
    BasisRead,
    BatchAnswer,
    BatchBody,
    BoardRead,
    BreachMapRead,
    CaseFileRead,
    CasePage,
    CaseRead,
    ClockExceptionRead,
    ClockRead,
    CustodyRead,
    DocumentRead,
    EventResult,
    ExceptionBody,
    ExceptionOptionRead,
    ExtensionRead,
    FiguresRead,
    LedgerPage,
    LedgerRow,
    MeasureRead,
    OccupantRead,
    PersonDetailRead,
    PersonRead,
    PropertyDetailRead,
    PropertyRead,
    RegionBreaches,
    RoomBoardRead,
    RoomRead,
    RuleRead,
    TimelineItem,
    UnitBreaches,
    VersionRead,
    VisitRead,
)

router = APIRouter(prefix="/api/v1/supervision", tags=["supervision"])
ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "Not logged in"},
                                           403: {"description": "Missing the permission"},
                                           404: {"description": "Unknown, or outside the caller's jurisdiction"}}
RowId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
READ, INGEST, HANDLE = "supervision.read", "supervision.ingest", "supervision.handle"


def _basis(b: catalogue.Basis) -> BasisRead:
    return BasisRead(law=pick(b.law.zh, b.law.en), version=b.law.version,
                     in_force_from=b.law.in_force_from.isoformat(),
                     in_force_until=b.law.in_force_until.isoformat() if b.law.in_force_until else None,
                     article=b.article, paragraph=b.paragraph, verified=b.verified, text=pick(b.text_zh, b.text_en),
                     note=b.note)


def _rule(rule: catalogue.Rule, today: date) -> RuleRead:
    reason = rule.disabled_reason(today)
    return RuleRead(
        code=rule.code, name=pick(rule.name_zh, rule.name_en), status=rule.status,
        enabled_today=rule.enabled_on(today), disabled_reason=pick(*reason) if reason else None,
        watches_measures=sorted(rule.measures), watches_stages=sorted(rule.stages),
        case_kinds=sorted(rule.case_kinds), warn_before_minutes=rule.warn_before_minutes, severity=rule.severity,
        actors=pick(rule.actors_zh, rule.actors_en),
        versions=[VersionRead(statutory=v.statutory, valid_from=v.valid_from.isoformat() if v.valid_from else None,
                              valid_until=v.valid_until.isoformat() if v.valid_until else None, verified=v.verified,
                              basis=[_basis(b) for b in v.basis]) for v in rule.versions],
        exceptions=[ExceptionOptionRead(code=e.code, name=pick(e.name_zh, e.name_en), effect=e.effect,
                                        basis=_basis(e.basis)) for e in rule.exceptions],
        extensions=[e.to for e in rule.extensions], note=pick(rule.note_zh, rule.note_en) if rule.note_zh else "")


def _case(case: CaseRecord) -> dict[str, Any]:
    return dict(id=case.id, sender_id=case.sender_id, external_id=case.external_id, kind=case.kind,
                case_no=case.case_no, title=case.title, category=case.category, unit_id=case.unit_id,
                division_code=case.division_code, officers=service.officers(case),
                enterprise_involved=case.enterprise_involved, amount_fen=case.amount_fen, incident_no=case.incident_no,
                fast_track=case.fast_track, stage=str(case.status), supplementary_count=case.supplementary_count,
                accepted_at=case.accepted_at, last_event_at=case.last_event_at)


def _person(p: CasePerson) -> PersonRead:
    return PersonRead(id=p.id, external_id=p.external_id, role=p.role, name=p.person_name, id_number=p.id_number,
                      minor_under_14=p.minor_under_14)


def _measure(m: Measure) -> MeasureRead:
    return MeasureRead(id=m.id, external_id=m.external_id, person_id=m.person_id, kind=m.kind, status=str(m.status),
                       started_at=m.started_at, ended_at=m.ended_at, end_reason=m.end_reason)


def _clock(c: Clock, case: CaseRecord | None = None) -> ClockRead:
    rule = catalogue.rules()[c.rule_code]
    return ClockRead(id=c.id, case_id=c.case_id, measure_id=c.measure_id, rule_code=c.rule_code,
                     rule_name=pick(rule.name_zh, rule.name_en), severity=rule.severity,
                     statutory_code=c.statutory_code, law_version=c.law_version, status=str(c.status),
                     start_at=c.start_at, warn_at=c.warn_at, due_at=c.due_at, met_at=c.met_at,
                     breached_at=c.breached_at, explanation=c.explanation, warned=c.warning_alert_id is not None,
                     case_title=case.title if case else None,
                     exception_options=[e.code for e in rule.exceptions])


def _exception(x: ClockException) -> ClockExceptionRead:
    return ClockExceptionRead(clock_id=x.clock_id, kind=x.kind, at=x.at, approver=x.approver,
                              document_no=x.document_no, basis=x.basis, note=x.note, recorded_by=x.recorded_by,
                              recorded_at=x.recorded_at)


def _property(p: PropertyItem) -> dict[str, Any]:
    return dict(id=p.id, external_id=p.external_id, description=p.description, measure=p.measure,
                value_fen=p.value_fen, owner_name=p.owner_person_name, storage_place=p.storage_place,
                label_no=p.label_no, holder=p.holder, status=str(p.status))


@router.post("/events", response_model=BatchAnswer, responses=ERRORS)
def ingest(session: DbSession, body: BatchBody, principal: Principal = Depends(require(INGEST))) -> BatchAnswer:
    """A batch of events from a case-handling system (docs/api/supervision.md): applied in
    event-time order; duplicates change nothing; an event that cannot follow the record is
    refused with its reason and the rest applied."""
    events = [intake.EventIn(event_id=e.event_id, kind=e.kind, at=e.at, data=e.data) for e in body.events]
    result = intake.apply_batch(session, principal, body.sender, events)
    return BatchAnswer(applied=result.applied, duplicates=result.duplicates, refused=result.refused,
                       results=[EventResult(index=o.index, event_id=o.event_id, outcome=o.outcome,
                                            reason=pick(o.reason_zh, o.reason_en or "") if o.reason_zh else None,
                                            reason_zh=o.reason_zh, reason_en=o.reason_en, field=o.field)
                                for o in result.results])


EVENT_KIND = apiclients.register_record_kind("supervision_event", "执法办案事件", "Case-handling event", [INGEST])


@router.post("/client/events", response_model=BatchAnswer, responses=ERRORS)
def ingest_from_client(session: DbSession, body: BatchBody,
                       caller: Annotated[ClientCaller, Depends(require_client(EVENT_KIND.code))]) -> BatchAnswer:
    """The same batch sent by a case-handling system as a platform API client (its key in the
    ``X-API-Key`` header; docs/api/clients.md): the client acts as its owning unit and is the
    batch's sender, whatever the body says (迟报 warnings name it)."""
    return ingest(session, BatchBody(sender=caller.client.id, events=body.events), caller.principal)


MAX_FILE_BYTES = 4 * 1024 * 1024


@router.post("/events/upload", response_model=BatchAnswer, responses=ERRORS)
def ingest_file(session: DbSession, file: UploadFile, sender: Annotated[str, Form(pattern=r"^[A-Za-z0-9._:\-]{1,64}$")],
                principal: Principal = Depends(require(INGEST))) -> BatchAnswer:
    """The same intake by a CSV or Excel file, one event per row (docs/api/supervision.md); a
    refusal names the row and the column."""
    data = file.file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise AppError("文件过大（最大 4 MB）", "File too large (at most 4 MB)", status=413, code="too_large")
    events, refused = upload.to_events(upload.read_rows(data, file.filename or "events.csv"))
    result = intake.apply_batch(session, principal, sender, [e for _, e in events])
    rows = [n for n, _ in events]
    out = [EventResult(index=rows[o.index] - 2, event_id=o.event_id, outcome=o.outcome,
                       reason=pick(o.reason_zh, o.reason_en or "") if o.reason_zh else None, reason_zh=o.reason_zh,
                       reason_en=o.reason_en, field=o.field, row=rows[o.index], column=upload.column_of(o.field))
           for o in result.results]
    out += [EventResult(index=n - 2, event_id=o.event_id, outcome="refused", reason=pick(o.reason_zh or "",
                                                                                         o.reason_en or ""),
                        reason_zh=o.reason_zh, reason_en=o.reason_en, field=o.field, row=n, column=column)
            for n, o, column in refused]
    out.sort(key=lambda r: r.row or 0)
    return BatchAnswer(applied=result.applied, duplicates=result.duplicates, refused=result.refused + len(refused),
                       results=out)


@router.get("/rules", response_model=list[RuleRead], responses=ERRORS)
def rules(principal: Principal = Depends(require(READ))) -> list[RuleRead]:
    """The rule catalogue: every limit with its legal basis and versions; disabled ones say why."""
    today = catalogue.act_day(utcnow())
    return [_rule(r, today) for r in catalogue.rules().values()]


@router.get("/board", response_model=BoardRead, responses=ERRORS)
def board(session: DbSession, principal: Principal = Depends(require(READ))) -> BoardRead:
    """The centre's board: clocks by status, the nearest deadlines, recent breaches and exceptions."""
    result = service.board(session, principal)
    return BoardRead(counts=result.counts, live=[_clock(c, case) for c, case in result.live],
                     breaches=[_clock(c, case) for c, case in result.breaches],
                     exceptions=[_exception(x) for x in result.exceptions])


@router.get("/cases", response_model=CasePage, responses=ERRORS)
def list_cases(session: DbSession, offset: Offset = 0, limit: Annotated[int, Query(ge=1, le=200)] = 50,
               kind: Annotated[str | None, Query(pattern="^(criminal|administrative)$")] = None,
               principal: Principal = Depends(require(READ))) -> CasePage:
    total, rows = service.list_cases(session, principal, offset=offset, limit=limit, kind=kind)
    return CasePage(total=total, items=[CaseRead(**_case(c)) for c in rows])


@router.get("/cases/{case_id}", response_model=CaseFileRead, responses=ERRORS)
def get_case(session: DbSession, case_id: RowId, principal: Principal = Depends(require(READ))) -> CaseFileRead:
    """Person, case, property and place of one case, with one timeline by event time."""
    f = service.case_file(session, principal, case_id)
    return CaseFileRead(
        **_case(f.case), persons=[_person(p) for p in f.persons], measures=[_measure(m) for m in f.measures],
        extensions=[ExtensionRead(clock_id=x.clock_id, measure_id=x.measure_id, limit_code=x.limit_code,
                                  to_statutory=x.to_statutory, approver=x.approver, document_no=x.document_no,
                                  article=x.article, at=x.at) for x in f.extensions],
        clocks=[_clock(c, f.case) for c in f.clocks], exceptions=[_exception(x) for x in f.exceptions],
        property=[PropertyRead(**_property(p)) for p in f.property],
        documents=[DocumentRead(doc_type=d.doc_type, document_no=d.document_no, measure_id=d.measure_id,
                                issued_at=d.issued_at) for d in f.documents],
        visits=[VisitRead(area_id=v.area_id, room_id=v.room_id, person_id=v.person_id, entered_at=v.entered_at,
                          left_at=v.left_at, area_title=f.places.get(v.area_id),
                          room_title=f.places.get(v.room_id) if v.room_id else None) for v in f.visits],
        timeline=[TimelineItem(**t) for t in f.timeline])


@router.get("/persons/{person_id}", response_model=PersonDetailRead, responses=ERRORS)
def get_person(session: DbSession, person_id: RowId,
               principal: Principal = Depends(require(READ))) -> PersonDetailRead:
    person, measures = service.get_person(session, principal, person_id)
    return PersonDetailRead(**_person(person).model_dump(), case_id=person.case_id,
                            measures=[_measure(m) for m in measures])


@router.get("/property/{property_id}", response_model=PropertyDetailRead, responses=ERRORS)
def get_property(session: DbSession, property_id: RowId,
                 principal: Principal = Depends(require(READ))) -> PropertyDetailRead:
    item, chain = service.get_property(session, principal, property_id)
    return PropertyDetailRead(**_property(item), case_id=item.case_id,
                              chain=[CustodyRead(at=t.at, action=t.action, from_holder=t.from_holder,
                                                 to_holder=t.to_holder, place=t.place) for t in chain])


@router.post("/clocks/{clock_id}/exceptions", response_model=ClockRead, responses={**ERRORS, 409: {
    "description": "The limit is no longer running: a breach is never edited away"}})
def record_exception(session: DbSession, clock_id: RowId, body: ExceptionBody,
                     principal: Principal = Depends(require(HANDLE))) -> ClockRead:
    """Record a lawful exception (family notice impossible or withheld, 鉴定 excluded, restart)
    with the approver and the document number."""
    clock = service.record_exception(session, principal, clock_id, kind=body.kind, at=body.at,
                                     approver=body.approver, document_no=body.document_no, note=body.note,
                                     resume=body.resume)
    return _clock(clock)


DivisionParam = Annotated[str, Query(pattern=r"^\d{12}$", description="12-digit division code")]
UnitParam = Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$",
                                        description="A handling unit: it and every unit under it")]


def _range(start: date | None, end: date | None) -> tuple[date, date]:
    today = catalogue.act_day(utcnow())
    return start or today.replace(day=1), end or today


@router.get("/figures", response_model=FiguresRead, responses=ERRORS)
def get_figures(session: DbSession, division_code: DivisionParam, unit_id: UnitParam = None,
                start: date | None = None, end: date | None = None,
                principal: Principal = Depends(require(READ))) -> FiguresRead:
    """Police figures of a division (and a unit with the units under it) over an inclusive range
    of local dates (docs/figures.md, 执法监督统计口径); default: this month so far."""
    lo, hi = _range(start, end)
    return FiguresRead(**figures.figures(session, principal, division_code, lo, hi, unit_id))


@router.get("/figures/export", responses={**ERRORS, 200: {"content": {XLSX_MEDIA_TYPE: {}}}})
def export_figures(session: DbSession, request: Request, division_code: DivisionParam, unit_id: UnitParam = None,
                   start: date | None = None, end: date | None = None,
                   principal: Principal = Depends(require(READ))) -> Response:
    """The same figures as an .xlsx (Chinese and English header rows); the download is recorded in
    the audit chain once the file has gone out."""
    lo, hi = _range(start, end)
    values = figures.figures(session, principal, division_code, lo, hi, unit_id)
    return Response(figures.figures_xlsx(values), media_type=XLSX_MEDIA_TYPE,
                    headers=attachment_headers(f"supervision-{division_code}-{lo}-{hi}.xlsx"),
                    background=BackgroundTask(audit_export, request.app.state.engine, principal,
                                              "supervision.figures_export",
                                              {"division_code": division_code, "unit_id": unit_id,
                                               "start": str(lo), "end": str(hi)}))


@router.get("/areas", response_model=list[AreaRead], responses=ERRORS)
def list_areas(session: DbSession, principal: Principal = Depends(require(READ))) -> list[AreaRead]:
    """The case-handling areas (执法办案场所) of the caller's jurisdiction, with how many people are inside."""
    return [AreaRead(id=a.id, unit_id=a.unit_id, division_code=a.division_code, code=a.code, title=a.title, inside=n)
            for a, n in service.areas(session, principal)]


@router.get("/areas/{area_id}/board", response_model=RoomBoardRead, responses=ERRORS)
def room_board(session: DbSession, area_id: RowId, principal: Principal = Depends(require(READ))) -> RoomBoardRead:
    """The area's live room board: who is in which room since when, on which measure, and that
    measure's nearest running limit (its countdown)."""
    area, rooms, occupants = service.room_board(session, principal, area_id)
    inside = len({o.visit.person_id for o in occupants})
    return RoomBoardRead(
        area=AreaRead(id=area.id, unit_id=area.unit_id, division_code=area.division_code, code=area.code,
                      title=area.title, inside=inside),
        rooms=[RoomRead(id=r.id, code=r.code, title=r.title, room_type=r.room_type) for r in rooms],
        occupants=[OccupantRead(visit_id=o.visit.id, person_id=o.visit.person_id,
                                person_name=o.person.person_name if o.person else None,
                                person_role=o.person.role if o.person else None, case_id=o.visit.case_id,
                                case_title=o.case.title if o.case else None,
                                room_id=o.room.id if o.room else None, room_title=o.room.title if o.room else None,
                                entered_at=o.visit.entered_at, measure_kind=o.measure.kind if o.measure else None,
                                measure_started_at=o.measure.started_at if o.measure else None,
                                clock=_clock(o.clock, o.case) if o.clock else None) for o in occupants])


@router.get("/property", response_model=LedgerPage, responses=ERRORS)
def property_ledger(session: DbSession, offset: Offset = 0, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                    status: Annotated[str | None, Query(pattern="^(held|returned|confiscated|auctioned|destroyed)$")]
                    = None, principal: Principal = Depends(require(READ))) -> LedgerPage:
    """The property ledger (涉案财物台账): every item of the jurisdiction with its case, newest first."""
    total, rows = service.property_ledger(session, principal, status=status, offset=offset, limit=limit)
    return LedgerPage(total=total, items=[LedgerRow(**_property(item), case_id=item.case_id, case_title=title,
                                                    case_kind=kind, case_stage=str(stage))
                                          for item, title, stage, kind in rows])


@router.get("/breach-map", response_model=BreachMapRead, responses=ERRORS)
def breach_map(session: DbSession, division_code: DivisionParam,
               principal: Principal = Depends(require(READ))) -> BreachMapRead:
    """Open breaches per handling unit and per region one level below the division (the map)."""
    regions, units = service.breach_map(session, principal, division_code)
    return BreachMapRead(division_code=division_code, regions=[RegionBreaches(**r) for r in regions],
                         units=[UnitBreaches(**u) for u in units])
