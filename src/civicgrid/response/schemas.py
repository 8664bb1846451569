"""Rapid-response payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

ID = r"^[0-9a-f]{32}$"


class UnitCreate(BaseModel):
    call_sign: str = Field(min_length=1, max_length=40)
    unit_type: str = Field(pattern="^(patrol_car|motorcycle|foot_patrol|station_duty|village_auxiliary|platform_team)$")
    org_unit_id: str = Field(pattern=ID)
    members: list[str] = Field(default_factory=list, max_length=20)


class UnitRead(BaseModel):
    id: str
    call_sign: str
    unit_type: str
    org_unit_id: str
    division_code: str
    status: str
    members: list[str]
    org_unit_name: str | None = None
    division_name: str | None = Field(None, description="The name of the division the unit is filed under")
    member_names: list[str] = Field(default_factory=list, description="Display names of the members, in order")
    shift_ends_at: datetime | None = Field(None, description="When the unit's running shift ends (none: off shift)")
    lng: float | None = None
    lat: float | None = None
    position_at: datetime | None = None


class UnitPage(BaseModel):
    total: int
    items: list[UnitRead]


class ActionNote(BaseModel):
    note: str | None = Field(None, max_length=2000)
    lng: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)


class PositionIn(BaseModel):
    lng: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    at: AwareDatetime | None = None
    speed_kmh: float | None = Field(None, ge=0, le=400)
    heading: float | None = Field(None, ge=0, lt=360)


class PositionsIn(BaseModel):
    points: list[PositionIn] = Field(min_length=1, max_length=1000)


class PositionsAccepted(BaseModel):
    accepted: int


class IncidentCreate(BaseModel):
    category: str = Field(min_length=1, max_length=40)
    priority: int = Field(ge=1, le=3)
    lng: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    summary: str = Field("", max_length=2000)
    source_ref: str | None = Field(None, max_length=64, description="A matter id when transferred from a matter")
    k: int | None = Field(None, ge=1, le=20)


class MatterTransferIn(BaseModel):
    """A reported matter handed to the police as an incident (its place and words come along)."""

    category: str = Field(min_length=1, max_length=40)
    priority: int = Field(ge=1, le=3)
    summary: str | None = Field(None, max_length=2000, description="Default: the matter's title and description")
    k: int | None = Field(None, ge=1, le=20)


class Intake110Item(BaseModel):
    number_110: str = Field(min_length=1, max_length=64, description="The 110 system's incident number")
    category: str = Field(min_length=1, max_length=40)
    priority: int = Field(ge=1, le=3)
    lng: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    summary: str = Field("", max_length=2000)
    clock: dict[str, AwareDatetime] = Field(default_factory=dict,
                                            description="The source's clock points, e.g. call_received_at, answered_at")


class Intake110(BaseModel):
    items: list[Intake110Item] = Field(min_length=1, max_length=200)


class Recommendation(BaseModel):
    unit_id: str
    call_sign: str
    unit_type: str
    distance_m: int
    eta_seconds: int
    cross_border: bool
    lng: float
    lat: float
    position_at: datetime | None


class AssignmentRead(BaseModel):
    id: str
    unit_id: str
    call_sign: str | None
    status: str
    cross_border: bool
    eta_seconds: int | None
    distance_m: int | None
    wave: str | None
    ordered_at: datetime
    acknowledged_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    released_at: datetime | None


class TimelineRead(BaseModel):
    seq: int
    action: str
    from_status: str | None
    to_status: str
    actor_name: str
    at: datetime
    note: str | None
    data: dict[str, Any] | None = None


class IncidentRead(BaseModel):
    id: str
    number: str
    category: str
    priority: int
    summary: str
    lng: float
    lat: float
    grid_code: str
    grid_name: str | None = None
    county_code: str
    county_name: str | None = None
    place_name: str | None = Field(None, description="County, township and village names of the place: "
                                   "what a person reads instead of the grid code")
    station_id: str | None
    station_name: str | None = None
    urban_class: str
    source: str
    source_ref: str | None
    source_clock: dict[str, Any]
    status: str
    call_received_at: datetime
    dispatched_at: datetime | None
    acknowledged_at: datetime | None
    first_on_scene_at: datetime | None
    reinforcement_on_scene_at: datetime | None
    handled_at: datetime | None
    closed_at: datetime | None
    ring_zone: str
    ring_target_seconds: int
    ring_basis: str
    ring_deadline: datetime = Field(description="When the ring's time runs out (the console's countdown)")
    arrival_seconds: int | None
    ring_hit: bool | None
    confirmed_nature: str | None
    outcome: str | None
    case_opened: bool | None
    case_number: str | None
    merged_into_id: str | None
    allowed_actions: list[str]
    command_tier: str = Field("station", description="station / county / city: the tier in command (a higher "
                              "tier may take over)")


class IncidentDetail(IncidentRead):
    assignments: list[AssignmentRead]
    timeline: list[TimelineRead]


class IncidentCreated(IncidentDetail):
    recommendations: list[Recommendation]
    merge_candidates: list[str] = Field(description="Numbers of open incidents at the same place (± 100 m, 10 min)")


class IncidentPage(BaseModel):
    total: int
    items: list[IncidentRead]


class DispatchIn(BaseModel):
    unit_ids: list[str] = Field(min_length=1, max_length=20)


class IncidentActionIn(BaseModel):
    note: str | None = Field(None, max_length=2000)
    confirmed_nature: str | None = Field(None, max_length=100)
    outcome: str | None = Field(None, max_length=4000)
    case_opened: bool | None = None
    case_number: str | None = Field(None, max_length=64)
    merged_into: str | None = Field(None, pattern=ID)


class RingFigureRead(BaseModel):
    key: str
    name: str | None = None
    incidents: int
    arrived: int
    within_target: int
    share_within_target: float | None
    median_arrival_seconds: float | None
    p90_arrival_seconds: float | None


class RingFigures(BaseModel):
    by: str
    start: datetime
    end: datetime
    groups: list[RingFigureRead]


class ZoneCreate(BaseModel):
    zone: str = Field(pattern="^(key_site|central_city)$")
    label: str = Field(min_length=1, max_length=100)
    division_code: str = Field(pattern=r"^\d{12}$")
    polygon: dict[str, Any]


class ZoneRead(BaseModel):
    id: str
    zone: str
    label: str
    division_code: str
    division_name: str | None = None
    polygon: dict[str, Any]
    active: bool


class ShiftCreate(BaseModel):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    members: list[str] = Field(default_factory=list, max_length=20,
                               description="User ids among the unit's members (none: all of them)")
    note: str | None = Field(None, max_length=200)


class ShiftRead(BaseModel):
    """A duty period of a unit (班次): the unit is available from its start and off duty after its end."""

    id: str
    unit_id: str
    call_sign: str | None
    org_unit_name: str | None = None
    starts_at: datetime
    ends_at: datetime
    members: list[str]
    member_names: list[str]
    note: str | None
    state: str = Field(description="planned / on / ending (out on an assignment after its end) / ended / cancelled")


class MyOrder(BaseModel):
    """An order of one of the caller's units: the assignment and the incident it sends them to."""

    unit_id: str
    assignment: AssignmentRead
    incident: IncidentDetail


class MyWork(BaseModel):
    """The caller's units (as a member) and their orders not yet released: the phone page."""

    units: list[UnitRead]
    orders: list[MyOrder]
