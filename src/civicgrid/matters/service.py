"""Rules of reported matters: intake and routing, duplicates, photos, the closed loop, queues.

Other modules (figures, Open311, the demo generator, the web pages) call these functions;
they flush and never commit (the request or the caller's ``transaction()`` does).

Routing reads only the catalogue and the location: the point is snapped to its grid, and the
owner is the unit of the type's owning level whose territory holds the grid (village = the
grid's first 12 digits, township, county, city).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import jurisdiction_prefix
from civicgrid.files import service as files
from civicgrid.files.models import StoredFile
from civicgrid.geo import service as geo
from civicgrid.kit import pii
from civicgrid.kit.clock import CHINA_TZ, utcnow
from civicgrid.kit.errors import Invalid, NotFound, PermissionDenied
from civicgrid.kit.excel import Column, write_xlsx
from civicgrid.kit.i18n import pick
from civicgrid.kit.personal import lookup_hashes
from civicgrid.kit.printing import Document
from civicgrid.matters import intake, labels, report_sheet, repository
from civicgrid.matters import workflow as wf
from civicgrid.matters.models import REPORTER_PHONE_CONTEXT, Matter, MatterPhoto
from civicgrid.matters.schemas import (
    DuplicateRead,
    HotlineExtensionRead,
    MatterCreate,
    MatterDetail,
    MatterPublic,
    MatterRead,
    MyReport,
    PhotoRead,
    PlaceCorrected,
    PublicNote,
    SupervisionRead,
    TimelineRead,
    VerifierRead,
)
from civicgrid.matters.settings import settings
from civicgrid.people import service as people
from civicgrid.reveal import service as reveal
from civicgrid.workflow.engine import InvalidTransition

QUEUES = ("mine", "done", "division", "reported_by_me")
OPEN_STATUSES = tuple(sorted(str(s) for s in wf.OPEN))
FINISHED_STATUSES = tuple(sorted(str(s) for s in wf.FINISHED))
FLAGS = ("supervised", "urged", "rework", "escalated", "duplicate", "on_spot", "spot_check")

# Timeline actions whose note is written for the person who reported (a reason for rejecting,
# the result of the handling, the closing remark). Dispatch instructions, escalation reasons,
# supervision orders and the like are internal and never reach the public view.
PUBLIC_NOTE_ACTIONS = ("accept", "reject", "cancel", "resolve", "close", "merge")


def _not_found() -> NotFound:
    return NotFound("事项", "matter")


# ---------------------------------------------------------------- intake


def report(session: Session, principal: Principal, data: MatterCreate, *,
           idempotency_key: str | None = None, columns: dict[str, Any] | None = None) -> tuple[Matter, bool]:
    """Record a reported matter and route it in the caller's transaction; ``(matter, created)``.

    With an ``idempotency_key`` a retry returns the matter the first request created
    (``created`` False), also when two requests race: the unique key decides, the loser returns
    the winner's matter. Unknown type → 422 on ``type_code``; a point outside every grid of the
    city → 422 on ``lng``; a bad hotline phone → 422 on ``reporter_phone``
    (:mod:`civicgrid.matters.intake`). Written through the ORM and the kit's
    ``Workflow.start`` (:func:`intake.start_one`); the API's group commit inserts the same rows
    in batches. ``columns`` sets an external system's record on the row
    (``intake.EXTERNAL_COLUMNS``: the hotline's ticket).
    """
    written = intake.start_one(session, intake.prepare(session, principal, data, idempotency_key, columns=columns))
    return written.matter, written.created


def in_full_view(principal: Principal, matter: Matter) -> bool:
    """The one rule of what a reporter sees, on every channel (``POST /api/v1/matters``, the
    matter's detail, Open311): anyone who may report may report anywhere in the city, and the
    matter goes to its owner by the point's grid; the caller sees the matter in full only when
    its owner or its grid lies inside the caller's jurisdiction. A reporter from outside gets
    :func:`public_view` of what they reported — number, type, status, public notes."""
    return principal.governs(matter.division_code) or principal.governs(matter.grid_code)


def answer_report(principal: Principal, written: intake.Written) -> MatterDetail | MatterPublic:
    """What the reporter gets back for a matter the intake just created (nothing is read back):
    the detail when :func:`in_full_view`, else the public view. Never the duplicate candidates:
    they are for the owning unit's acceptors, who see them on the matter's detail."""
    event = written.event
    assert written.created and event is not None
    matter = written.matter
    if not in_full_view(principal, matter):
        return MatterPublic(id=matter.id, number=matter.number, type_code=matter.type_code,
                            type_name=pick(*written.type_names), status=matter.status,
                            reported_at=matter.reported_at, status_changed_at=matter.status_changed_at, notes=[])
    timeline_row = TimelineRead(seq=event["seq"], action=event["action"], from_status=None,
                                to_status=event["to_status"], actor_name=event["actor_name"],
                                actor_role=event["actor_role"], at=event["at"], note=event["note"], lng=event["lng"],
                                lat=event["lat"], division_code=event["division_code"], data=json.loads(event["data"]))
    return MatterDetail(**_read_values(matter, principal), type_name=pick(*written.type_names),
                        timeline=[timeline_row], photos=[], duplicates=[], supervision=[],
                        allowed_actions=list(written.allowed_actions))


def public_notes(session: Session, matter_ids: list[str]) -> dict[str, list[PublicNote]]:
    """The notes written for the reporter, per matter, oldest first (a resolution shows its
    result); steps without words are left out."""
    out: dict[str, list[PublicNote]] = {}
    for event in repository.notes_of(session, matter_ids, PUBLIC_NOTE_ACTIONS):
        text = (event.note or "").strip() or None
        if event.action == "resolve" and event.data:
            result = json.loads(event.data).get("result")
            text = str(result).strip() if result else text
        if text is not None:
            out.setdefault(event.entity_id, []).append(PublicNote(action=event.action, at=event.at, note=text))
    return out


def public_view(session: Session, matter: Matter, lang: str | None = None) -> MatterPublic:
    """The public view of a matter (see :func:`in_full_view`)."""
    return MatterPublic(id=matter.id, number=matter.number, type_code=matter.type_code,
                        type_name=_type_name(session, matter, lang), status=matter.status,
                        reported_at=matter.reported_at, status_changed_at=matter.status_changed_at,
                        notes=public_notes(session, [matter.id]).get(matter.id, []))


# ---------------------------------------------------------------- reads


def get(session: Session, principal: Principal, matter_id: str, *, for_update: bool = False) -> Matter:
    """A matter the caller may see (its owner or grid inside the jurisdiction, or reported by the
    caller); 404 otherwise."""
    matter = repository.get_matter(session, matter_id, principal, for_update=for_update)
    if matter is None:
        raise _not_found()
    return matter


def _type_name(session: Session, matter: Matter, lang: str | None = None) -> str:
    t = repository.type_by_id(session, matter.type_id)
    return pick(t.name_zh, t.name_en, lang) if t else matter.type_code


_NAMED = ("type_name", "grid_name", "division_name")  # looked up, not columns of the matter
_READ_FIELDS = tuple(name for name in MatterRead.model_fields if name not in _NAMED)


def _read_values(matter: Matter, principal: Principal) -> dict[str, Any]:
    """The matter's fields as a queue row shows them, but the type name. The reporter's name and
    phone go in clear: the schema's masked types serialise them masked, for every caller. A row
    the caller sees only as its reporter (``reported_by_me`` outside the jurisdiction) carries no
    personal data and no evaluation."""
    values: dict[str, Any] = {name: getattr(matter, name) for name in _READ_FIELDS}
    if not in_full_view(principal, matter):
        values.update(reporter_name=None, reporter_phone=None, evaluation_note=None)
    return values


def to_read(session: Session, matter: Matter, principal: Principal) -> MatterRead:
    """A queue row; the reporter's name and phone always masked (a reveal is its own call)."""
    return MatterRead(**_read_values(matter, principal), type_name=_type_name(session, matter))


def with_names(session: Session, rows: list[MatterRead]) -> list[MatterRead]:
    """Queue rows with their grid and owning division named (two queries for the page)."""
    divisions = geo.names_of(session, {r.division_code for r in rows})
    grids = geo.grid_names_of(session, {r.grid_code for r in rows})
    for row in rows:
        row.grid_name = grids.get(row.grid_code)
        row.division_name = divisions.get(row.division_code)
    return rows


def detail(session: Session, principal: Principal, matter_id: str) -> MatterDetail | MatterPublic:
    """A matter with its timeline, photos, duplicate candidates (for those who may accept it),
    supervision orders and the actions the caller may take now; its public view for a reporter
    outside the jurisdiction (:func:`in_full_view`)."""
    matter = get(session, principal, matter_id)
    if not in_full_view(principal, matter):
        return public_view(session, matter)
    return _full_detail(session, principal, matter)


def full_detail(session: Session, principal: Principal, matter_id: str) -> MatterDetail:
    """:func:`detail` for a caller who acts on the matter (404 for one who only reported it)."""
    matter = get(session, principal, matter_id)
    if not in_full_view(principal, matter):
        raise _not_found()
    return _full_detail(session, principal, matter)


def _full_detail(session: Session, principal: Principal, matter: Matter) -> MatterDetail:
    timeline = repository.timeline_of(session, matter.id, principal)
    actors = people.actor_labels(session, [e.actor_id for e in timeline if e.actor_id])
    events = [TimelineRead(seq=e.seq, action=e.action, from_status=e.from_status, to_status=e.to_status,
                           actor_name=e.actor_name, actor_role=e.actor_role,
                           actor_display_name=actors.get(e.actor_id or "", (None, None))[0],
                           actor_unit_name=actors.get(e.actor_id or "", (None, None))[1], at=e.at, note=e.note,
                           lng=e.lng, lat=e.lat, division_code=e.division_code,
                           data=json.loads(e.data) if e.data else None)
              for e in timeline]
    photos = [photo_read(p, f) for p, f in repository.photos_of(session, matter.id, principal)]
    duplicates = _duplicates(session, principal, matter)
    supervision = repository.supervision_orders(session, matter.id, principal)
    names = geo.names_of(session, {matter.division_code} | {o.issuer_division_code for o in supervision})
    orders = [SupervisionRead(id=o.id, issuer_division_code=o.issuer_division_code,
                              issuer_division_name=names.get(o.issuer_division_code), note=o.note, due_at=o.due_at,
                              status=o.status, answer=o.answer, created_at=o.created_at, answered_at=o.answered_at)
              for o in supervision]
    values = _read_values(matter, principal)
    values.update(grid_name=geo.name_of(session, matter.grid_code), division_name=names.get(matter.division_code))
    return MatterDetail(**values, type_name=_type_name(session, matter), timeline=events,
                        photos=photos, duplicates=duplicates, verifier=_verifier(session, matter),
                        supervision=orders, allowed_actions=wf.allowed_actions(matter, principal))


def _verifier(session: Session, matter: Matter) -> VerifierRead | None:
    """Who verifies a handled matter by default (named people: display names, never logins)."""
    if matter.status != wf.S.HANDLED:
        return None
    kind, people_named = wf.default_verifier(session, matter)
    return VerifierRead(kind=str(kind), names=[u.display_name for u in people_named])


def _duplicates(session: Session, principal: Principal, matter: Matter) -> list[DuplicateRead]:
    """The matter's duplicate candidates, for the owning unit's acceptors (``matters.handle`` in
    the owning unit) and only those candidates the caller may see (a candidate moved out of
    reach by an escalation is left out, never named)."""
    if not (principal.can("matters.handle") and wf.is_owner_unit(matter, principal)):
        return []
    links = repository.duplicates_of(session, matter.id, principal)
    numbers = repository.numbers_of(session, [d.candidate_id for d in links], principal)
    return [DuplicateRead(candidate_id=d.candidate_id, candidate_number=numbers[d.candidate_id],
                          distance_m=d.distance_m, decision=d.decision) for d in links if d.candidate_id in numbers]


@dataclass(frozen=True)
class Page:
    items: list[Matter]
    total: int


def matter_filter(*, status: str | None = None, overdue: bool | None = None, q: str | None = None,
                  unit: str | None = None, type_code: str | None = None, category: str | None = None,
                  channel: str | None = None, reported_from: date | None = None, reported_to: date | None = None,
                  flags: Sequence[str] = (), place: str | None = None) -> repository.MatterFilter:
    """A queue's filters from the request, checked (dates are local days, both ends included; a
    search that reads as a phone number also matches the reporter's phone by its keyed hash)."""
    if status is not None and status not in [str(s) for s in wf.MatterStatus]:
        raise Invalid(f"未知状态：{status}", f"Unknown status: {status}", details={"field": "status"})
    unknown = sorted(set(flags) - set(FLAGS))
    if unknown:
        raise Invalid(f"未知标记：{'、'.join(unknown)}", f"Unknown flags: {', '.join(unknown)}",
                      details={"field": "flags"})
    if unit is not None and (not unit.isdigit() or len(unit) not in (4, 6, 9, 12, 15)):
        raise Invalid("责任单位应为区划代码", "unit must be a division code", details={"field": "unit"})
    if place is not None and (not place.isdigit() or len(place) not in (12, 15)):
        raise Invalid("所在地应为区划或网格编码", "place must be a division or grid code", details={"field": "place"})
    words = (q or "").strip() or None
    hashes: tuple[str, ...] = ()
    if words and sum(ch.isdigit() for ch in words) >= 7:
        try:
            hashes = lookup_hashes(pii.normalize_phone(words), REPORTER_PHONE_CONTEXT)
        except Invalid:
            hashes = ()
    return repository.MatterFilter(
        status=status, overdue=overdue, q=words, phone_hashes=hashes,
        unit=jurisdiction_prefix(unit) if unit else None, place=jurisdiction_prefix(place) if place else None,
        type_code=type_code or None, category=category or None,
        channel=channel or None, reported_from=_local_midnight(reported_from),
        reported_before=_local_midnight(reported_to + timedelta(days=1)) if reported_to else None,
        flags=frozenset(flags))


def _local_midnight(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=CHINA_TZ).astimezone(UTC) if day else None


def list_matters(session: Session, principal: Principal, *, queue: str = "mine", status: str | None = None,
                 overdue: bool | None = None, offset: int = 0, limit: int = 50,
                 filters: repository.MatterFilter | None = None) -> Page:
    """A work queue (see :func:`repository.list_matters`): ``mine`` is what the caller's unit owns
    and must still act on, ``done`` what it finished, ``division`` everything the caller may see,
    ``reported_by_me`` the caller's own reports."""
    if queue not in QUEUES:
        raise Invalid("queue 应为 mine/done/division/reported_by_me",
                      "queue must be mine, done, division or reported_by_me", details={"field": "queue"})
    f = filters or matter_filter(status=status, overdue=overdue)
    owner = principal.division_code if wf.principal_level(principal) else None
    queue = _effective_queue(principal, queue, owner)
    items, total = repository.list_matters(session, principal, queue=queue, owner_prefix=owner, filters=f,
                                           open_statuses=OPEN_STATUSES, finished_statuses=FINISHED_STATUSES,
                                           verify_status=wf.S.HANDLED, handling_actions=wf.HANDLING,
                                           offset=max(offset, 0), limit=min(max(limit, 1), 200))
    return Page(items, total)


def _effective_queue(principal: Principal, queue: str, owner: str | None) -> str:
    """A grid worker or volunteer owns nothing: their queue is their reports — and a grid worker's
    待办 also holds the handled matters of their grid they verify on site (GB/T 30428)."""
    if queue in ("mine", "done") and owner is None:
        if queue == "mine" and len(principal.jurisdiction) == 15 and principal.can("matters.verify"):
            return "grid_mine"
        return "reported_by_me"
    return queue


EXPORT_MAX_ROWS = 20_000

EXPORT_COLUMNS = (
    Column("number", "事项编号", "Number", 22), Column("type_name", "事项类型", "Type", 18),
    Column("title", "标题", "Title", 30), Column("status", "状态", "Status", labels=labels.STATUS_ZH),
    Column("owner_level", "责任层级", "Owner level", labels=labels.LEVEL_ZH),
    Column("division_name", "责任单位", "Owning unit", 20),
    Column("department", "责任部门", "Department", 18), Column("grid_name", "所属网格", "Grid", 18),
    Column("address", "地址", "Address", 24), Column("channel", "来源渠道", "Channel", labels=labels.CHANNEL_ZH),
    Column("reported_at", "上报时间", "Reported at", 18, "yyyy-mm-dd hh:mm"),
    Column("step_due_at", "当前时限", "Current deadline", 18, "yyyy-mm-dd hh:mm"),
    Column("alert", "预警", "Alert", labels=labels.ALERT_ZH), Column("overdue", "曾超时", "Ever overdue"),
    Column("escalations", "上报次数", "Escalations"), Column("rework_count", "返工次数", "Reworks"),
    Column("closed_at", "办结时间", "Closed at", 18, "yyyy-mm-dd hh:mm"),
    Column("settled_level", "化解层级", "Settled level", labels=labels.LEVEL_ZH),
    Column("satisfaction", "满意度", "Satisfaction"),
    Column("reporter_name", "上报人（脱敏）", "Reporter (masked)", 12),
    Column("reporter_phone", "联系电话（脱敏）", "Phone (masked)", 16),
    # The codes behind the words above, hidden (for re-import and for machines).
    Column("type_code", "事项类型代码", "Type code", hidden=True),
    Column("status", "状态代码", "Status code", hidden=True),
    Column("owner_level", "责任层级代码", "Owner level code", hidden=True),
    Column("division_code", "责任单位代码", "Owning unit code", hidden=True),
    Column("grid_code", "网格编码", "Grid code", hidden=True),
    Column("channel", "来源渠道代码", "Channel code", hidden=True),
    Column("settled_level", "化解层级代码", "Settled level code", hidden=True),
)


def export_xlsx(session: Session, principal: Principal, *, queue: str = "division", status: str | None = None,
                overdue: bool | None = None, filters: repository.MatterFilter | None = None) -> tuple[bytes, int]:
    """The queue as an Excel workbook (zh and en headers) and its row count. Names and phone
    numbers are masked (the schema's masked types): a bulk export is never a reveal, whatever
    the caller's permissions."""
    f = filters or matter_filter(status=status, overdue=overdue)
    page = list_matters(session, principal, queue=queue, filters=f, limit=1)
    if page.total > EXPORT_MAX_ROWS:
        raise Invalid(f"导出条数 {page.total} 超过上限 {EXPORT_MAX_ROWS}，请缩小范围（按状态或是否超时筛选）",
                      f"{page.total} rows exceed the export limit of {EXPORT_MAX_ROWS}: narrow the filters",
                      details={"field": "queue"})
    owner = principal.division_code if wf.principal_level(principal) else None
    effective = _effective_queue(principal, queue, owner)
    items, _ = repository.list_matters(session, principal, queue=effective, owner_prefix=owner, filters=f,
                                       open_statuses=OPEN_STATUSES, finished_statuses=FINISHED_STATUSES,
                                       verify_status=wf.S.HANDLED, handling_actions=wf.HANDLING,
                                       offset=0, limit=EXPORT_MAX_ROWS)
    rows = [row.model_dump() for row in with_names(session, [to_read(session, m, principal) for m in items])]
    return write_xlsx(EXPORT_COLUMNS, rows, sheet="事项 Matters"), len(rows)


# ---------------------------------------------------------------- personal data: reveal and print

REVEALABLE = frozenset({"reporter_name", "reporter_phone"})
reveal.register(reveal.Revealable("matter", "matters", get, REVEALABLE))


def reveal_field(session: Session, principal: Principal, matter_id: str, field: str, purpose: str) -> str | None:
    """The reporter's name or phone in clear, through the audited reveal (``pii.reveal``, the
    matter in the caller's view, a stated purpose; one audit entry)."""
    return reveal.reveal(session, principal, "matter", matter_id, field, purpose)


def print_report_sheet(session: Session, principal: Principal, matter_id: str, purpose: str) -> tuple[str, str]:
    """The matter's report sheet (事项登记表) as a printable HTML page with the reporter in clear
    and the viewer's watermark, and the matter's number. Printing is a reveal: one audit entry."""
    def build(matter: Matter, clear: dict[str, str | None]) -> Document:
        events = repository.timeline_of(session, matter.id, principal)
        owner = geo.name_of(session, matter.division_code) or matter.division_code
        return report_sheet.document(matter, clear, type_name=_type_name(session, matter, "zh-CN"),
                                     owner_name=owner, events=events, purpose=" ".join(purpose.split()))

    page, document = reveal.print_document(session, principal, "matter", matter_id, sorted(REVEALABLE), purpose,
                                           build)
    return page, document.reference


# ---------------------------------------------------------------- the closed loop


def act(session: Session, principal: Principal, matter_id: str, action: str, *, note: str | None = None,
        lng: float | None = None, lat: float | None = None, **data: Any) -> Matter:
    """Perform a workflow action (see :mod:`civicgrid.matters.workflow`). 404 when the caller
    cannot see the matter; 409 listing the allowed actions when the action is not allowed now
    or not for this caller; 422 naming the field when the action's data is wrong."""
    if action == "correct_place":  # it may move the matter out of the caller's view: its own request
        raise Invalid("更正位置请使用 POST /api/v1/matters/{id}/place", "Correct a place with POST "
                      "/api/v1/matters/{id}/place", details={"field": "action"})
    matter = get(session, principal, matter_id, for_update=True)
    if not wf.reach(matter, principal):
        # Visible through its grid, but owned outside the caller's jurisdiction.
        raise InvalidTransition("您不能处理本事项", "You may not act on this matter", [])
    # The action's payload schema (the transition table's) checks ``data``; an action without
    # one takes none, so stray body fields never reach the timeline.
    payload = data if wf.MATTER_WORKFLOW.schema_of(action) is not None else None
    wf.MATTER_WORKFLOW.transition(session, matter, action, principal, note=note, lng=lng, lat=lat, data=payload)
    session.flush()
    return matter


# ---------------------------------------------------------------- the reporter's own report


def my_report(session: Session, principal: Principal, matter_id: str, lang: str | None = None) -> MyReport:
    """A report as its reporter follows it: its public view, the rating given, and whether the
    caller may still rate it (满意度) or withdraw it (撤回) — both only ever true for the person
    who reported it (the transition table's guards). 404 outside the caller's view."""
    matter = get(session, principal, matter_id)
    allowed = wf.allowed_actions(matter, principal)
    until = wf.withdraw_until(matter)
    return MyReport(**public_view(session, matter, lang).model_dump(), satisfaction=matter.satisfaction,
                    can_rate="evaluate" in allowed, can_withdraw="withdraw" in allowed,
                    withdraw_until=until if matter.status == wf.S.REPORTED else None)


def rate(session: Session, principal: Principal, matter_id: str, satisfaction: int, note: str | None) -> Matter:
    """满意度 from the reporter of a closed matter (the ``evaluate`` transition, whose guard
    refuses anyone else)."""
    return _own(session, principal, matter_id, "evaluate", note, {"satisfaction": satisfaction})


def withdraw(session: Session, principal: Principal, matter_id: str, note: str | None) -> Matter:
    """撤回: the reporter takes the report back within the configured minutes of reporting."""
    return _own(session, principal, matter_id, "withdraw", note, None)


def _own(session: Session, principal: Principal, matter_id: str, action: str, note: str | None,
         data: dict[str, Any] | None) -> Matter:
    matter = get(session, principal, matter_id, for_update=True)
    wf.MATTER_WORKFLOW.transition(session, matter, action, principal, note=note, data=data)
    session.flush()
    return matter


def correct_place(session: Session, principal: Principal, matter_id: str, *, lng: float, lat: float,
                  address: str | None, reason: str) -> PlaceCorrected:
    """更正位置: the matter re-routed from the corrected point (new grid → new owning unit, a fresh
    acceptance), the reason and the old and new places on the timeline."""
    matter = get(session, principal, matter_id, for_update=True)
    data: dict[str, Any] = {"lng": lng, "lat": lat, **({"address": address} if address else {})}
    wf.MATTER_WORKFLOW.transition(session, matter, "correct_place", principal, note=reason, lng=lng, lat=lat,
                                  data=data)
    session.flush()
    names = geo.names_of(session, {matter.division_code})
    return PlaceCorrected(id=matter.id, number=matter.number, status=str(matter.status), grid_code=matter.grid_code,
                          grid_name=geo.name_of(session, matter.grid_code), division_code=matter.division_code,
                          division_name=names.get(matter.division_code), owner_level=matter.owner_level,
                          address=matter.address, visible=in_full_view(principal, matter))


# ---------------------------------------------------------------- photos

# A matter's files are readable by whoever may see the matter (its reporter too), wherever the
# matter has moved since: the file store asks this rule, not the division the photo was filed under.
files.register_owner("matter", repository.visible_ids)


def photo_read(photo: MatterPhoto, stored: StoredFile) -> PhotoRead:
    """A photo as the API shows it: the stage, the stored file's type, size and hash, and the
    address of its bytes in the file store."""
    return PhotoRead(id=photo.id, stage=photo.stage, file_id=stored.id, content_type=stored.content_type,
                     size=stored.size, sha256=stored.sha256, created_at=photo.created_at,
                     url=f"/api/v1/files/{stored.id}")


def add_photo(session: Session, principal: Principal, matter_id: str, stage: str, content: bytes,
              file_name: str | None = None) -> PhotoRead:
    """Attach a photo: ``report`` photos by the reporter or the owner unit, ``result`` photos by
    the owner unit, ``verify`` photos (核查照片) by whoever may verify the matter now. Stored in
    the file store (kind ``photo``): not a JPEG/PNG/WebP by its bytes → 415; over
    ``CIVICGRID_MATTER_PHOTO_MAX_BYTES`` → 413."""
    matter = get(session, principal, matter_id)
    if stage not in ("report", "result", "verify"):
        raise Invalid("stage 应为 report、result 或 verify", "stage must be report, result or verify",
                      details={"field": "stage"})
    if stage == "verify" and "verify" not in wf.allowed_actions(matter, principal):
        raise PermissionDenied("matters.verify")  # the verifier's on-site photo (核查照片)
    is_reporter = bool(principal.user_id) and matter.reporter_id == principal.user_id
    if stage == "report" and not (is_reporter or wf.is_owner_unit(matter, principal)):
        raise PermissionDenied("matters.report")
    on_spot = matter.status == wf.S.REPORTED and wf.is_grid_worker_of(matter, principal)  # 就地办结's photo
    if stage == "result" and not (principal.can("matters.handle")
                                  and (wf.is_owner_unit(matter, principal) or on_spot)):
        raise PermissionDenied("matters.handle")
    stored = files.store(session, principal, owner_type="matter", owner_id=matter.id,
                         division_code=matter.division_code, kind="photo", content=content, file_name=file_name,
                         max_bytes=settings().photo_max_bytes)
    photo = MatterPhoto(matter_id=matter.id, division_code=matter.division_code, stage=stage, file_id=stored.id,
                        created_at=utcnow())
    session.add(photo)
    session.flush()
    return photo_read(photo, stored)


def get_photo(session: Session, principal: Principal, matter_id: str, photo_id: str) -> MatterPhoto:
    """A photo of a matter the caller may see; 404 otherwise (its bytes: ``files.open_file``)."""
    matter = get(session, principal, matter_id)
    photo = repository.photo(session, matter.id, photo_id, principal)
    if photo is None:
        raise NotFound("照片", "photo")
    return photo


def hotline_extension_requests(session: Session, principal: Principal, limit: int = 100) -> list[HotlineExtensionRead]:
    """延期申请 on 12345 matters in the caller's view, for the 12345 desk (issue 11 §2): who asked,
    for how many working days, why and when."""
    rows = repository.hotline_extension_requests(session, principal, hotline=wf.HOTLINE,
                                                 open_statuses=OPEN_STATUSES, limit=min(max(limit, 1), 200))
    asked: dict[str, Any] = {}
    for event in repository.notes_of(session, [m.id for m in rows], ["request_extension"]):
        asked[event.entity_id] = event  # oldest first: the latest request wins
    names = geo.names_of(session, {m.division_code for m in rows})
    return [HotlineExtensionRead(id=m.id, number=m.number, title=m.title, external_ref=m.external_ref,
                                 division_name=names.get(m.division_code), days=int(m.extension_days or 0),
                                 reason=asked[m.id].note if m.id in asked else None,
                                 asked_at=asked[m.id].at if m.id in asked else None, step_due_at=m.step_due_at)
            for m in rows]
