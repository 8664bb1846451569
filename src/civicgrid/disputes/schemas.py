"""Request and response bodies of the disputes API. Personal data of parties and mediators is
declared with the ``Masked*`` types: every response serialises it masked; a clear value leaves
only through the audited reveal."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from civicgrid.kit.personal import MaskedAddress, MaskedIdNumber, MaskedName, MaskedPhone


class PartyIn(BaseModel):
    """A party: a person (name; document type and number, GA/T 517 kinds; phone; home address) or
    an organisation (name; unified social credit code, GB 32100)."""

    kind: Literal["person", "organisation"]
    role: Literal["applicant", "respondent", "other"] = "applicant"
    full_name: str | None = Field(default=None, max_length=60)
    org_name: str | None = Field(default=None, max_length=200)
    uscc: str | None = Field(default=None, max_length=18)
    doc_type: Literal["resident_id", "hmt_residence_permit", "foreigner_permanent_residence", "passport", "none"] = (
        "none"
    )
    id_number: str | None = Field(default=None, max_length=32)
    phone: str | None = Field(default=None, max_length=20)
    address: str | None = Field(default=None, max_length=200)


class DisputeCreate(BaseModel):
    """Register a dispute once: name, date, place (a map point snapped to its grid, or words the
    gazetteer resolves, or a division code), category, scale, people, amount (fen), source, risk,
    parties; optionally the handling unit to route it to at once."""

    title: str = Field(min_length=1, max_length=120)
    summary: str = Field(default="", max_length=2000)
    happened_on: date
    place: str | None = Field(default=None, max_length=200)
    lng: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    division_code: str | None = Field(default=None, pattern=r"^\d{12}(\d{3})?$")
    category: str = Field(min_length=1, max_length=32)
    scale: Literal["general", "large", "major", "extraordinary"] = "general"
    people_involved: int = Field(default=2, ge=0, le=1_000_000)
    amount_fen: int = Field(default=0, ge=0, le=10**15)
    source: Literal["screening", "walk_in", "hotline_12345", "police", "court", "petition"]
    risk_level: Literal["low", "medium", "high"] = "low"
    complexity: Literal["simple", "general", "complex"] = "general"
    court_mode: Literal["pre_filing", "entrusted_ordinary", "entrusted_summary"] | None = None
    court_receipt_at: datetime | None = None
    parties: list[PartyIn] = Field(default_factory=list, max_length=50)
    unit_id: str | None = Field(default=None, max_length=32)


class TransitionIn(BaseModel):
    """``{"action", "note", ...}``; extra fields (unit_id, mediator_id, routes, terms) go to the action."""

    model_config = ConfigDict(extra="allow")

    action: str = Field(min_length=1, max_length=48)
    note: str | None = Field(default=None, max_length=4000)

    def extra(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PartyRead(BaseModel):
    id: str
    kind: str
    role: str
    full_name: MaskedName = None
    org_name: str | None
    uscc: str | None
    doc_type: str
    id_number: MaskedIdNumber = None
    phone: MaskedPhone = None
    address: MaskedAddress = None
    signed_at: datetime | None


class SessionIn(BaseModel):
    held_at: datetime | None = None
    participants: str = Field(default="", max_length=2000)
    notes: str = Field(default="", max_length=8000)
    result: Literal["progress", "agreed", "failed"] = "progress"


class AttachmentRead(BaseModel):
    """A file attached to a session; its bytes are at ``url`` (the file store)."""

    file_id: str
    kind: str
    content_type: str
    size: int
    file_name: str | None
    url: str


class SessionRead(BaseModel):
    id: str
    dispute_id: str | None = None
    attachments: list[AttachmentRead] = []
    held_at: datetime
    participants: str
    notes: str
    result: str
    handler_unit_id: str | None
    mediator_id: str | None


class AgreementIn(BaseModel):
    """A written mediation agreement (人民调解法 Art. 29): the main facts, the issues in dispute,
    each party's responsibility, the terms, how and by when they are performed. The parties'
    basic particulars come from the dispute's parties."""

    facts: str = Field(min_length=1, max_length=8000)
    issues: str = Field(min_length=1, max_length=4000)
    responsibilities: str = Field(default="", max_length=4000)
    terms: str = Field(min_length=1, max_length=8000)
    performance: str = Field(default="", max_length=2000)
    perform_by: date | None = None


class SignIn(BaseModel):
    """Who signs: one party (``party_id``), or the mediator (``mediator: true``)."""

    party_id: str | None = Field(default=None, max_length=32)
    mediator: bool = False


class JudicialIn(BaseModel):
    """The parties jointly applied for judicial confirmation, or the court decided."""

    action: Literal["apply", "decision"]
    decision: Literal["confirmed", "rejected"] | None = None
    note: str | None = Field(default=None, max_length=2000)


class AgreementRead(BaseModel):
    id: str
    kind: str
    status: str
    facts: str
    issues: str
    responsibilities: str
    terms: str
    performance: str
    perform_by: date | None
    mediator_signed_at: datetime | None
    sealed_at: datetime | None
    effective_at: datetime | None
    judicial_due_at: datetime | None
    judicial_status: str
    performance_status: str = "unknown"
    visited_at: datetime | None = None


class ReturnVisitIn(BaseModel):
    """A return visit (履行回访): how the agreement is being performed, and what was seen."""

    performed: Literal["performed", "partly", "not_performed"]
    note: str = Field(min_length=1, max_length=2000)


class TimelineRead(BaseModel):
    seq: int
    entity_type: str
    action: str
    from_status: str | None
    to_status: str
    actor_name: str
    at: datetime
    note: str | None


class DisputeRead(BaseModel):
    id: str
    number: str
    title: str
    happened_on: date
    place: str | None
    grid_code: str | None
    division_code: str
    category: str
    category_name: str
    scale: str
    people_involved: int
    amount_fen: int
    source: str
    risk_level: str
    complexity: str
    court_mode: str | None
    status: str
    registered_at: datetime
    handler_kind: str | None
    handler_unit_id: str | None
    handler_level: str | None
    mediator_id: str | None
    due_at: datetime | None
    limit_basis: str | None
    overdue: bool
    failed_attempts: int
    transfers: int
    outcome: str | None
    settled_level: str | None
    settled_division_code: str | None
    matter_id: str | None
    incident_id: str | None


class DisputeDetail(DisputeRead):
    summary: str
    division_name: str | None = None
    lng: float | None
    lat: float | None
    court_receipt_at: datetime | None
    other_routes: list[str]
    police_reported: bool
    threats: int
    turned_criminal_at: datetime | None = None
    turned_collective_at: datetime | None = None
    concluded_at: datetime | None
    parties: list[PartyRead]
    sessions: list[SessionRead]
    agreement: AgreementRead | None
    timeline: list[TimelineRead]
    allowed_actions: list[str]


class DisputePage(BaseModel):
    total: int
    items: list[DisputeRead]


class RevealIn(BaseModel):
    party_id: str = Field(min_length=1, max_length=32)
    field: Literal["full_name", "id_number", "phone", "address"]
    purpose: str = Field(min_length=1, max_length=200)


class RevealRead(BaseModel):
    field: str
    value: str | None


class PrintIn(BaseModel):
    purpose: str = Field(min_length=1, max_length=200, description="事由, e.g. 送达当事人")


class MediatorIn(BaseModel):
    full_name: str = Field(min_length=1, max_length=60)
    phone: str | None = Field(default=None, max_length=20)
    category: Literal["five_elders", "lawyer", "professional", "sector", "village"]
    elder_kind: Literal["retired_cadre", "teacher", "veteran", "party_member", "model_worker"] | None = None
    specialties: list[str] = Field(default_factory=list, max_length=20)
    org_unit_id: str = Field(min_length=1, max_length=32)
    user_id: str | None = Field(default=None, max_length=32)


class MediatorRead(BaseModel):
    id: str
    full_name: MaskedName = None
    phone: MaskedPhone = None
    category: str
    elder_kind: str | None
    specialties: list[str]
    org_unit_id: str
    division_code: str
    active: bool
    load: int
    outcomes: dict[str, int]
    score: float | None = None


class MediatorPage(BaseModel):
    total: int
    items: list[MediatorRead]


class ScreeningIn(BaseModel):
    """A screening report for one period; ``found`` = 0 is a zero report (零报告), which counts as filed."""

    division_code: str = Field(pattern=r"^\d{12}$")
    period_start: date
    found: int = Field(ge=0, le=100_000)
    note: str = Field(default="", max_length=4000)


class ScreeningRead(BaseModel):
    id: str
    division_code: str
    division_name: str | None = None
    level: str
    period_start: date
    period_end: date
    due_at: datetime
    found: int
    note: str
    filed_at: datetime
    on_time: bool


class ScreeningPage(BaseModel):
    total: int
    items: list[ScreeningRead]


class CategoryRead(BaseModel):
    code: str
    name: str
    name_zh: str
    name_en: str


class FiguresRead(BaseModel):
    """Figures of a division and an inclusive range of local dates (definitions: docs/figures.md)."""

    division_code: str
    start: date
    end: date
    received: int
    concluded: int
    settled: int
    failed: int
    refused: int
    success_rate: float | None
    settled_levels: dict[str, int]
    settled_level_shares: dict[str, float | None]
    on_time_rate: float | None
    agreements_effective: int
    judicial_applied: int
    judicial_confirmed: int
    return_visited: int
    agreements_performed: int
    screening_due: int
    screening_on_time: int
    screening_on_time_rate: float | None
    police_referred: int
    turned_criminal: int
    turned_collective: int
    turned_rate: float | None
    ring_calls: int
    ring_arrived: int
    ring_hit: int
    ring_hit_rate: float | None


class HeatCell(BaseModel):
    """One grid (or division) of the warning heat map."""

    code: str
    name: str
    lng: float | None
    lat: float | None
    warnings: int
    disputes: int
    level: str
    rules: dict[str, int]


class HandlerChoice(BaseModel):
    """A body a dispute may be routed or transferred to."""

    unit_id: str
    name: str
    kind: str
    kind_name: str
    division_code: str
    level: str


class WorkbenchRead(BaseModel):
    """The mediator's workbench: my open files, today's sessions, limits ending within three days."""

    files: list[DisputeRead]
    sessions_today: list[SessionRead]
    deadlines: list[DisputeRead]
