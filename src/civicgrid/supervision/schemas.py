"""Request and response bodies of the supervision routes (docs/api/supervision.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from civicgrid.kit.personal import MaskedIdNumber, MaskedName

SENDER = r"^[A-Za-z0-9._:\-]{1,64}$"


class EventBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")
    kind: str = Field(min_length=1, max_length=32)
    at: AwareDatetime = Field(description="When it happened (with a time zone); event time decides")
    data: dict[str, Any] = Field(default_factory=dict)


class BatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender: str = Field(pattern=SENDER, description="The sending system's id (boundary platform, case system)")
    events: list[EventBody] = Field(min_length=1, max_length=1000)


class EventResult(BaseModel):
    index: int
    event_id: str
    outcome: str = Field(description="applied, duplicate or refused")
    reason: str | None = None
    reason_zh: str | None = None
    reason_en: str | None = None
    field: str | None = None
    row: int | None = Field(default=None, description="File upload: the row (the header is row 1)")
    column: str | None = Field(default=None, description="File upload: the column")


class BatchAnswer(BaseModel):
    applied: int
    duplicates: int
    refused: int
    results: list[EventResult]


class BasisRead(BaseModel):
    law: str
    version: str
    in_force_from: str
    in_force_until: str | None
    article: int
    paragraph: int | None
    verified: bool
    text: str
    note: str = ""


class VersionRead(BaseModel):
    statutory: str | None
    valid_from: str | None
    valid_until: str | None
    verified: bool
    basis: list[BasisRead]


class ExceptionOptionRead(BaseModel):
    code: str
    name: str
    effect: str
    basis: BasisRead


class RuleRead(BaseModel):
    code: str
    name: str
    status: str
    enabled_today: bool
    disabled_reason: str | None
    watches_measures: list[str]
    watches_stages: list[str]
    case_kinds: list[str]
    warn_before_minutes: int
    severity: str
    actors: str
    versions: list[VersionRead]
    exceptions: list[ExceptionOptionRead]
    extensions: list[str]
    note: str = ""


class PersonRead(BaseModel):
    id: str
    external_id: str
    role: str
    name: MaskedName
    id_number: MaskedIdNumber
    minor_under_14: bool


class MeasureRead(BaseModel):
    id: str
    external_id: str
    person_id: str
    kind: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None


class ExtensionRead(BaseModel):
    clock_id: str
    measure_id: str | None
    limit_code: str
    to_statutory: str
    approver: str
    document_no: str
    article: str
    at: datetime


class ClockExceptionRead(BaseModel):
    clock_id: str
    kind: str
    at: datetime
    approver: str
    document_no: str
    basis: str
    note: str | None
    recorded_by: str
    recorded_at: datetime


class ClockRead(BaseModel):
    id: str
    case_id: str
    measure_id: str | None
    rule_code: str
    rule_name: str
    severity: str
    statutory_code: str
    law_version: str
    status: str
    start_at: datetime
    warn_at: datetime | None
    due_at: datetime | None
    met_at: datetime | None
    breached_at: datetime | None
    explanation: str
    warned: bool = Field(default=False, description="The yellow warning before the deadline has been raised")
    case_title: str | None = None
    exception_options: list[str] = []


class PropertyRead(BaseModel):
    id: str
    external_id: str
    description: str
    measure: str
    value_fen: int | None
    owner_name: MaskedName
    storage_place: str | None
    label_no: str | None
    holder: str | None
    status: str


class CustodyRead(BaseModel):
    at: datetime
    action: str
    from_holder: str | None
    to_holder: str | None
    place: str | None


class PropertyDetailRead(PropertyRead):
    case_id: str
    chain: list[CustodyRead]


class DocumentRead(BaseModel):
    doc_type: str
    document_no: str | None
    measure_id: str | None
    issued_at: datetime


class VisitRead(BaseModel):
    area_id: str
    room_id: str | None
    person_id: str
    entered_at: datetime
    left_at: datetime | None
    area_title: str | None = None
    room_title: str | None = None


class TimelineItem(BaseModel):
    at: datetime
    kind: str
    source: str
    ref: str
    received_at: datetime | None
    late: bool
    detail: str | None


class CaseRead(BaseModel):
    id: str
    sender_id: str
    external_id: str
    kind: str
    case_no: str | None
    title: str
    category: str | None
    unit_id: str
    division_code: str
    officers: list[str]
    enterprise_involved: bool
    amount_fen: int | None
    incident_no: str | None
    fast_track: bool
    stage: str
    supplementary_count: int
    accepted_at: datetime
    last_event_at: datetime


class CasePage(BaseModel):
    total: int
    items: list[CaseRead]


class CaseFileRead(CaseRead):
    persons: list[PersonRead]
    measures: list[MeasureRead]
    extensions: list[ExtensionRead]
    clocks: list[ClockRead]
    exceptions: list[ClockExceptionRead]
    property: list[PropertyRead]
    documents: list[DocumentRead]
    visits: list[VisitRead]
    timeline: list[TimelineItem]


class PersonDetailRead(PersonRead):
    case_id: str
    measures: list[MeasureRead]


class ExceptionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: str = Field(min_length=1, max_length=40)
    at: AwareDatetime | None = Field(default=None, description="When it applied; now when omitted")
    approver: str = Field(min_length=1, max_length=100)
    document_no: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=2000)
    resume: bool = Field(default=False, description="For an excluded period (鉴定): its end")


class BoardRead(BaseModel):
    counts: dict[str, int]
    live: list[ClockRead]
    breaches: list[ClockRead]
    exceptions: list[ClockExceptionRead]


class CaseFigures(BaseModel):
    received: int
    received_criminal: int
    received_administrative: int
    filed: int = Field(description="Criminal cases with a 立案 stage event in the range")
    closed: int = Field(description="Cases that reached a closing stage (移送审查起诉, 不予立案, 撤案; 执行完毕, "
                                    "不予处罚, 撤销) in the range")


class RuleCount(BaseModel):
    rule_code: str
    name_zh: str
    name_en: str
    count: int


class UnitCount(BaseModel):
    unit_id: str
    unit_name: str
    count: int


class BreachFigures(BaseModel):
    total: int
    by_rule: list[RuleCount]
    by_unit: list[UnitCount]


class WarningFigures(BaseModel):
    raised: int
    withdrawn: int
    acknowledged_in_time: int
    acknowledged_late: int
    not_acknowledged: int
    in_time_rate: float | None = Field(description="acknowledged in time ÷ (raised − withdrawn); null when 0")


class MeasureFigures(BaseModel):
    kind: str
    name_zh: str
    name_en: str
    started: int
    ended: int
    avg_hours: float | None
    max_hours: float | None


class PropertyFigures(BaseModel):
    seized: int
    seized_value_fen: int
    held_at_end: int
    held_value_fen: int
    held_after_case_ended: int
    overdue_for_disposal: int = Field(description="Held at the end past the disposal deadline of its case's end "
                                                  "(rule property_not_disposed, city practice)")
    returned: int
    disposed: int


class FiguresRead(BaseModel):
    division_code: str
    unit_id: str | None
    unit_name: str | None
    start: date
    end: date
    cases: CaseFigures
    breaches: BreachFigures
    warnings: WarningFigures
    measures: list[MeasureFigures]
    property: PropertyFigures


class AreaRead(BaseModel):
    id: str
    unit_id: str
    division_code: str
    code: str
    title: str
    inside: int = Field(description="People in the area now")


class RoomRead(BaseModel):
    id: str
    code: str
    title: str
    room_type: str | None


class OccupantRead(BaseModel):
    visit_id: str
    person_id: str
    person_name: MaskedName | None
    person_role: str | None
    case_id: str
    case_title: str | None
    room_id: str | None
    room_title: str | None
    entered_at: datetime
    measure_kind: str | None
    measure_started_at: datetime | None
    clock: ClockRead | None


class RoomBoardRead(BaseModel):
    area: AreaRead
    rooms: list[RoomRead]
    occupants: list[OccupantRead]


class LedgerRow(PropertyRead):
    case_id: str
    case_title: str
    case_kind: str
    case_stage: str


class LedgerPage(BaseModel):
    total: int
    items: list[LedgerRow]


class RegionBreaches(BaseModel):
    code: str
    open_breaches: int


class UnitBreaches(BaseModel):
    unit_id: str
    unit_name: str
    division_code: str
    breaches: int
    open_breaches: int = Field(description="Breaches whose warning is still open (not yet handled)")


class BreachMapRead(BaseModel):
    division_code: str
    regions: list[RegionBreaches]
    units: list[UnitBreaches]
