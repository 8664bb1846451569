"""Request and response bodies of the matters API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from civicgrid.kit.personal import MaskedName, MaskedPhone

IntakeChannel = Literal["grid_worker", "resident", "hotline", "volunteer"]


class MatterCreate(BaseModel):
    """A report: what, where (WGS-84), through which channel, and who called (hotline)."""

    type_code: str = Field(min_length=1, max_length=16)
    title: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=4000)
    lng: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    address: str | None = Field(default=None, max_length=200)
    channel: IntakeChannel
    reporter_name: str | None = Field(default=None, max_length=64)
    reporter_phone: str | None = Field(default=None, max_length=32)


class TransitionIn(BaseModel):
    """``{"action", "note", ...}``; extra fields (satisfaction, days, level, duplicate_of,
    candidate_id, result) go to the action."""

    model_config = ConfigDict(extra="allow")

    action: str = Field(min_length=1, max_length=48)
    note: str | None = Field(default=None, max_length=4000)
    lng: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)

    def extra(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


# ---------------------------------------------------------------- action payloads
# Each action that takes data beyond its note names one of these in the transition table
# (matters/workflow.py); the workflow kit validates it and answers 422 naming the field.


def _words(zh: str, en: str) -> dict[str, Any]:
    return {"zh": zh, "en": en}


class EvaluatePayload(BaseModel):
    satisfaction: int = Field(strict=True, ge=1, le=5,
                              json_schema_extra=_words("满意度应为 1–5 的整数", "satisfaction must be 1 to 5"))


class ExtensionPayload(BaseModel):
    days: int = Field(strict=True, ge=1, le=30,
                      json_schema_extra=_words("延期天数应为 1–30 个工作日", "days must be 1 to 30 working days"))


class SupervisePayload(BaseModel):
    days: int = Field(3, strict=True, ge=1, le=30,
                      json_schema_extra=_words("督办期限应为 1–30 个工作日", "days must be 1 to 30 working days"))


class ReassignPayload(BaseModel):
    level: Literal["village", "township", "county", "city"] = Field(
        json_schema_extra=_words("应为 village/township/county/city", "must be village, township, county or city"))


class MergePayload(BaseModel):
    duplicate_of: str = Field(min_length=1, max_length=32, json_schema_extra=_words("必填", "required"))


class KeepSeparatePayload(BaseModel):
    candidate_id: str = Field(min_length=1, max_length=32, json_schema_extra=_words("必填", "required"))


class ResolvePayload(BaseModel):
    result: str | None = Field(None, max_length=4000, json_schema_extra=_words("处理结果过长", "result is too long"))


class TimelineRead(BaseModel):
    seq: int
    action: str
    from_status: str | None
    to_status: str
    actor_name: str
    actor_role: str | None
    actor_display_name: str | None = Field(None, description="The actor's name as people read it (not the login)")
    actor_unit_name: str | None = Field(None, description="The actor's org unit, if they belong to one")
    at: datetime
    note: str | None
    lng: float | None
    lat: float | None
    division_code: str | None
    data: dict[str, Any] | None = None


class PhotoRead(BaseModel):
    """A photo of a matter; its bytes are the stored file ``file_id`` at ``url``."""

    id: str
    stage: str
    file_id: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    url: str


class DuplicateRead(BaseModel):
    candidate_id: str
    candidate_number: str | None
    distance_m: float
    decision: str


class SupervisionRead(BaseModel):
    id: str
    issuer_division_code: str
    issuer_division_name: str | None = None
    note: str
    due_at: datetime
    status: str
    answer: str | None
    created_at: datetime
    answered_at: datetime | None


class SettleOnSpotPayload(BaseModel):
    result: str = Field(min_length=1, max_length=4000,
                        json_schema_extra=_words("请填写现场处置结果", "say what was done on the spot"))


class CorrectPlacePayload(BaseModel):
    lng: float = Field(ge=-180, le=180, json_schema_extra=_words("经度有误", "longitude out of range"))
    lat: float = Field(ge=-90, le=90, json_schema_extra=_words("纬度有误", "latitude out of range"))
    address: str | None = Field(None, max_length=200, json_schema_extra=_words("地址过长", "address is too long"))


class PlaceCorrectionIn(BaseModel):
    """更正位置: the right point (WGS-84), the address as it should read, and why (required)."""

    lng: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    address: str | None = Field(default=None, max_length=200)
    reason: str = Field(min_length=1, max_length=500, description="更正原因, e.g. 来电人所述地址有误")


class PlaceCorrected(BaseModel):
    """Where a corrected matter went: its new grid and owning unit, named; ``visible`` is false
    when the new owner lies outside the caller's jurisdiction (the matter left the caller's view)."""

    id: str
    number: str
    status: str
    grid_code: str
    grid_name: str | None
    division_code: str
    division_name: str | None
    owner_level: str
    address: str | None
    visible: bool


class SatisfactionIn(BaseModel):
    """满意度: 1 (不满意) to 5 (非常满意), from the person who reported the matter."""

    satisfaction: int = Field(strict=True, ge=1, le=5)
    note: str | None = Field(default=None, max_length=1000)


class WithdrawIn(BaseModel):
    note: str | None = Field(default=None, max_length=500, description="撤回原因 (optional)")


class MatterRead(BaseModel):
    """A matter as a queue shows it."""

    id: str
    number: str
    type_code: str
    type_name: str
    catalogue_version: int
    title: str
    description: str
    channel: str
    reporter_name: MaskedName  # 李**: a reveal is its own, audited call
    reporter_phone: MaskedPhone  # 138****5678
    address: str | None
    lng: float
    lat: float
    grid_code: str
    division_code: str
    owner_level: str
    department: str
    status: str
    step: str | None
    step_due_at: datetime | None
    alert: str
    overdue: bool
    reported_at: datetime
    accepted_at: datetime | None
    dispatched_at: datetime | None
    handled_at: datetime | None
    closed_at: datetime | None
    escalations: int
    rework_count: int
    extension_days: int | None
    settled_level: str | None
    settled_division_code: str | None
    result: str | None
    satisfaction: int | None
    evaluation_note: str | None
    duplicate_of: str | None
    supervised: bool
    external_system: str | None = None  # e.g. hotline_12345: the matter is that system's record
    external_ref: str | None = None  # the system's own number (the hotline's ticket number)
    request_type: str | None = None  # 咨询/求助/投诉/举报/建议 (matters.models.REQUEST_TYPES)
    on_spot: bool = False  # 就地办结 by the grid's worker
    spot_check: bool = False  # drawn for a supervisor's spot check (抽查)
    grid_name: str | None = Field(None, description="The grid's name, for people to read")
    division_name: str | None = Field(None, description="The owning division's name")


class RevealIn(BaseModel):
    """One field of one matter in clear, and why: the purpose is required and audited."""

    field: Literal["reporter_name", "reporter_phone"]
    purpose: str = Field(min_length=1, max_length=200, description="事由, e.g. 回访核实")


class RevealRead(BaseModel):
    """A revealed value (recorded in the audit chain)."""

    id: str
    field: str
    value: str | None


class PrintIn(BaseModel):
    """Why the report sheet is printed: required and audited (printing shows the reporter in clear)."""

    purpose: str = Field(min_length=1, max_length=200, description="事由, e.g. 归档")


class VerifierRead(BaseModel):
    """Who verifies a handled matter by default (GB/T 30428): ``grid_worker`` (the worker of its
    grid, on site with a photo), ``owner`` (the owning unit's officers, when the grid's worker
    handled it or the grid has none) or ``spot_check`` (a level above the owner)."""

    kind: str
    names: list[str] = Field(default_factory=list, description="The people named, by display name")


class MatterDetail(MatterRead):
    """A matter with everything hanging off it, and what the caller may do next."""

    timeline: list[TimelineRead]
    photos: list[PhotoRead]
    duplicates: list[DuplicateRead]
    supervision: list[SupervisionRead]
    verifier: VerifierRead | None = None  # while handled: who verifies it by default
    allowed_actions: list[str]


class PublicNote(BaseModel):
    """A timeline note written for the person who reported (acceptance, rejection, result, closing)."""

    action: str
    at: datetime
    note: str


class MatterPublic(BaseModel):
    """The public view of a matter: what a reporter outside the owner's jurisdiction sees of what
    they reported, on every channel (REST and Open311) — number, type, status and the public
    notes; no actor names, internal notes, duplicate candidates or personal data."""

    view: Literal["public"] = "public"
    id: str
    number: str
    type_code: str
    type_name: str
    status: str
    reported_at: datetime
    status_changed_at: datetime
    notes: list[PublicNote]


class MyReport(MatterPublic):
    """The reporter's own report: its public view, whether the reporter may still rate it or
    withdraw it, and the rating given (满意度 comes from the reporter, never the handler)."""

    satisfaction: int | None
    can_rate: bool
    can_withdraw: bool
    withdraw_until: datetime | None


class MatterPage(BaseModel):
    items: list[MatterRead]
    total: int
    offset: int
    limit: int


class StepLimit(BaseModel):
    amount: int
    unit: str


class MatterTypeRead(BaseModel):
    code: str
    version: int
    category: str
    category_name: str
    name: str
    name_zh: str
    name_en: str
    owner_level: str
    department: str
    department_en: str
    list_kind: str
    limits: dict[str, StepLimit]
    auto_escalate: bool
    handoff: str | None
    active: bool


class MatterTypeIn(BaseModel):
    """A matter type to add or replace; ``limits`` is ``{"accept": [2, "working_hours"], ...}``."""

    code: str | None = Field(default=None, max_length=16)
    category: str
    category_zh: str | None = None
    category_en: str | None = None
    name_zh: str
    name_en: str
    owner_level: str
    department: str
    department_en: str = ""
    list_kind: str
    limits: dict[str, list[Any]]
    auto_escalate: bool = False
    handoff: str | None = None
    active: bool = True


class CatalogueVersionRead(BaseModel):
    version: int
    created_at: datetime
    created_by: str
    note: str
    is_current: bool
    types: int


class CallerHistoryIn(BaseModel):
    """The phone number of the call being taken, and why it is looked up (audited)."""

    phone: str = Field(min_length=3, max_length=32)
    purpose: str = Field(default="12345 来电核实 / checking a 12345 call", min_length=1, max_length=200)


class CallerMatter(BaseModel):
    """One earlier matter of the caller, as the desk shows it (the phone masked)."""

    id: str
    number: str
    title: str
    type_name: str
    status: str
    reported_at: datetime
    reporter_phone: MaskedPhone


class CallerHistoryRead(BaseModel):
    items: list[CallerMatter]


class HotlineExtensionRead(BaseModel):
    """A 12345 matter whose owner asked for more time (申请延期), for the 12345 desk: the operator
    tells the caller, and the level above decides."""

    id: str
    number: str
    title: str
    external_ref: str | None = Field(None, description="The hotline's ticket number")
    division_name: str | None = Field(None, description="The owning unit, named")
    days: int = Field(description="Working days asked for")
    reason: str | None
    asked_at: datetime | None
    step_due_at: datetime | None = Field(None, description="The current deadline, before any extension")
