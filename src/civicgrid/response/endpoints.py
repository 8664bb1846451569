"""Routes of rapid response (永州快警): units and their positions, incidents (desk and 110 intake),
recommendations, dispatch, assignment steps, ring zones and the 1-3-5 figures."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, WebSocket
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from civicgrid.apiclients import service as apiclients
from civicgrid.apiclients.dependencies import ClientCaller, require_client
from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession, reads_only
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import Invalid, PermissionDenied
from civicgrid.kit.pagination import Offset
from civicgrid.realtime.endpoints import register_frame
from civicgrid.response import places, service
from civicgrid.response.index import Candidate, UnitIndex
from civicgrid.response.index import cached as cached_index
from civicgrid.response.models import Assignment, Incident, ResponseUnit, RingZone, UnitShift
from civicgrid.response.schemas import (
    ActionNote,
    AssignmentRead,
    DispatchIn,
    IncidentActionIn,
    IncidentCreate,
    IncidentCreated,
    IncidentDetail,
    IncidentPage,
    IncidentRead,
    Intake110,
    MatterTransferIn,
    MyOrder,
    MyWork,
    PositionsAccepted,
    PositionsIn,
    Recommendation,
    RingFigureRead,
    RingFigures,
    ShiftCreate,
    ShiftRead,
    TimelineRead,
    UnitCreate,
    UnitPage,
    UnitRead,
    ZoneCreate,
    ZoneRead,
)

router = APIRouter(prefix="/api/v1/response", tags=["response"])
ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "Not logged in"},
                                           403: {"description": "Missing the permission"},
                                           404: {"description": "Unknown, or outside the caller's jurisdiction"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"description": "Not allowed now; the body lists allowed_actions"}}
IncidentId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Incident id")]
AssignmentId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Assignment id")]
UnitId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Response unit id")]
ShiftId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Shift id")]
MatterId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Matter id")]


def _unit_names(session: DbSession, units: list[ResponseUnit], members: dict[str, list[str]]) -> dict[str, Any]:
    """The names a unit row shows, and (under ``"shift:" + unit id``) when its running shift ends."""
    names: dict[str, Any] = service.names(session, org_unit_ids=[u.org_unit_id for u in units],
                                          codes=[u.division_code for u in units],
                                          user_ids=[m for ms in members.values() for m in ms])
    names.update({f"shift:{unit_id}": at for unit_id, at in
                  service.running_shift_ends(session, [u.id for u in units]).items()})
    return names


def _unit_read(session: DbSession, unit: ResponseUnit, members: list[str],
               names: dict[str, Any] | None = None) -> UnitRead:
    entry = service.unit_index(session).get(unit.id)
    if names is None:
        names = _unit_names(session, [unit], {unit.id: members})
    return UnitRead(id=unit.id, call_sign=unit.call_sign, unit_type=unit.unit_type, org_unit_id=unit.org_unit_id,
                    division_code=unit.division_code, status=unit.status, members=members,
                    org_unit_name=names.get(unit.org_unit_id), division_name=names.get(unit.division_code),
                    member_names=[names.get(m, "—") for m in members], shift_ends_at=names.get(f"shift:{unit.id}"),
                    lng=entry.lng if entry else None, lat=entry.lat if entry else None,
                    position_at=entry.at if entry else None)


def _incident_read(incident: Incident, principal: Principal, names: dict[str, str]) -> dict[str, Any]:
    start = incident.call_received_at if incident.ring_basis == "call" else (
        incident.dispatched_at or incident.call_received_at)
    return dict(
        id=incident.id, number=incident.number, category=incident.category, priority=incident.priority,
        summary=incident.summary, lng=incident.lng, lat=incident.lat, grid_code=incident.division_code,
        grid_name=names.get(incident.division_code), county_code=incident.county_code,
        county_name=names.get(incident.county_code), place_name=service.place_name(names, incident.division_code),
        station_id=incident.station_id,
        station_name=names.get(incident.station_id or ""), urban_class=incident.urban_class, source=incident.source,
        source_ref=incident.source_ref, source_clock=incident.source_clock_points, status=incident.status,
        call_received_at=incident.call_received_at, dispatched_at=incident.dispatched_at,
        acknowledged_at=incident.acknowledged_at, first_on_scene_at=incident.first_on_scene_at,
        reinforcement_on_scene_at=incident.reinforcement_on_scene_at, handled_at=incident.handled_at,
        closed_at=incident.closed_at, ring_zone=incident.ring_zone, ring_target_seconds=incident.ring_target_seconds,
        ring_basis=incident.ring_basis, ring_deadline=start + timedelta(seconds=incident.ring_target_seconds),
        arrival_seconds=incident.arrival_seconds, ring_hit=incident.ring_hit,
        confirmed_nature=incident.confirmed_nature, outcome=incident.outcome, case_opened=incident.case_opened,
        case_number=incident.case_number, merged_into_id=incident.merged_into_id,
        command_tier=service.command_tier_of(incident),
        allowed_actions=service.allowed_incident_actions(incident, principal))


def _assignment_read(a: Assignment, signs: dict[str, str]) -> AssignmentRead:
    return AssignmentRead(id=a.id, unit_id=a.unit_id, call_sign=signs.get(a.unit_id), status=a.status,
                          cross_border=a.cross_border, eta_seconds=a.eta_seconds, distance_m=a.distance_m, wave=a.wave,
                          ordered_at=a.ordered_at, acknowledged_at=a.acknowledged_at, en_route_at=a.en_route_at,
                          on_scene_at=a.on_scene_at, released_at=a.released_at)


def _detail(session: DbSession, incident: Incident, principal: Principal) -> dict[str, Any]:
    from civicgrid.response import repository

    assignments = service.assignments_of(session, incident)
    signs = {u.id: u.call_sign for u in repository.units_by_ids(session, [a.unit_id for a in assignments]).values()}
    names = _incident_names(session, [incident])
    return {**_incident_read(incident, principal, names),
            "assignments": [_assignment_read(a, signs) for a in assignments],
            "timeline": [TimelineRead(seq=e.seq, action=e.action, from_status=e.from_status, to_status=e.to_status,
                                      actor_name=e.actor_name, at=e.at, note=e.note,
                                      data=json.loads(e.data) if e.data else None)
                         for e in service.timeline(session, incident)]}


def _incident_names(session: DbSession, incidents: list[Incident]) -> dict[str, str]:
    """Station, county, township, village and grid names of incidents (names, not codes)."""
    return service.names(session, org_unit_ids=[i.station_id or "" for i in incidents],
                         codes=[c for i in incidents for c in service.place_codes(i.division_code)])


def _recommendation(c: Candidate) -> Recommendation:
    return Recommendation(unit_id=c.unit_id, call_sign=c.call_sign, unit_type=c.unit_type,
                          distance_m=round(c.distance_m), eta_seconds=round(c.eta_seconds),
                          cross_border=c.cross_border, lng=c.lng, lat=c.lat, position_at=c.at)


def _created(session: DbSession, created: service.Created, principal: Principal) -> IncidentCreated:
    return IncidentCreated(**_detail(session, created.incident, principal),
                           recommendations=[_recommendation(c) for c in created.recommendations],
                           merge_candidates=[i.number for i in created.merge_candidates])


# ---------------------------------------------------------------- units


@router.get("/units", response_model=UnitPage, responses=ERRORS)
def list_units(session: DbSession, status: Annotated[str | None, Query(max_length=16)] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Offset = 0,
               principal: Principal = Depends(require("dispatch.read"))) -> UnitPage:
    """Units in the caller's jurisdiction with their status and latest position."""
    total, rows = service.list_units(session, principal, status=status, limit=limit, offset=offset)
    members = service.members_of(session, [u.id for u in rows])
    names = _unit_names(session, rows, members)
    return UnitPage(total=total, items=[_unit_read(session, u, members.get(u.id, []), names) for u in rows])


@router.get("/mine", response_model=MyWork, responses=ERRORS)
def my_work(session: DbSession, principal: Principal = Depends(require("dispatch.respond"))) -> MyWork:
    """The caller's own units and their orders not yet released, each with its incident (the
    phone page of a patrol officer: an assignment grants the incident whatever the jurisdiction)."""
    work = service.my_work(session, principal)
    members = service.members_of(session, [unit.id for unit, _ in work])
    orders: list[MyOrder] = []
    for unit, items in work:
        for assignment, incident in items:
            actor = service.acting_for(principal, incident.division_code)
            orders.append(MyOrder(unit_id=unit.id, assignment=_assignment_read(assignment, {unit.id: unit.call_sign}),
                                  incident=IncidentDetail(**_detail(session, incident, actor))))
    return MyWork(units=[_unit_read(session, unit, members.get(unit.id, [])) for unit, _ in work], orders=orders)


@router.post("/units", response_model=UnitRead, status_code=201, responses=ERRORS)
def create_unit(session: DbSession, body: UnitCreate,
                principal: Principal = Depends(require("dispatch.units"))) -> UnitRead:
    """Register a unit under an org unit of the caller's jurisdiction (off duty until it signs on)."""
    unit = service.create_unit(session, principal, call_sign=body.call_sign, unit_type=body.unit_type,
                               org_unit_id=body.org_unit_id, members=body.members)
    return _unit_read(session, unit, list(dict.fromkeys(body.members)))


@router.get("/units/{response_unit_id}", response_model=UnitRead, responses=ERRORS)
def get_unit(session: DbSession, response_unit_id: UnitId,
             principal: Principal = Depends(require("dispatch.read"))) -> UnitRead:
    """One unit (in the caller's jurisdiction, or the caller's own)."""
    unit = service.get_unit(session, principal, response_unit_id)
    return _unit_read(session, unit, service.members_of(session, [unit.id])[unit.id])


@router.post("/units/{response_unit_id}/actions/{unit_action}", response_model=UnitRead,
             responses={**ERRORS, **CONFLICT})
def act_on_unit(session: DbSession, response_unit_id: UnitId,
                unit_action: Annotated[str, Path(pattern="^(sign_on|sign_off|stand_down|stand_up)$")],
                body: ActionNote, principal: Principal = Depends(require("dispatch.read"))) -> UnitRead:
    """Sign on / off, stand down (note: why) / up: a member for their unit, or a unit manager
    (``dispatch.units``) in scope. Assigned / en route / on scene follow from the assignments."""
    unit = service.unit_action(session, principal, response_unit_id, unit_action, body.note)
    return _unit_read(session, unit, service.members_of(session, [unit.id])[unit.id])


@router.post("/units/{response_unit_id}/positions", response_model=PositionsAccepted, status_code=202,
             responses=ERRORS)
@reads_only
def report_positions(session: DbSession, request: Request, response_unit_id: UnitId, body: PositionsIn,
                     principal: Principal = Depends(require("dispatch.respond"))) -> PositionsAccepted:
    """Positions of a unit (a vehicle terminal): telemetry — the dispatch index moves at once, the
    track is written in the next batch; no write transaction and no audit entry per position.
    A member of the unit, or a holder of ``dispatch.respond`` whose jurisdiction holds the unit."""
    index = service.unit_index(session)
    accepted = service.report_positions(
        index, str(request.app.state.engine.url), principal, response_unit_id,
        [(p.lng, p.lat, p.at, p.speed_kmh, p.heading) for p in body.points])
    return PositionsAccepted(accepted=accepted)


# ---------------------------------------------------------------- shifts


def _shift_reads(session: DbSession, shifts: list[UnitShift]) -> list[ShiftRead]:
    from civicgrid.response import repository

    units = repository.units_by_ids(session, [s.unit_id for s in shifts])
    names = service.names(session, org_unit_ids=[u.org_unit_id for u in units.values()],
                          user_ids=[m for s in shifts for m in s.members])
    out = []
    for s in shifts:
        unit = units.get(s.unit_id)
        out.append(ShiftRead(id=s.id, unit_id=s.unit_id, call_sign=unit.call_sign if unit else None,
                             org_unit_name=names.get(unit.org_unit_id) if unit else None, starts_at=s.starts_at,
                             ends_at=s.ends_at, members=s.members, member_names=[names.get(m, "—") for m in s.members],
                             note=s.note, state=s.state))
    return out


@router.get("/shifts", response_model=list[ShiftRead], responses=ERRORS)
def list_shifts(session: DbSession, unit_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$")] = None,
                start: Annotated[datetime | None, Query()] = None, end: Annotated[datetime | None, Query()] = None,
                principal: Principal = Depends(require("dispatch.read"))) -> list[ShiftRead]:
    """The shifts (duty periods) of the units in the caller's jurisdiction overlapping [start, end)
    (default: from 12 hours ago to 2 days ahead), not cancelled, earliest first."""
    now = utcnow()
    start = start or now - timedelta(hours=12)
    end = end or now + timedelta(days=2)
    return _shift_reads(session, service.list_shifts(session, principal, unit_id=unit_id, start=start, end=end))


@router.post("/units/{response_unit_id}/shifts", response_model=ShiftRead, status_code=201, responses=ERRORS)
def create_shift(session: DbSession, response_unit_id: UnitId, body: ShiftCreate,
                 principal: Principal = Depends(require("dispatch.units"))) -> ShiftRead:
    """Plan a shift of a unit (at most 24 hours, not overlapping another): the unit is signed on
    (available) when it starts and off (off duty) when it ends; orders go to its members on it."""
    shift = service.create_shift(session, principal, response_unit_id, starts_at=body.starts_at,
                                 ends_at=body.ends_at, members=body.members, note=body.note)
    return _shift_reads(session, [shift])[0]


@router.post("/shifts/{shift_id}/cancel", response_model=ShiftRead, responses={**ERRORS, **CONFLICT})
def cancel_shift(session: DbSession, shift_id: ShiftId,
                 principal: Principal = Depends(require("dispatch.units"))) -> ShiftRead:
    """Cancel a shift not yet over; a running one ends now (the unit goes off duty)."""
    return _shift_reads(session, [service.cancel_shift(session, principal, shift_id)])[0]


# ---------------------------------------------------------------- incidents


@router.post("/incidents", response_model=IncidentCreated, status_code=201, responses=ERRORS)
def create_incident(session: DbSession, body: IncidentCreate,
                    principal: Principal = Depends(require("dispatch.command"))) -> IncidentCreated:
    """Receive an incident at the command desk (or from a reported matter: ``source_ref`` = its
    id); the answer carries the top k available units by ETA and merge proposals."""
    source = "matter" if body.source_ref else "desk"
    created = service.create_incident(session, principal, category=body.category, priority=body.priority,
                                      lng=body.lng, lat=body.lat, summary=body.summary, source=source,
                                      source_ref=body.source_ref, k=body.k)
    return _created(session, created, principal)


@router.post("/matters/{matter_id}/incident", response_model=IncidentCreated, status_code=201,
             responses={**ERRORS, **CONFLICT})
def transfer_matter(session: DbSession, matter_id: MatterId, body: MatterTransferIn,
                    principal: Principal = Depends(require("dispatch.command"))) -> IncidentCreated:
    """Transfer a reported matter the caller can see to the police as an incident (its place and
    words, its number kept as the source); the answer carries the recommended units like a desk
    intake. 409 when it was already transferred."""
    created = service.incident_from_matter(session, principal, matter_id, category=body.category,
                                           priority=body.priority, summary=body.summary, k=body.k)
    return _created(session, created, principal)


@router.post("/intake/110", response_model=list[IncidentCreated], status_code=201, responses=ERRORS)
def receive_110(session: DbSession, body: Intake110,
                principal: Principal = Depends(require("dispatch.intake"))) -> list[IncidentCreated]:
    """Incidents pushed by the 110 call-handling system, keeping its number and clock points; a
    number already received answers the incident it made (the 110 system itself sends to
    ``/client/intake/110`` with its API-client key)."""
    created = service.receive_110(session, principal, [i.model_dump() for i in body.items])
    return [_created(session, c, principal) for c in created]


INCIDENT_110 = apiclients.register_record_kind("incident_110", "110 警情", "110 incident", ["dispatch.intake"])


@router.post("/client/intake/110", response_model=list[IncidentCreated], status_code=201, responses=ERRORS)
def receive_110_from_client(session: DbSession, body: Intake110,
                            caller: Annotated[ClientCaller, Depends(require_client(INCIDENT_110.code))]
                            ) -> list[IncidentCreated]:
    """The 110 call-handling system's push as a platform API client (its key in the
    ``X-API-Key`` header; docs/api/clients.md), acting as its owning unit: the same intake."""
    return receive_110(session, body, caller.principal)


@router.get("/incidents", response_model=IncidentPage, responses=ERRORS)
def list_incidents(session: DbSession,
                   status: Annotated[list[str] | None, Query(max_length=9)] = None,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Offset = 0,
                   principal: Principal = Depends(require("dispatch.read"))) -> IncidentPage:
    """The incident queue: the caller's jurisdiction, plus incidents their units are sent to."""
    total, rows = service.list_incidents(session, principal, statuses=status, limit=limit, offset=offset)
    names = _incident_names(session, rows)
    return IncidentPage(total=total, items=[IncidentRead(**_incident_read(i, principal, names)) for i in rows])


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, responses=ERRORS)
def get_incident(session: DbSession, incident_id: IncidentId,
                 principal: Principal = Depends(require("dispatch.read"))) -> IncidentDetail:
    """One incident with its assignments and timeline (404 outside the caller's jurisdiction,
    unless a unit of theirs is sent to it and not yet released)."""
    return IncidentDetail(**_detail(session, service.get_incident(session, principal, incident_id), principal))


@router.get("/incidents/{incident_id}/recommendations", response_model=list[Recommendation], responses=ERRORS)
def recommendations(session: DbSession, incident_id: IncidentId,
                    k: Annotated[int | None, Query(ge=1, le=20)] = None,
                    principal: Principal = Depends(require("dispatch.command"))) -> list[Recommendation]:
    """The available units that reach the incident first, by ETA, now."""
    incident = service.get_incident(session, principal, incident_id)
    return [_recommendation(c) for c in service.recommend(session, incident, k=k)]


@router.post("/incidents/{incident_id}/dispatch", response_model=IncidentDetail, responses={**ERRORS, **CONFLICT})
def dispatch(session: DbSession, incident_id: IncidentId, body: DispatchIn,
             principal: Principal = Depends(require("dispatch.command"))) -> IncidentDetail:
    """Send units; each gets its order in its members' inbox."""
    service.dispatch(session, principal, incident_id, body.unit_ids)
    return IncidentDetail(**_detail(session, service.get_incident(session, principal, incident_id), principal))


@router.post("/incidents/{incident_id}/actions/{incident_action}", response_model=IncidentDetail,
             responses={**ERRORS, **CONFLICT})
def act_on_incident(session: DbSession, incident_id: IncidentId,
                    incident_action: Annotated[str, Path(
                        pattern="^(handle|file_report|close|cancel|transfer|merge|take_over)$")],
                    body: IncidentActionIn,
                    principal: Principal = Depends(require("dispatch.read"))) -> IncidentDetail:
    """handle, file_report (confirmed_nature, outcome, case_opened, case_number), close, cancel /
    transfer (note), merge (merged_into), take_over (a higher tier takes over command); each step
    checks its own permission in the table."""
    data = body.model_dump(exclude={"note"}, exclude_none=True)
    incident = service.incident_action(session, principal, incident_id, incident_action, note=body.note, data=data)
    return IncidentDetail(**_detail(session, incident, principal))


@router.post("/assignments/{assignment_id}/actions/{action}", response_model=AssignmentRead,
             responses={**ERRORS, **CONFLICT})
def act_on_assignment(session: DbSession, assignment_id: AssignmentId,
                      action: Annotated[str, Path(pattern="^(acknowledge|depart|arrive|release)$")],
                      body: ActionNote, principal: Principal = Depends(require("dispatch.read"))) -> AssignmentRead:
    """acknowledge / depart / arrive / release by a member of the unit (whatever their
    jurisdiction), or release by a commander who sees the incident."""
    assignment = service.assignment_action(session, principal, assignment_id, action, note=body.note,
                                           lng=body.lng, lat=body.lat)
    from civicgrid.response import repository

    signs = {u.id: u.call_sign for u in repository.units_by_ids(session, [assignment.unit_id]).values()}
    return _assignment_read(assignment, signs)


# ---------------------------------------------------------------- rings


@router.get("/figures/rings", response_model=RingFigures, responses=ERRORS)
def ring_figures(session: DbSession,
                 by: Annotated[str, Query(pattern="^(county|station|ring|category|hour)$")] = "county",
                 start: Annotated[datetime | None, Query()] = None, end: Annotated[datetime | None, Query()] = None,
                 principal: Principal = Depends(require("dispatch.read"))) -> RingFigures:
    """Share within target, median and 90th-percentile arrival of the incidents received in
    [start, end) (default: the last 30 days) that the caller may see (docs/figures.md)."""
    end = end or utcnow()
    start = start or end - timedelta(days=30)
    groups = service.ring_figures(session, principal, start=start, end=end, by=by)
    from civicgrid.response import repository

    names = (repository.org_unit_names(session, [g["key"] for g in groups]) if by == "station" else
             service.names(session, codes=[g["key"] for g in groups]) if by == "county" else {})
    return RingFigures(by=by, start=start, end=end,
                       groups=[RingFigureRead(**g, name=names.get(g["key"])) for g in groups])


@router.get("/zones", response_model=list[ZoneRead], responses=ERRORS)
def list_zones(session: DbSession, principal: Principal = Depends(require("dispatch.read"))) -> list[ZoneRead]:
    """The drawn ring zones (key sites, central city) in the caller's jurisdiction."""
    zones = service.list_zones(session, principal)
    names = service.names(session, codes=[z.division_code for z in zones])
    return [_zone(z, names) for z in zones]


@router.post("/zones", response_model=ZoneRead, status_code=201, responses=ERRORS)
def create_zone(session: DbSession, body: ZoneCreate,
                principal: Principal = Depends(require("dispatch.command"))) -> ZoneRead:
    """Draw a key-site or central-city zone; it overrides the default zone of what it covers."""
    zone = service.create_zone(session, principal, zone=body.zone, label=body.label,
                               division_code=body.division_code, polygon=body.polygon)
    return _zone(zone, service.names(session, codes=[zone.division_code]))


def _zone(z: RingZone, names: dict[str, str] | None = None) -> ZoneRead:
    return ZoneRead(id=z.id, zone=z.zone, label=z.label, division_code=z.division_code,
                    division_name=(names or {}).get(z.division_code), polygon=json.loads(z.polygon), active=z.active)


@router.get("/inferred-villages", response_model=dict[str, str], responses=ERRORS)
def inferred_villages(session: DbSession,
                      principal: Principal = Depends(require("dispatch.read"))) -> dict[str, str]:
    """Villages with no urban–rural code and the class taken from their township's majority, for
    the city to confirm (village code → central / town / rural), within the caller's jurisdiction."""
    return {code: klass for code, klass in places.inferred_villages(session).items() if principal.governs(code)}


# ---------------------------------------------------------------- WebSocket: positions


async def position_frame(websocket: WebSocket, principal: Principal, frame: dict[str, Any]) -> dict[str, Any] | None:
    """``{"action": "position", "unit_id": …, "lng": …, "lat": …, "at"?: …}`` (or ``"points": [...]``)
    on the unit's socket: the same telemetry path as the REST route, on the event loop without a
    database call (the index is built in a thread only the first time after a start). With
    ``"ack": true`` the answer is ``{"type": "position.accepted", "unit_id", "accepted"}``."""
    if not principal.can("dispatch.respond"):
        raise PermissionDenied("dispatch.respond")
    engine = websocket.app.state.engine
    url = str(engine.url)
    cached = cached_index(url)
    index = cached if cached is not None else await run_in_threadpool(_build_index, engine)
    try:
        unit_id = str(frame.get("unit_id") or "")
        body = PositionsIn.model_validate({"points": frame.get("points") or [
            {k: frame[k] for k in ("lng", "lat", "at", "speed_kmh", "heading") if k in frame}]})
    except ValidationError as exc:
        raise Invalid("位置报文格式不正确", "Malformed position frame",
                      details={"errors": [e["msg"] for e in exc.errors()][:5]}) from None
    accepted = service.report_positions(index, url, principal, unit_id,
                                        [(p.lng, p.lat, p.at, p.speed_kmh, p.heading) for p in body.points])
    if frame.get("ack"):
        return {"type": "position.accepted", "unit_id": unit_id, "accepted": accepted}
    return None


def _build_index(engine: Any) -> UnitIndex:
    from civicgrid.db import transaction
    from civicgrid.response.index import index_for

    with transaction(engine, write=False) as session:
        return index_for(session)


register_frame("position", position_frame)
