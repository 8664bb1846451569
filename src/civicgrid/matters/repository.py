"""Every query of the matters domain. Queries that load or list matters, or what hangs off them
(timeline, photos, duplicate links, supervision orders), take the caller's principal and apply
:func:`civicgrid.authz.scoping.visible` to the matter (DESIGN.md rule 5); the intake's routing and
the timer handlers act for the system and say so with :func:`civicgrid.authz.scoping.unscoped`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import unscoped, visible
from civicgrid.files.models import StoredFile
from civicgrid.kit.statements import DriverStatement
from civicgrid.matters.models import (
    CatalogueVersion,
    DuplicateCandidate,
    Matter,
    MatterPhoto,
    MatterType,
    SupervisionOrder,
)
from civicgrid.numbering import service as numbering
from civicgrid.workflow.models import TimelineEvent

SERIES = "matter"  # numbering series of matter numbers (YZ-20261203-000123)

# ---------------------------------------------------------------- catalogue


def current_version(session: Session) -> CatalogueVersion | None:
    return session.scalar(select(CatalogueVersion).where(CatalogueVersion.is_current.is_(True)))


def versions(session: Session) -> Sequence[CatalogueVersion]:
    return session.scalars(select(CatalogueVersion).order_by(CatalogueVersion.version.desc())).all()


def version_counts(session: Session) -> dict[int, int]:
    rows = session.execute(select(MatterType.version, func.count()).group_by(MatterType.version)).all()
    return {int(v): int(n) for v, n in rows}


def max_version(session: Session) -> int:
    return int(session.scalar(select(func.max(CatalogueVersion.version))) or 0)


def clear_current(session: Session) -> None:
    session.execute(update(CatalogueVersion).where(CatalogueVersion.is_current.is_(True)).values(is_current=False))


def types_of(session: Session, version: int) -> Sequence[MatterType]:
    return session.scalars(select(MatterType).where(MatterType.version == version).order_by(MatterType.code)).all()


def type_by_code(session: Session, version: int, code: str) -> MatterType | None:
    return session.scalar(select(MatterType).where(MatterType.version == version, MatterType.code == code))


def type_by_id(session: Session, type_id: str) -> MatterType | None:
    return session.get(MatterType, type_id)


# ---------------------------------------------------------------- matters


def _visible(principal: Principal) -> ColumnElement[bool]:
    """A matter is visible to the units whose jurisdiction (or responsibility area) holds its owner
    or its grid, and to the person who reported it."""
    return or_(visible(Matter.division_code, principal), visible(Matter.grid_code, principal),
               Matter.reporter_id == principal.user_id)


_FOR_INTAKE = "the intake routes a report before anyone owns it"


def get_matter(session: Session, matter_id: str, principal: Principal, *,
               for_update: bool = False) -> Matter | None:
    query = select(Matter).where(Matter.id == matter_id, _visible(principal))
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def get_unscoped(session: Session, matter_id: str) -> Matter | None:
    """For timer handlers and the Open311 link of a matter just filed, which act for the system."""
    return session.scalar(select(Matter).where(Matter.id == matter_id, unscoped("timer handlers act for the system")))


def by_idempotency_key(session: Session, key: str) -> Matter | None:
    return session.scalar(select(Matter).where(Matter.idempotency_key == key, unscoped(_FOR_INTAKE)))


# The intake path runs on every report: its statements are built once per dialect and run on the
# driver's cursor (kit.statements; the Core execution machinery cost more than the SQL itself).


def _insert_for(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


def _current_type(_dialect: str) -> Any:
    t, v = MatterType.__table__.c, CatalogueVersion.__table__.c
    return (select(t.id, t.code, t.version, t.owner_level, t.department, t.limits, t.active, t.name_zh, t.name_en)
            .join_from(MatterType.__table__, CatalogueVersion.__table__, v.version == t.version)
            .where(v.is_current.is_(True), t.code == bindparam("code")))


def _insert_matter(dialect: str) -> Any:
    table = Matter.__table__
    return _insert_for(dialect)(table).on_conflict_do_nothing(index_elements=[table.c.idempotency_key]
                                                              ).returning(table.c.id)


def _nearby(_dialect: str) -> Any:
    c = Matter.__table__.c
    return select(c.id, c.number, c.lng, c.lat).where(
        c.type_code == bindparam("type_code"), c.reported_at >= bindparam("since", type_=c.reported_at.type),
        c.id != bindparam("exclude_id"), c.duplicate_of.is_(None),
        # Only matters the owning unit may see: a candidate is for its acceptors (issue 9 §3.1).
        or_(c.division_code.like(bindparam("owner_like")), c.grid_code.like(bindparam("owner_like"))),
        # Three comparisons, not NOT IN: an IN list cannot be compiled once.
        c.status != "rejected", c.status != "cancelled", c.status != "merged",
        c.lng.between(bindparam("lng_lo"), bindparam("lng_hi")),
        c.lat.between(bindparam("lat_lo"), bindparam("lat_hi")), unscoped(_FOR_INTAKE))


MATTER_COLUMNS = tuple(c.key for c in Matter.__table__.c)
_ID_BY_KEY = DriverStatement(lambda _d: select(Matter.__table__.c.id).where(
    Matter.__table__.c.idempotency_key == bindparam("key"), unscoped(_FOR_INTAKE)))
_CURRENT_TYPE = DriverStatement(_current_type)
_CURRENT_TYPE_COLUMNS = ("id", "code", "version", "owner_level", "department", "limits", "active", "name_zh", "name_en")
_INSERT_MATTER = DriverStatement(_insert_matter, keys=MATTER_COLUMNS)
_NEARBY = DriverStatement(_nearby)


# The intake's lookups are sent now and read later: inside a kit.statements.pipeline a group of
# them costs one round trip. Each returns a function that reads its answer (call it after the
# pipeline block; outside one, the answer is already in).


def matter_id_by_key(conn: Connection, key: str) -> Callable[[], str | None]:
    """The matter holding an idempotency key, if any."""
    sent = _ID_BY_KEY.send(conn, {"key": key})
    return lambda: str(rows[0][0]) if (rows := sent.rows()) else None


def current_type_row(conn: Connection, code: str) -> Callable[[], dict[str, Any] | None]:
    """The matter type with ``code`` in the current catalogue version (active or not)."""
    sent = _CURRENT_TYPE.send(conn, {"code": code})
    return lambda: dict(zip(_CURRENT_TYPE_COLUMNS, rows[0], strict=True)) if (rows := sent.rows()) else None


def next_number(conn: Connection, day: str, count: int = 1) -> Callable[[], int]:
    """Atomically take the next ``count`` matter numbers of ``day``; reads the last of them."""
    return numbering.take(conn, SERIES, day, count)


def insert_matter(conn: Connection, row: dict[str, Any]) -> Callable[[], bool]:
    """Insert a matter row; reads False when its idempotency key is already taken (a concurrent
    retry committed first), in which case nothing is written."""
    sent = _INSERT_MATTER.send(conn, row)
    return lambda: bool(sent.rows())


@dataclass(frozen=True)
class MatterFilter:
    """What a queue is narrowed by (all optional; see :func:`list_matters`)."""

    status: str | None = None
    overdue: bool | None = None
    q: str | None = None  # number, title or address words
    phone_hashes: tuple[str, ...] = ()  # the reporter's phone, by its keyed hashes
    unit: str | None = None  # a jurisdiction prefix (county 6, township 9, village 12 digits)
    place: str | None = None  # where it happened: a prefix of the grid code (a division's or a grid's)
    type_code: str | None = None
    category: str | None = None
    channel: str | None = None
    reported_from: datetime | None = None
    reported_before: datetime | None = None
    flags: frozenset[str] = frozenset()  # supervised, urged, rework, escalated, duplicate, on_spot, spot_check


def _filtered(query: Select[Any], f: MatterFilter, open_statuses: Sequence[str]) -> Select[Any]:
    if f.status:
        query = query.where(Matter.status == f.status)
    if f.overdue is not None:
        query = query.where(Matter.overdue.is_(f.overdue))
        if f.overdue:  # 仅看超期: what is late now, not what was once late and is closed
            query = query.where(Matter.status.in_(open_statuses))
    if f.q or f.phone_hashes:
        words = (f.q or "").strip()
        found = [Matter.number == words.upper(), Matter.number.icontains(words, autoescape=True),
                 Matter.title.icontains(words, autoescape=True),
                 Matter.address.icontains(words, autoescape=True)] if words else []
        if f.phone_hashes:
            found.append(Matter.reporter_phone_hash.in_(f.phone_hashes))
        query = query.where(or_(*found))
    if f.unit:
        query = query.where(Matter.division_code.startswith(f.unit, autoescape=True))
    if f.place:
        query = query.where(Matter.grid_code.startswith(f.place, autoescape=True))
    if f.type_code:
        query = query.where(Matter.type_code == f.type_code)
    if f.category:
        query = query.where(Matter.type_id.in_(select(MatterType.id).where(MatterType.category == f.category)))
    if f.channel:
        query = query.where(Matter.channel == f.channel)
    if f.reported_from is not None:
        query = query.where(Matter.reported_at >= f.reported_from)
    if f.reported_before is not None:
        query = query.where(Matter.reported_at < f.reported_before)
    if "supervised" in f.flags:
        query = query.where(Matter.supervised.is_(True))
    if "rework" in f.flags:
        query = query.where(Matter.rework_count > 0)
    if "on_spot" in f.flags:
        query = query.where(Matter.on_spot.is_(True))
    if "spot_check" in f.flags:
        query = query.where(Matter.spot_check.is_(True))
    if "escalated" in f.flags:
        query = query.where(Matter.escalations > 0)
    if "duplicate" in f.flags:
        query = query.where(Matter.duplicate_of.is_not(None))
    if "urged" in f.flags:
        urged = select(TimelineEvent.entity_id).where(
            TimelineEvent.entity_type == "matter", TimelineEvent.action == "urge",
            unscoped("a flag of the matters the outer query already scopes"))
        query = query.where(Matter.id.in_(urged))
    return query


def list_matters(session: Session, principal: Principal, *, queue: str, owner_prefix: str | None,
                 status: str | None = None, overdue: bool | None = None, offset: int, limit: int,
                 filters: MatterFilter | None = None, open_statuses: Sequence[str] = (),
                 finished_statuses: Sequence[str] = (), verify_status: str = "handled",
                 handling_actions: Sequence[str] = ()) -> tuple[list[Matter], int]:
    """A queue: ``mine`` (what the caller's unit owns and must act on: open matters only),
    ``done`` (what it owned and finished), ``division`` (everything in the jurisdiction),
    ``reported_by_me``, ``grid_mine`` (a grid worker's open reports and the matters of their grid
    awaiting their on-site verification); narrowed by ``filters``. Mine first, then overdue (red, then yellow) on
    top, then the nearest due."""
    query = select(Matter).where(_visible(principal))
    if queue == "reported_by_me":
        query = query.where(Matter.reporter_id == principal.user_id)
    elif queue == "grid_mine":
        # A grid worker's 待办: their own open reports, and the handled matters of their grid that
        # they verify on site (not drawn for a spot check, not handled by them).
        handled_by_me = select(TimelineEvent.id).where(
            TimelineEvent.entity_type == "matter", TimelineEvent.entity_id == Matter.id,
            TimelineEvent.actor_id == principal.user_id, TimelineEvent.action.in_(list(handling_actions)),
            unscoped("the grid worker's queue leaves out the matters they handled")).exists()
        to_verify = and_(Matter.grid_code == principal.jurisdiction, Matter.status == verify_status,
                         Matter.spot_check.is_(False), ~handled_by_me)
        query = query.where(or_(and_(Matter.reporter_id == principal.user_id, Matter.status.in_(open_statuses)),
                                to_verify))
    elif queue == "mine":
        query = query.where(Matter.division_code == (owner_prefix or ""), Matter.status.in_(open_statuses))
    elif queue == "done":
        query = query.where(Matter.division_code == (owner_prefix or ""), Matter.status.in_(finished_statuses))
    f = filters or MatterFilter()
    if status is not None or overdue is not None:
        f = MatterFilter(**{**f.__dict__, "status": status or f.status,
                            "overdue": overdue if overdue is not None else f.overdue})
    query = _filtered(query, f, open_statuses)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    mine_first = case((Matter.division_code == (owner_prefix or ""), 0), else_=1)
    alert_rank = case((Matter.alert == "red", 0), (Matter.alert == "yellow", 1), else_=2)
    query = query.order_by(mine_first, alert_rank, Matter.step_due_at.is_(None), Matter.step_due_at,
                           Matter.reported_at.desc()).offset(offset).limit(limit)
    return list(session.scalars(query)), total


def nearby_same_type(conn: Connection, *, type_code: str, since: datetime, exclude_id: str, owner_prefix: str,
                     lng: float, lat: float, dlng: float, dlat: float
                     ) -> Callable[[], list[tuple[str, str, float, float]]]:
    """Candidates for duplicates as (id, number, lng, lat): same type, reported since ``since``,
    owned or placed inside ``owner_prefix`` (the owning unit's jurisdiction), inside a small
    lng/lat box (the caller measures the real distance). Sent now, read later."""
    if not owner_prefix.isdigit():
        raise ValueError(f"jurisdiction prefix must be digits: {owner_prefix!r}")
    sent = _NEARBY.send(conn, {
        "type_code": type_code, "since": since, "exclude_id": exclude_id, "owner_like": owner_prefix + "%",
        "lng_lo": lng - dlng, "lng_hi": lng + dlng,
        "lat_lo": lat - dlat, "lat_hi": lat + dlat})
    return lambda: [(row[0], row[1], row[2], row[3]) for row in sent.rows()]


def numbers_of(session: Session, matter_ids: Sequence[str], principal: Principal) -> dict[str, str]:
    """The numbers of those of several matters the caller may see, by id."""
    if not matter_ids:
        return {}
    rows = session.execute(select(Matter.id, Matter.number).where(Matter.id.in_(matter_ids), _visible(principal)))
    return {row[0]: row[1] for row in rows}


# ---------------------------------------------------------------- what hangs off a matter
# Child rows are read through their matter: joined to it and scoped by the matter's visibility
# (a child's own division code is the owner's when it was written, and the owner moves).


def timeline_of(session: Session, matter_id: str, principal: Principal) -> Sequence[TimelineEvent]:
    """The matter's steps in order."""
    return session.scalars(select(TimelineEvent).join(Matter, Matter.id == TimelineEvent.entity_id)
                           .where(TimelineEvent.entity_type == "matter", TimelineEvent.entity_id == matter_id,
                                  _visible(principal)).order_by(TimelineEvent.seq)).all()


def acted_on(session: Session, matter_id: str, user_id: str, actions: Sequence[str]) -> bool:
    """Whether the user took one of ``actions`` on the matter (its timeline says who did what)."""
    return session.scalar(select(TimelineEvent.id).where(
        TimelineEvent.entity_type == "matter", TimelineEvent.entity_id == matter_id,
        TimelineEvent.actor_id == user_id, TimelineEvent.action.in_(list(actions)),
        unscoped("a workflow guard reads who acted on the matter the caller already holds")).limit(1)) is not None


def last_event(session: Session, matter_id: str) -> TimelineEvent | None:
    """The matter's latest timeline row (what 撤回 would undo)."""
    return session.scalar(select(TimelineEvent).where(
        TimelineEvent.entity_type == "matter", TimelineEvent.entity_id == matter_id,
        unscoped("a workflow guard reads the timeline of the matter the caller already holds"))
        .order_by(TimelineEvent.seq.desc()).limit(1))


def last_note(session: Session, matter_id: str, action: str) -> str | None:
    """The note of the matter's latest ``action`` on its timeline."""
    return session.scalar(select(TimelineEvent.note).where(
        TimelineEvent.entity_type == "matter", TimelineEvent.entity_id == matter_id, TimelineEvent.action == action,
        unscoped("an effect reads the timeline of the matter the caller already holds"))
        .order_by(TimelineEvent.seq.desc()).limit(1))


def has_photo(session: Session, matter_id: str, stage: str, since: datetime | None = None) -> bool:
    """Whether the matter has a photo of ``stage`` (report / result / verify), taken at or after
    ``since`` when given."""
    query = select(MatterPhoto.id).where(
        MatterPhoto.matter_id == matter_id, MatterPhoto.stage == stage,
        unscoped("a workflow guard reads the photos of the matter the caller already holds"))
    if since is not None:
        query = query.where(MatterPhoto.created_at >= since)
    return session.scalar(query.limit(1)) is not None


def notes_of(session: Session, matter_ids: Sequence[str], actions: Sequence[str]) -> Sequence[TimelineEvent]:
    """Timeline events of these matters with one of ``actions``, oldest first."""
    if not matter_ids:
        return []
    return session.scalars(select(TimelineEvent).where(
        TimelineEvent.entity_type == "matter", TimelineEvent.entity_id.in_(list(matter_ids)),
        TimelineEvent.action.in_(list(actions)),
        unscoped("public notes of matters the caller has already loaded through its scope"))
        .order_by(TimelineEvent.entity_id, TimelineEvent.seq)).all()


def photos_of(session: Session, matter_id: str, principal: Principal) -> list[tuple[MatterPhoto, StoredFile]]:
    """The matter's photos with their stored files, oldest first."""
    rows = session.execute(select(MatterPhoto, StoredFile).join(Matter, Matter.id == MatterPhoto.matter_id)
                           .join(StoredFile, StoredFile.id == MatterPhoto.file_id)
                           .where(MatterPhoto.matter_id == matter_id, _visible(principal))
                           .order_by(MatterPhoto.created_at, MatterPhoto.id)).all()
    return [(p, f) for p, f in rows]


def photo(session: Session, matter_id: str, photo_id: str, principal: Principal) -> MatterPhoto | None:
    return session.scalar(select(MatterPhoto).join(Matter, Matter.id == MatterPhoto.matter_id)
                          .where(MatterPhoto.id == photo_id, MatterPhoto.matter_id == matter_id, _visible(principal)))


def visible_ids(principal: Principal) -> Select[str]:
    """The ids of the matters ``principal`` may see: the access rule of a matter's files
    (registered with the file store), so a photo is readable exactly when its matter is."""
    return select(Matter.id).where(_visible(principal))


def duplicates_of(session: Session, matter_id: str, principal: Principal) -> Sequence[DuplicateCandidate]:
    return session.scalars(select(DuplicateCandidate).join(Matter, Matter.id == DuplicateCandidate.matter_id)
                           .where(DuplicateCandidate.matter_id == matter_id, _visible(principal))
                           .order_by(DuplicateCandidate.distance_m)).all()


def duplicate(session: Session, matter_id: str, candidate_id: str, principal: Principal) -> DuplicateCandidate | None:
    return session.scalar(select(DuplicateCandidate).join(Matter, Matter.id == DuplicateCandidate.matter_id)
                          .where(DuplicateCandidate.matter_id == matter_id,
                                 DuplicateCandidate.candidate_id == candidate_id, _visible(principal)))


def supervision_orders(session: Session, matter_id: str, principal: Principal) -> Sequence[SupervisionOrder]:
    return session.scalars(select(SupervisionOrder).join(Matter, Matter.id == SupervisionOrder.matter_id)
                           .where(SupervisionOrder.matter_id == matter_id, _visible(principal))
                           .order_by(SupervisionOrder.created_at)).all()


def open_supervision_orders(session: Session, matter_id: str, principal: Principal) -> Sequence[SupervisionOrder]:
    return session.scalars(select(SupervisionOrder).join(Matter, Matter.id == SupervisionOrder.matter_id)
                           .where(SupervisionOrder.matter_id == matter_id, SupervisionOrder.status != "answered",
                                  _visible(principal))).all()


def supervision_order_unscoped(session: Session, order_id: str) -> SupervisionOrder | None:
    """For the supervision deadline's timer handler, which acts for the system."""
    return session.scalar(select(SupervisionOrder).where(SupervisionOrder.id == order_id,
                                                         unscoped("timer handlers act for the system")))


def by_reporter_phone(session: Session, hashes: Sequence[str], principal: Principal, limit: int) -> Sequence[Matter]:
    """The caller's earlier matters (by the keyed hash of the phone), newest first, in the
    caller's scope."""
    return session.scalars(select(Matter).where(Matter.reporter_phone_hash.in_(hashes), _visible(principal))
                           .order_by(Matter.reported_at.desc()).limit(limit)).all()


# ---------------------------------------------------------------- records of external systems


def by_external_ref(session: Session, system: str, ref: str, principal: Principal, *,
                    for_update: bool = False) -> Matter | None:
    """The matter that is ``system``'s record ``ref`` (a hotline ticket), if the caller may see it
    (in its scope, or filed by it)."""
    query = select(Matter).where(Matter.external_system == system, Matter.external_ref == ref, _visible(principal))
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def external_ref_taken(session: Session, system: str, ref: str) -> bool:
    """Whether some matter already is ``system``'s record ``ref`` (unique per system)."""
    found = session.scalar(select(Matter.id).where(Matter.external_system == system, Matter.external_ref == ref,
                                                   unscoped("an external record's number is unique per system")))
    return found is not None


def hotline_extension_requests(session: Session, principal: Principal, *, hotline: str,
                               open_statuses: Sequence[str], limit: int) -> Sequence[Matter]:
    """Open 12345 matters (channel hotline, or tickets of the hotline's system) in the caller's
    view whose owner asked for an extension not yet decided, the latest first."""
    return session.scalars(select(Matter).where(
        _visible(principal), Matter.extension_days.is_not(None), Matter.status.in_(list(open_statuses)),
        or_(Matter.channel == "hotline", Matter.external_system == hotline))
        .order_by(Matter.status_changed_at.desc()).limit(limit)).all()
