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
import math
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from civicgrid.geo import service as geo
from civicgrid.kit import pii
from civicgrid.kit.clock import CHINA_TZ, utcnow
from civicgrid.kit.errors import AppError, Invalid, NotFound, PermissionDenied
from civicgrid.kit.excel import Column, write_xlsx
from civicgrid.kit.i18n import pick
from civicgrid.kit.principal import Principal
from civicgrid.matters import catalogue, repository
from civicgrid.matters import workflow as wf
from civicgrid.matters.models import DuplicateCandidate, Matter, MatterPhoto, MatterType
from civicgrid.matters.schemas import (
    DuplicateRead,
    MatterCreate,
    MatterDetail,
    MatterRead,
    PhotoRead,
    SupervisionRead,
    TimelineRead,
)
from civicgrid.workflow.engine import InvalidTransition, Step, timeline
from civicgrid.workflow.models import TimelineEvent

DUPLICATE_RADIUS_M = 200.0
MAX_DUPLICATE_LINKS = 5
DUPLICATE_WINDOW = timedelta(hours=24)
PHONE_CONTEXT = "matters.reporter_phone"
NUMBER_PREFIX = "YZ"
QUEUES = ("mine", "division", "reported_by_me")


class MatterSettings(BaseSettings):
    """Options of the matters module (``CIVICGRID_MATTER_*``)."""

    model_config = SettingsConfigDict(env_prefix="CIVICGRID_MATTER_", extra="ignore")

    photo_max_bytes: int = 5 * 1024 * 1024


def settings() -> MatterSettings:
    return MatterSettings()


def _not_found() -> NotFound:
    return NotFound("事项", "matter")


# ---------------------------------------------------------------- intake


def _distance_m(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


def _scoped_key(principal: Principal, key: str) -> str:
    """Keys are the client's: two users may pick the same one, so it is stored per user."""
    key = key.strip()
    if not key or len(key) > 64:
        raise Invalid("Idempotency-Key 应为 1–64 个字符", "Idempotency-Key must be 1 to 64 characters",
                      details={"field": "Idempotency-Key"})
    return f"{principal.user_id}:{key}"


def report(session: Session, principal: Principal, data: MatterCreate, *,
           idempotency_key: str | None = None) -> tuple[Matter, bool]:
    """Record a reported matter and route it; ``(matter, created)``.

    With an ``idempotency_key`` a retry returns the matter the first request created
    (``created`` False), also when two requests race: the unique key decides, the loser returns
    the winner's matter. Unknown type → 422 on ``type_code``; a point outside every grid of the
    city → 422 on ``lng``; a bad hotline phone → 422 on ``reporter_phone``.
    """
    key = _scoped_key(principal, idempotency_key) if idempotency_key is not None else None
    if key is not None:
        existing = repository.by_idempotency_key(session, key)
        if existing is not None:
            return existing, False
    matter_type = catalogue.type_for_intake(session, data.type_code)
    grid = geo.locate_code(session, data.lng, data.lat)
    if grid is None:
        raise Invalid("上报位置不在本市范围内（请确认定位）",
                      "The reported location is outside the city (check the position)", details={"field": "lng"})
    phone = phone_hash = None
    if data.reporter_phone:
        try:
            normalized = pii.normalize_phone(data.reporter_phone)
        except Invalid as exc:
            raise Invalid(exc.zh, exc.en, details={"field": "reporter_phone"}) from None
        cipher = pii.get_cipher()
        phone, phone_hash = cipher.encrypt(normalized, PHONE_CONTEXT), cipher.lookup_hash(normalized, PHONE_CONTEXT)
    try:
        with session.begin_nested():
            matter = _insert(session, principal, data, matter_type, grid, key, phone, phone_hash)
    except IntegrityError:
        if key is None:
            raise
        # Another request with the same key committed first: return its matter.
        existing = repository.by_idempotency_key(session, key)
        if existing is None:
            raise
        return existing, False
    _link_duplicates(session, matter)
    from civicgrid.realtime import hub

    hub.publish(session, channel=f"entity:matter:{matter.id}", event="matter.reported",
                data={"id": matter.id, "number": matter.number, "status": matter.status,
                      "owner": matter.division_code, "owner_level": matter.owner_level, "type": matter.type_code},
                division_code=matter.division_code)
    return matter, True


def _insert(session: Session, principal: Principal, data: MatterCreate, matter_type: MatterType, grid: str,
            key: str | None, phone: str | None, phone_hash: str | None) -> Matter:
    now = utcnow()
    day = now.astimezone(CHINA_TZ).strftime("%Y%m%d")
    number = f"{NUMBER_PREFIX}-{day}-{repository.next_number(session, day):06d}"
    owner = wf.owner_code(grid, matter_type.owner_level)
    matter = Matter(
        number=number, type_id=matter_type.id, type_code=matter_type.code, catalogue_version=matter_type.version,
        title=data.title.strip(), description=data.description.strip(), channel=data.channel,
        reporter_id=principal.user_id or None, reporter_name=data.reporter_name, reporter_phone=phone,
        reporter_phone_hash=phone_hash, address=data.address, lng=data.lng, lat=data.lat, grid_code=grid,
        division_code=owner, reported_division_code=owner, owner_level=matter_type.owner_level,
        department=matter_type.department, status=wf.MatterStatus.REPORTED.value, status_changed_at=now,
        reported_at=now, alert="none", overdue=False, escalations=0, rework_count=0, supervised=False,
        idempotency_key=key)
    session.add(matter)
    session.flush()
    wf.start_step(session, matter, "accept", now)
    _log_intake(session, matter, principal)
    step = Step(action="report", principal=principal, at=now, source="", target=matter.status)
    from civicgrid.timers import service as timers

    for deadline in wf.step_deadlines(matter, step):
        timers.arm(session, kind=deadline.kind, key=wf.MATTER_WORKFLOW.timer_key(matter, deadline.name),
                   due_at=deadline.due_at, ref_type="matter", ref_id=matter.id, division_code=matter.division_code,
                   payload=deadline.payload)
    session.flush()
    return matter


def _log_intake(session: Session, matter: Matter, principal: Principal) -> None:
    """The first line of the timeline: who reported, when, where (the kit writes the rest)."""
    session.add(TimelineEvent(
        entity_type="matter", entity_id=matter.id, seq=1, action="report", from_status=None, to_status=matter.status,
        actor_id=principal.user_id or None, actor_name=principal.username, actor_role=principal.role,
        at=matter.reported_at, note=matter.description[:2000] or None, lng=matter.lng, lat=matter.lat,
        division_code=matter.division_code,
        data=json.dumps({"channel": matter.channel, "grid": matter.grid_code, "owner_level": matter.owner_level},
                        ensure_ascii=False, sort_keys=True)))


def _link_duplicates(session: Session, matter: Matter) -> None:
    """Same type within 200 m and 24 h: candidates for the acceptor to merge or keep (the nearest
    :data:`MAX_DUPLICATE_LINKS`, so a cluster of reports never grows a link per pair)."""
    dlat = DUPLICATE_RADIUS_M / 111_000
    dlng = dlat / max(math.cos(math.radians(matter.lat)), 0.01)
    nearby = repository.nearby_same_type(session, type_code=matter.type_code,
                                         since=matter.reported_at - DUPLICATE_WINDOW, exclude_id=matter.id,
                                         lng=matter.lng, lat=matter.lat, dlng=dlng, dlat=dlat)
    measured = sorted((_distance_m(matter.lng, matter.lat, lng, lat), other_id) for other_id, lng, lat in nearby)
    for distance, other_id in measured[:MAX_DUPLICATE_LINKS]:
        if distance <= DUPLICATE_RADIUS_M:
            session.add(DuplicateCandidate(matter_id=matter.id, candidate_id=other_id,
                                           division_code=matter.division_code, distance_m=round(distance, 1),
                                           decision="pending", created_at=matter.reported_at))


# ---------------------------------------------------------------- reads


def get(session: Session, principal: Principal, matter_id: str, *, for_update: bool = False) -> Matter:
    """A matter the caller may see (its owner or grid inside the jurisdiction, or reported by the
    caller); 404 otherwise."""
    matter = repository.get_matter(session, matter_id, principal.jurisdiction, principal.user_id,
                                   for_update=for_update)
    if matter is None:
        raise _not_found()
    return matter


def _type_name(session: Session, matter: Matter, lang: str | None = None) -> str:
    t = repository.type_by_id(session, matter.type_id)
    return pick(t.name_zh, t.name_en, lang) if t else matter.type_code


def to_read(session: Session, matter: Matter, principal: Principal) -> MatterRead:
    """A queue row; the reporter's phone is masked unless the caller holds ``pii.reveal``."""
    values: dict[str, Any] = {name: getattr(matter, name) for name in MatterRead.model_fields
                              if name not in ("type_name", "reporter_phone")}
    phone = None
    if matter.reporter_phone:
        clear = pii.get_cipher().decrypt(matter.reporter_phone, PHONE_CONTEXT)
        phone = clear if principal.can("pii.reveal") else pii.mask_phone(clear)
    return MatterRead(**values, type_name=_type_name(session, matter), reporter_phone=phone)


def detail(session: Session, principal: Principal, matter_id: str) -> MatterDetail:
    """A matter with its timeline, photos, duplicate candidates, supervision orders and the
    actions the caller may take now."""
    matter = get(session, principal, matter_id)
    events = [TimelineRead(seq=e.seq, action=e.action, from_status=e.from_status, to_status=e.to_status,
                           actor_name=e.actor_name, actor_role=e.actor_role, at=e.at, note=e.note, lng=e.lng,
                           lat=e.lat, division_code=e.division_code, data=json.loads(e.data) if e.data else None)
              for e in timeline(session, "matter", matter.id)]
    photos = [PhotoRead(id=p.id, stage=p.stage, content_type=p.content_type, size=p.size, sha256=p.sha256,
                        created_at=p.created_at, url=f"/api/v1/matters/{matter.id}/photos/{p.id}")
              for p in repository.photos_of(session, matter.id)]
    links = repository.duplicates_of(session, matter.id)
    numbers = repository.numbers_of(session, [d.candidate_id for d in links])
    duplicates = [DuplicateRead(candidate_id=d.candidate_id, candidate_number=numbers.get(d.candidate_id),
                                distance_m=d.distance_m, decision=d.decision) for d in links]
    orders = [SupervisionRead(id=o.id, issuer_division_code=o.issuer_division_code, note=o.note, due_at=o.due_at,
                              status=o.status, answer=o.answer, created_at=o.created_at, answered_at=o.answered_at)
              for o in repository.supervision_orders(session, matter.id)]
    read = to_read(session, matter, principal)
    return MatterDetail(**read.model_dump(), timeline=events, photos=photos, duplicates=duplicates,
                        supervision=orders, allowed_actions=wf.allowed_actions(matter, principal))


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
    items, total = repository.list_matters(session, prefix=principal.jurisdiction, user_id=principal.user_id,
                                           queue=queue, owner_prefix=owner, status=status, overdue=overdue,
                                           offset=max(offset, 0), limit=min(max(limit, 1), 200))
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
    Column("reporter_phone", "联系电话（脱敏）", "Phone (masked)", 16),
)


def export_xlsx(session: Session, principal: Principal, *, queue: str = "division", status: str | None = None,
                overdue: bool | None = None) -> tuple[bytes, int]:
    """The queue as an Excel workbook (zh and en headers) and its row count. Phone numbers are
    always masked here: a bulk export is never a reveal, whatever the caller's permissions."""
    page = list_matters(session, principal, queue=queue, status=status, overdue=overdue, limit=1)
    if page.total > EXPORT_MAX_ROWS:
        raise Invalid(f"导出条数 {page.total} 超过上限 {EXPORT_MAX_ROWS}，请缩小范围（按状态或是否超时筛选）",
                      f"{page.total} rows exceed the export limit of {EXPORT_MAX_ROWS}: narrow the filters",
                      details={"field": "queue"})
    owner = principal.division_code if wf.principal_level(principal) else None
    effective = "reported_by_me" if queue == "mine" and owner is None else queue
    items, _ = repository.list_matters(session, prefix=principal.jurisdiction, user_id=principal.user_id,
                                       queue=effective, owner_prefix=owner, status=status, overdue=overdue,
                                       offset=0, limit=EXPORT_MAX_ROWS)
    names = geo.names_of(session, {m.division_code for m in items})
    masked = replace(principal, permissions=principal.permissions - {"pii.reveal", "*"})
    rows = []
    for matter in items:
        row = to_read(session, matter, masked).model_dump()
        row["division_name"] = names.get(matter.division_code, matter.division_code)
        rows.append(row)
    return write_xlsx(EXPORT_COLUMNS, rows, sheet="事项 Matters"), len(rows)


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
    allowed = wf.allowed_actions(matter, principal)
    if action not in allowed:
        raise InvalidTransition(f"当前状态（{matter.status}）下您不能执行“{action}”",
                                f"You may not perform '{action}' on a matter in status '{matter.status}'", allowed)
    checked = wf.check_data(action, data)
    wf.MATTER_WORKFLOW.transition(session, matter, action, principal, note=note, lng=lng, lat=lat, data=checked)
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
    photo = repository.photo(session, matter.id, photo_id)
    if photo is None:
        raise NotFound("照片", "photo")
    return photo
