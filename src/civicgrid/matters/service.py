"""Rules of reported matters: intake and routing, duplicates, photos, the closed loop, queues.

Other modules (figures, Open311, the demo generator, the web pages) call these functions;
they flush and never commit (the request or the caller's ``transaction()`` does).

Routing reads only the catalogue and the location: the point is snapped to its grid, and the
owner is the unit of the type's owning level whose territory holds the grid (village = the
grid's first 12 digits, township, county, city).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.geo import service as geo
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, Invalid, NotFound, PermissionDenied
from civicgrid.kit.excel import Column, write_xlsx
from civicgrid.kit.i18n import pick
from civicgrid.kit.printing import Document
from civicgrid.matters import intake, report_sheet, repository
from civicgrid.matters import workflow as wf
from civicgrid.matters.models import Matter, MatterPhoto
from civicgrid.matters.schemas import (
    DuplicateRead,
    MatterCreate,
    MatterDetail,
    MatterPublic,
    MatterRead,
    PhotoRead,
    PublicNote,
    SupervisionRead,
    TimelineRead,
)
from civicgrid.reveal import service as reveal
from civicgrid.workflow.engine import InvalidTransition

QUEUES = ("mine", "division", "reported_by_me")

# Timeline actions whose note is written for the person who reported (a reason for rejecting,
# the result of the handling, the closing remark). Dispatch instructions, escalation reasons,
# supervision orders and the like are internal and never reach the public view.
PUBLIC_NOTE_ACTIONS = ("accept", "reject", "cancel", "resolve", "close", "merge")


class MatterSettings(BaseSettings):
    """Options of the matters module (``CIVICGRID_MATTER_*``)."""

    model_config = SettingsConfigDict(env_prefix="CIVICGRID_MATTER_", extra="ignore")

    photo_max_bytes: int = 5 * 1024 * 1024
    intake_group_commit: bool = True
    """Commit reports that arrive together in one transaction (``false``: one each)."""


@lru_cache(maxsize=1)
def settings() -> MatterSettings:
    """Read once per process (the environment does not change under a running server)."""
    return MatterSettings()


def _not_found() -> NotFound:
    return NotFound("事项", "matter")


# ---------------------------------------------------------------- intake


def report(session: Session, principal: Principal, data: MatterCreate, *,
           idempotency_key: str | None = None) -> tuple[Matter, bool]:
    """Record a reported matter and route it in the caller's transaction; ``(matter, created)``.

    With an ``idempotency_key`` a retry returns the matter the first request created
    (``created`` False), also when two requests race: the unique key decides, the loser returns
    the winner's matter. Unknown type → 422 on ``type_code``; a point outside every grid of the
    city → 422 on ``lng``; a bad hotline phone → 422 on ``reporter_phone``
    (:mod:`civicgrid.matters.intake`). Written through the ORM and the kit's
    ``Workflow.start`` (:func:`intake.start_one`); the API's group commit inserts the same rows
    in batches.
    """
    written = intake.start_one(session, intake.prepare(session, principal, data, idempotency_key))
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


_READ_FIELDS = tuple(name for name in MatterRead.model_fields if name != "type_name")


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
    events = [TimelineRead(seq=e.seq, action=e.action, from_status=e.from_status, to_status=e.to_status,
                           actor_name=e.actor_name, actor_role=e.actor_role, at=e.at, note=e.note, lng=e.lng,
                           lat=e.lat, division_code=e.division_code, data=json.loads(e.data) if e.data else None)
              for e in repository.timeline_of(session, matter.id, principal)]
    photos = [PhotoRead(id=p.id, stage=p.stage, content_type=p.content_type, size=p.size, sha256=p.sha256,
                        created_at=p.created_at, url=f"/api/v1/matters/{matter.id}/photos/{p.id}")
              for p in repository.photos_of(session, matter.id, principal)]
    duplicates = _duplicates(session, principal, matter)
    orders = [SupervisionRead(id=o.id, issuer_division_code=o.issuer_division_code, note=o.note, due_at=o.due_at,
                              status=o.status, answer=o.answer, created_at=o.created_at, answered_at=o.answered_at)
              for o in repository.supervision_orders(session, matter.id, principal)]
    return MatterDetail(**_read_values(matter, principal), type_name=_type_name(session, matter), timeline=events,
                        photos=photos, duplicates=duplicates,
                        supervision=orders, allowed_actions=wf.allowed_actions(matter, principal))


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


def list_matters(session: Session, principal: Principal, *, queue: str = "mine", status: str | None = None,
                 overdue: bool | None = None, offset: int = 0, limit: int = 50) -> Page:
    """A work queue (see :func:`repository.list_matters`): ``mine`` is what the caller's unit owns,
    ``division`` everything the caller may see, ``reported_by_me`` the caller's own reports."""
    if queue not in QUEUES:
        raise Invalid("queue 应为 mine/division/reported_by_me", "queue must be mine, division or reported_by_me",
                      details={"field": "queue"})
    if status is not None and status not in [str(s) for s in wf.MatterStatus]:
        raise Invalid(f"未知状态：{status}", f"Unknown status: {status}", details={"field": "status"})
    owner = principal.division_code if wf.principal_level(principal) else None
    if queue == "mine" and owner is None:
        queue = "reported_by_me"  # a grid worker or volunteer owns nothing: their queue is their reports
    items, total = repository.list_matters(session, principal, queue=queue, owner_prefix=owner, status=status,
                                           overdue=overdue, offset=max(offset, 0), limit=min(max(limit, 1), 200))
    return Page(items, total)


EXPORT_MAX_ROWS = 20_000

EXPORT_COLUMNS = (
    Column("number", "事项编号", "Number", 22), Column("type_name", "事项类型", "Type", 18),
    Column("title", "标题", "Title", 30), Column("status", "状态", "Status"),
    Column("owner_level", "责任层级", "Owner level"), Column("division_name", "责任单位", "Owning unit", 20),
    Column("department", "责任部门", "Department", 18), Column("grid_code", "网格编码", "Grid code", 18),
    Column("address", "地址", "Address", 24), Column("channel", "来源渠道", "Channel"),
    Column("reported_at", "上报时间", "Reported at", 18, "yyyy-mm-dd hh:mm"),
    Column("step_due_at", "当前时限", "Current deadline", 18, "yyyy-mm-dd hh:mm"),
    Column("alert", "预警", "Alert"), Column("overdue", "曾超时", "Ever overdue"),
    Column("escalations", "上报次数", "Escalations"), Column("rework_count", "返工次数", "Reworks"),
    Column("closed_at", "办结时间", "Closed at", 18, "yyyy-mm-dd hh:mm"),
    Column("settled_level", "化解层级", "Settled level"), Column("satisfaction", "满意度", "Satisfaction"),
    Column("reporter_name", "上报人（脱敏）", "Reporter (masked)", 12),
    Column("reporter_phone", "联系电话（脱敏）", "Phone (masked)", 16),
)


def export_xlsx(session: Session, principal: Principal, *, queue: str = "division", status: str | None = None,
                overdue: bool | None = None) -> tuple[bytes, int]:
    """The queue as an Excel workbook (zh and en headers) and its row count. Names and phone
    numbers are masked (the schema's masked types): a bulk export is never a reveal, whatever
    the caller's permissions."""
    page = list_matters(session, principal, queue=queue, status=status, overdue=overdue, limit=1)
    if page.total > EXPORT_MAX_ROWS:
        raise Invalid(f"导出条数 {page.total} 超过上限 {EXPORT_MAX_ROWS}，请缩小范围（按状态或是否超时筛选）",
                      f"{page.total} rows exceed the export limit of {EXPORT_MAX_ROWS}: narrow the filters",
                      details={"field": "queue"})
    owner = principal.division_code if wf.principal_level(principal) else None
    effective = "reported_by_me" if queue == "mine" and owner is None else queue
    items, _ = repository.list_matters(session, principal, queue=effective, owner_prefix=owner, status=status,
                                       overdue=overdue, offset=0, limit=EXPORT_MAX_ROWS)
    names = geo.names_of(session, {m.division_code for m in items})
    rows = []
    for matter in items:
        row = to_read(session, matter, principal).model_dump()
        row["division_name"] = names.get(matter.division_code, matter.division_code)
        rows.append(row)
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
    matter = get(session, principal, matter_id, for_update=True)
    if not principal.governs(matter.division_code):
        # Visible through its grid or as its reporter, but owned outside the caller's jurisdiction.
        raise InvalidTransition("您不能处理本事项", "You may not act on this matter", [])
    # The action's payload schema (the transition table's) checks ``data``; an action without
    # one takes none, so stray body fields never reach the timeline.
    payload = data if wf.MATTER_WORKFLOW.schema_of(action) is not None else None
    wf.MATTER_WORKFLOW.transition(session, matter, action, principal, note=note, lng=lng, lat=lat, data=payload)
    session.flush()
    return matter


# ---------------------------------------------------------------- photos

_SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    ("image/jpeg", b"\xff\xd8\xff", 0),
    ("image/png", b"\x89PNG\r\n\x1a\n", 0),
)


def sniff_image(content: bytes) -> str | None:
    """The image type by magic bytes (JPEG, PNG, WebP); None for anything else."""
    for content_type, magic, offset in _SIGNATURES:
        if content[offset:offset + len(magic)] == magic:
            return content_type
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


def add_photo(session: Session, principal: Principal, matter_id: str, stage: str, content: bytes) -> MatterPhoto:
    """Attach a photo: ``report`` photos by the reporter or the owner unit, ``result`` photos by
    the owner unit. Not an image → 415; over the limit → 413."""
    matter = get(session, principal, matter_id)
    if stage not in ("report", "result"):
        raise Invalid("stage 应为 report 或 result", "stage must be report or result", details={"field": "stage"})
    is_reporter = bool(principal.user_id) and matter.reporter_id == principal.user_id
    if stage == "report" and not (is_reporter or wf.is_owner_unit(matter, principal)):
        raise PermissionDenied("matters.report")
    if stage == "result" and not (principal.can("matters.handle") and wf.is_owner_unit(matter, principal)):
        raise PermissionDenied("matters.handle")
    limit = settings().photo_max_bytes
    if len(content) > limit:
        mb = limit // (1024 * 1024)
        raise AppError(f"照片过大（上限 {mb} MB）", f"Photo too large (limit {mb} MB)",
                       status=413, code="payload_too_large")
    content_type = sniff_image(content)
    if content_type is None:
        raise AppError("只接受 JPEG、PNG 或 WebP 图片", "Only JPEG, PNG or WebP images are accepted",
                       status=415, code="unsupported_media_type")
    photo = MatterPhoto(matter_id=matter.id, division_code=matter.division_code, stage=stage,
                        content_type=content_type, size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                        data=content, created_at=utcnow())
    session.add(photo)
    session.flush()
    return photo


def get_photo(session: Session, principal: Principal, matter_id: str, photo_id: str) -> MatterPhoto:
    """A photo of a matter the caller may see; 404 otherwise."""
    matter = get(session, principal, matter_id)
    photo = repository.photo(session, matter.id, photo_id, principal)
    if photo is None:
        raise NotFound("照片", "photo")
    return photo
