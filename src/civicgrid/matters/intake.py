"""Intake of reported matters: checking and routing a report, then writing reports in groups.

:func:`prepare` checks one report and routes it without writing anything (the type in the
current catalogue, the grid under the point, the hotline phone, an idempotency key already
used). :func:`write` records any number of prepared reports in the caller's transaction with
one statement per table — matters, timeline, timers, duplicate links, rollup counters, the
day's number counter — and the same audit entries, timers and realtime messages as one report
at a time. The API's ``POST /api/v1/matters`` hands each report to a
:class:`~civicgrid.db.GroupCommit` (:func:`write_reports`: checked and written in the writer's
transaction), so reports that arrive together are committed together; the demo generator and
Open311 call :func:`civicgrid.matters.service.report`, which writes one in the caller's
transaction.

Reports written together behave as if written one after the other in the order they came:
each gets its own number, a later report links an earlier one of the batch as a duplicate
candidate (never the other way round), and a retry of a key earlier in the batch returns the
earlier report's matter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, class_mapper, make_transient_to_detached

from civicgrid.audit.service import Actor, insert_rows, record_created, take_head
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import in_scope, jurisdiction_prefix
from civicgrid.city import get_city
from civicgrid.db import GroupCommit
from civicgrid.geo import service as geo
from civicgrid.kit import pii
from civicgrid.kit.clock import CHINA_TZ, utcnow
from civicgrid.kit.errors import Invalid
from civicgrid.kit.ids import new_id
from civicgrid.kit.personal import lookup_hash
from civicgrid.kit.statements import pipeline
from civicgrid.matters import catalogue, repository
from civicgrid.matters import workflow as wf
from civicgrid.matters.figures import service as figures
from civicgrid.matters.models import REPORTER_PHONE_CONTEXT as PHONE_CONTEXT
from civicgrid.matters.models import DuplicateCandidate, Matter
from civicgrid.matters.schemas import DuplicateRead, MatterCreate
from civicgrid.workflow.engine import Deadline, Started, Step, insert_started, record_started
from civicgrid.workflow.models import TimelineEvent
from civicgrid.workflow.timed import due_after

DUPLICATE_RADIUS_M = 200.0
MAX_DUPLICATE_LINKS = 5
DUPLICATE_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Prepared:
    """A checked and routed report, ready to write (or answered by ``existing_id``)."""

    principal: Principal
    data: MatterCreate
    key: str | None
    actor: Actor | None = None  # who the audit chain names (the request's actor)
    ip: str | None = None
    matter_type: Mapping[str, Any] = field(default_factory=dict)
    grid: str = ""
    phone: str | None = None
    phone_hash: str | None = None
    existing_id: str | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)  # EXTERNAL_COLUMNS of the matter row


@dataclass(frozen=True)
class Written:
    """What writing one report did. ``event`` and ``duplicates`` are set for a new matter."""

    matter: Matter
    created: bool
    type_names: tuple[str, str] = ("", "")  # zh, en: picked in the caller's language when shown
    event: dict[str, Any] | None = None
    duplicates: tuple[DuplicateRead, ...] = ()
    allowed_actions: tuple[str, ...] = ()


def scoped_key(principal: Principal, key: str) -> str:
    """Keys are the client's: two users may pick the same one, so it is stored per user."""
    key = key.strip()
    if not key or len(key) > 64:
        raise Invalid("Idempotency-Key 应为 1–64 个字符", "Idempotency-Key must be 1 to 64 characters",
                      details={"field": "Idempotency-Key"})
    return f"{principal.user_id}:{key}"


@dataclass(frozen=True)
class Report:
    """One report as the API received it, with who sent it (checked in the writer's transaction)."""

    principal: Principal
    data: MatterCreate
    idempotency_key: str | None
    actor: Actor | None = None
    ip: str | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)


# Columns a caller may set on the matter row beyond the report (an external system's record).
EXTERNAL_COLUMNS = frozenset({"external_system", "external_ref", "request_type"})


def prepare(session: Session, principal: Principal, data: MatterCreate, idempotency_key: str | None, *,
            actor: Actor | None = None, ip: str | None = None, columns: Mapping[str, Any] | None = None) -> Prepared:
    """Check and route a report without writing. Unknown or inactive type → 422 on
    ``type_code``; a point outside every grid of the city → 422 on ``lng``; a bad hotline phone
    → 422 on ``reporter_phone``. A key already used answers with its matter (``existing_id``).
    ``actor`` and ``ip`` (by default the session's) go with the report into the audit chain."""
    if columns and not set(columns) <= EXTERNAL_COLUMNS:
        raise ValueError(f"only {sorted(EXTERNAL_COLUMNS)} may be set beside a report")
    result = prepare_all(session, [Report(principal, data, idempotency_key, actor, ip, dict(columns or {}))])[0]
    if isinstance(result, Invalid):
        raise result
    return result


def prepare_all(session: Session, reports: list[Report]) -> list[Prepared | Invalid]:
    """:func:`prepare` for several reports, with the lookups of all of them (keys already used,
    the types in the current catalogue) in one round trip; a report that fails its checks gets
    its error in its place."""
    keys: list[str | Invalid | None] = []
    for r in reports:
        try:
            keys.append(scoped_key(r.principal, r.idempotency_key) if r.idempotency_key is not None else None)
        except Invalid as exc:
            keys.append(exc)
    codes = {r.data.type_code.strip().upper() for r in reports}
    conn = session.connection()
    with pipeline(conn):
        holders = {key: repository.matter_id_by_key(conn, key) for key in keys if isinstance(key, str)}
        types = {code: repository.current_type_row(conn, code) for code in codes}
    out: list[Prepared | Invalid] = []
    for r, key in zip(reports, keys, strict=True):
        if isinstance(key, Invalid):
            out.append(key)
            continue
        actor, ip = (r.actor, r.ip) if r.actor is not None else (session.info.get("actor"), session.info.get("ip"))
        existing = holders[key]() if key is not None else None
        if existing is not None:
            out.append(Prepared(r.principal, r.data, key, actor, ip, existing_id=existing))
            continue
        try:
            out.append(_checked(session, r, key, actor, ip, types[r.data.type_code.strip().upper()]()))
        except Invalid as exc:
            out.append(exc)
    return out


def _checked(session: Session, r: Report, key: str | None, actor: Actor | None, ip: str | None,
             matter_type: dict[str, Any] | None) -> Prepared:
    data = r.data
    if matter_type is None or not matter_type["active"]:
        raise Invalid(f"事项类型 {data.type_code} 不存在", f"Unknown matter type: {data.type_code}",
                      details={"field": "type_code"})
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
        # Clear here: the column type encrypts it when the row is bound (driver statements too).
        phone, phone_hash = normalized, lookup_hash(normalized, PHONE_CONTEXT)
    return Prepared(r.principal, data, key, actor, ip, matter_type, grid, phone, phone_hash, columns=r.columns)


# ---------------------------------------------------------------- writing


def write(session: Session, reports: list[Prepared]) -> list[Written]:
    """Record reports prepared in this same transaction (see the module docstring). A key that
    another process committed since then makes the INSERT fail on the unique key (several
    reports: the group commit then writes them one at a time) or, for a single report, returns
    that process's matter."""
    conn = session.connection()
    first_with_key: dict[str, int] = {}
    fresh: list[int] = []
    for i, p in enumerate(reports):
        if p.existing_id is not None or (p.key is not None and p.key in first_with_key):
            continue
        fresh.append(i)
        if p.key is not None:
            first_with_key[p.key] = i

    now = utcnow()
    day = now.astimezone(CHINA_TZ).strftime("%Y%m%d")
    rows = [_matter_row(session, reports[i], now) for i in fresh]
    # One round trip: the day's numbers and every report's search for duplicate candidates.
    with pipeline(conn):
        last = repository.next_number(conn, day, len(rows)) if rows else None
        stored = [_send_nearby(conn, row) for row in rows]
    first = last() - len(rows) + 1 if last is not None else 0
    prefix = get_city().matter_number_prefix  # YZ-20261203-000001
    for n, row in enumerate(rows):
        row["number"] = f"{prefix}-{day}-{first + n:06d}"
    links, numbers = _duplicate_links(rows, [read() for read in stored])
    matters = [_loaded(row) for row in rows]
    # Timeline entry 1, the first timers and the announcement: the kit's start, as rows.
    started = [_started(session, reports[i], matter) for i, matter in zip(fresh, matters, strict=True)]

    if len(rows) == 1 and not repository.insert_matter(conn, rows[0])():
        # A concurrent request with the same key committed first: answer with its matter.
        fresh, rows, links, started, matters = [], [], [], [], []
    # One round trip for every insert (several reports' matters in one statement; a key taken
    # meanwhile by another process fails it, and the group commit reruns them one at a time).
    with pipeline(conn):
        if len(rows) > 1:
            insert_rows(session, Matter, rows, audit=False)
        insert_started(session, started)
        insert_rows(session, DuplicateCandidate, [link for group in links for link in group], audit=False)
        figures.count_inserted(session, rows)
        take_head(session, conn, [row["division_code"] for row in rows])  # its chains' locks and heads, same round trip

    actor, ip = session.info.get("actor"), session.info.get("ip")
    written: dict[int, Written] = {}
    for i, row, matter, start, group in zip(fresh, rows, matters, started, links, strict=True):
        p = reports[i]
        # The report's own actor and address (prepared from its request), else the session's.
        session.info["actor"], session.info["ip"] = (p.actor, p.ip) if p.actor else (actor, ip)
        # The audit order of the ORM path: matter, timeline entry, timers, duplicate links.
        record_created(session, Matter, row)
        record_started(session, start)
        for link in group:
            record_created(session, DuplicateCandidate, link)
        session.add(matter)
        duplicates = tuple(DuplicateRead(candidate_id=link["candidate_id"],
                                         candidate_number=numbers[link["candidate_id"]],
                                         distance_m=link["distance_m"], decision="pending") for link in group)
        written[i] = Written(matter, True, (p.matter_type["name_zh"], p.matter_type["name_en"]), start.event,
                             duplicates, tuple(wf.allowed_actions(matter, p.principal)))
    session.info["actor"], session.info["ip"] = actor, ip

    out: list[Written] = []
    for i, p in enumerate(reports):
        if i in written:
            out.append(written[i])
            continue
        holder = repository.by_idempotency_key(session, p.key) if p.key is not None else None
        if holder is None:  # pragma: no cover - a key is taken only by a matter that holds it
            raise RuntimeError("idempotency key taken but no matter holds it")
        out.append(Written(holder, False))
    return out


_MATTER_MANAGER = class_mapper(Matter).class_manager


def _loaded(row: dict[str, Any]) -> Matter:
    """The Matter of a row just inserted, as if loaded from the database (no constructor, no
    attribute events: the values go straight into the instance, then it gets its identity)."""
    matter: Matter = _MATTER_MANAGER.new_instance()
    matter.__dict__.update(row)
    make_transient_to_detached(matter)
    return matter


def _accept_unit(p: Prepared) -> str:
    return catalogue.parse_limits(p.matter_type["limits"])["accept"][1]


def _matter_row(session: Session, p: Prepared, now: datetime) -> dict[str, Any]:
    """The matter's row; its number is set once the day's numbers are taken."""
    t, data = p.matter_type, p.data
    amount, unit = catalogue.parse_limits(t["limits"])["accept"]
    owner = wf.owner_code(p.grid, t["owner_level"])
    return {
        "id": new_id(), "number": "", "type_id": t["id"], "type_code": t["code"],
        "catalogue_version": t["version"], "title": data.title.strip(), "description": data.description.strip(),
        "channel": data.channel, "reporter_id": p.principal.user_id or None, "reporter_name": data.reporter_name,
        "reporter_phone": p.phone, "reporter_phone_hash": p.phone_hash, "address": data.address,
        "lng": data.lng, "lat": data.lat, "grid_code": p.grid, "division_code": owner,
        "owner_level": t["owner_level"], "department": t["department"],
        "status": wf.MatterStatus.REPORTED.value, "status_changed_at": now, "reported_at": now,
        "accepted_at": None, "dispatched_at": None, "handled_at": None, "closed_at": None,
        "step": "accept", "step_due_at": due_after(session, now, (amount, unit)), "alert": "none",
        "overdue": False, "escalations": 0, "rework_count": 0, "settled_level": None,
        "settled_division_code": None, "result": None, "satisfaction": None, "evaluation_note": None,
        "duplicate_of": None, "supervised": False, "idempotency_key": p.key, "step_started_at": now,
        "extension_days": None, "reported_division_code": owner,
        "external_system": None, "external_ref": None, "request_type": None, "on_spot": False,
        "spot_check": False, **p.columns,
    }


def _started(session: Session, p: Prepared, matter: Matter) -> Started:
    """What the kit's start writes for a new matter besides its row (both paths)."""
    return wf.MATTER_WORKFLOW.started(matter, p.principal, **_start_args(session, p, matter))


def _start_args(session: Session, p: Prepared, matter: Matter) -> dict[str, Any]:
    """The start step of a report: who reported, when, where; the accept step's first timers."""
    unit = _accept_unit(p)

    def first_deadlines(entity: Matter, step: Step) -> list[Deadline]:
        assert entity.step_started_at is not None and entity.step_due_at is not None
        return wf.CLOCK.timed_deadlines(session, "accept", entity.step_started_at, entity.step_due_at, unit)

    return {"action": "report", "status": wf.MatterStatus.REPORTED.value, "note": matter.description[:2000] or None,
            "data": {"channel": matter.channel, "grid": matter.grid_code, "owner_level": matter.owner_level},
            "deadlines": first_deadlines, "at": matter.reported_at, "lng": matter.lng, "lat": matter.lat}


def start_one(session: Session, p: Prepared) -> Written:
    """Record one prepared report through the ORM and :meth:`Workflow.start` (the straightforward
    path, for callers that write one report in their own transaction): the same rows, audit
    entries, timers, figures and announcement as :func:`write`, which inserts them in groups.
    A key another transaction committed meanwhile answers with that transaction's matter."""
    if p.existing_id is not None:
        return write(session, [p])[0]
    conn = session.connection()
    now = utcnow()
    day = now.astimezone(CHINA_TZ).strftime("%Y%m%d")
    row = _matter_row(session, p, now)
    with pipeline(conn):
        last = repository.next_number(conn, day, 1)
        stored = _send_nearby(conn, row)
    row["number"] = f"{get_city().matter_number_prefix}-{day}-{last():06d}"
    links, numbers = _duplicate_links([row], [stored()])
    matter = Matter(**row)
    try:
        with session.begin_nested():
            event = wf.MATTER_WORKFLOW.start(session, matter, p.principal, **_start_args(session, p, matter))
            session.add_all(DuplicateCandidate(**link) for link in links[0])
            session.flush()
    except IntegrityError:
        holder = repository.by_idempotency_key(session, p.key) if p.key is not None else None
        if holder is None:
            raise
        return Written(holder, False)
    duplicates = tuple(DuplicateRead(candidate_id=link["candidate_id"], candidate_number=numbers[link["candidate_id"]],
                                     distance_m=link["distance_m"], decision="pending") for link in links[0])
    return Written(matter, True, (p.matter_type["name_zh"], p.matter_type["name_en"]), _event_values(event),
                   duplicates, tuple(wf.allowed_actions(matter, p.principal)))


def _event_values(event: TimelineEvent) -> dict[str, Any]:
    return {column.key: getattr(event, column.key) for column in TimelineEvent.__table__.columns}


def distance_m(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


def _send_nearby(conn: Connection, row: dict[str, Any]) -> Callable[[], list[tuple[str, str, float, float]]]:
    """Send the search for stored matters near ``row`` (same type, last 24 h, a 200 m box)."""
    dlat = DUPLICATE_RADIUS_M / 111_000
    dlng = dlat / max(math.cos(math.radians(row["lat"])), 0.01)
    return repository.nearby_same_type(conn, type_code=row["type_code"], since=row["reported_at"] - DUPLICATE_WINDOW,
                                       exclude_id=row["id"], owner_prefix=jurisdiction_prefix(row["division_code"]),
                                       lng=row["lng"], lat=row["lat"], dlng=dlng, dlat=dlat)


def _duplicate_links(rows: list[dict[str, Any]], stored: list[list[tuple[str, str, float, float]]]
                     ) -> tuple[list[list[dict[str, Any]]], dict[str, str]]:
    """Same type within 200 m and 24 h, inside the owning unit's jurisdiction: candidates for its
    acceptors to merge or keep, never shown to the reporter (the nearest
    :data:`MAX_DUPLICATE_LINKS`, so a cluster of reports never grows a link per pair). ``stored``
    holds each row's nearby stored matters (searched before this batch is written); earlier
    reports of the batch count too. Returns the links of each row, and the numbers of the
    linked matters."""
    out: list[list[dict[str, Any]]] = []
    numbers: dict[str, str] = {}
    for n, (row, nearby) in enumerate(zip(rows, stored, strict=True)):
        lng, lat = row["lng"], row["lat"]
        owner = jurisdiction_prefix(row["division_code"])
        candidates = nearby + [(o["id"], o["number"], o["lng"], o["lat"]) for o in rows[:n]
                               if o["type_code"] == row["type_code"] and in_scope(o["grid_code"], owner)]
        measured = sorted((distance_m(lng, lat, o_lng, o_lat), other_id, number)
                          for other_id, number, o_lng, o_lat in candidates)
        close = [m for m in measured[:MAX_DUPLICATE_LINKS] if m[0] <= DUPLICATE_RADIUS_M]
        numbers.update((other_id, number) for _, other_id, number in close)
        out.append([{"id": new_id(), "matter_id": row["id"], "candidate_id": other_id,
                     "division_code": row["division_code"], "distance_m": round(distance, 1), "decision": "pending",
                     "created_at": row["reported_at"]} for distance, other_id, _ in close])
    return out, numbers


# ---------------------------------------------------------------- group commit


def write_reports(session: Session, reports: list[Report]) -> list[Written | Exception]:
    """Check, route and record reports in one transaction: a report that fails its checks gets
    its error back (422), the others are written as by :func:`write`."""
    checked = prepare_all(session, reports)
    written = iter(write(session, [p for p in checked if isinstance(p, Prepared)]))
    return [next(written) if isinstance(p, Prepared) else p for p in checked]


_committers: dict[Engine, GroupCommit[Report, Written]] = {}


def committer(engine: Engine) -> GroupCommit[Report, Written]:
    """The process's group commit of intake for ``engine`` (engines are per process, per URL)."""
    found = _committers.get(engine)
    if found is None:
        found = _committers[engine] = GroupCommit(engine, write_reports)
    return found


def stop_committers() -> None:
    """Finish queued reports and stop the writer threads (at shutdown)."""
    for found in list(_committers.values()):
        found.stop()
