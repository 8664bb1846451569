"""The hand-off contracts: what each event carries, versioned (docs/events.md lists them).

A contract is a Pydantic model. A publisher's payload is validated against it, so a consumer can
rely on the fields; a change that removes or retypes a field is a new version. Personal data does
not travel in events: a consumer that needs a reporter's phone asks the owning module, which
checks the permission and audits the reveal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import get_args

from pydantic import BaseModel, ConfigDict, Field


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DisputeReported(Contract):
    """A reported matter of a type whose catalogue ``handoff`` is ``disputes`` was handed off
    (action ``hand_off``, the matter closes as 移交矛盾纠纷): the disputes module registers it for
    mediation once (登记一次，源头化解)."""

    matter_id: str = Field(description="The matter's id (matters module)")
    number: str = Field(description="The matter's number, e.g. YZ20261203000123")
    type_code: str = Field(description="Matter type code in the catalogue")
    type_name: str = Field(description="Matter type name, zh-CN")
    division_code: str = Field(description="12-digit division that owns the matter")
    grid_code: str | None = Field(None, description="15-digit grid where it was reported")
    reported_at: datetime = Field(description="When it was reported (UTC)")
    summary: str = Field(description="The report's description")


class MediationRequested(Contract):
    """A police call or incident is better settled by mediation (警调对接): the dispatch module
    hands it to the mediation committee of the place. The parties travel as a count and roles
    only: their names and contacts are personal data, read from the dispatch module through its
    audited reveal when the mediator needs them."""

    incident_id: str = Field(description="The incident's id (dispatch module)")
    division_code: str = Field(description="Division where it happened")
    grid_code: str | None = Field(None, description="Grid where it happened")
    place: str | None = Field(None, description="Where it happened, in words (a place, not a person's home)")
    happened_at: datetime = Field(description="When it happened (UTC)")
    summary: str = Field(description="What the officer recorded")
    party_count: int = Field(2, description="How many parties (people or organisations) are involved")
    party_roles: list[str] = Field(default_factory=list,
                                   description="The parties' roles as recorded (e.g. 报警人, 对方), no names")
    officer_id: str = Field(description="The account of the officer who referred it")


class PoliceReferral(Contract):
    """A mediator found a risk the police must handle (民转刑 risk, threats, violence; 人民调解法
    Art. 25): the disputes module hands the case to the police station of the place."""

    dispute_id: str = Field(description="The dispute's id (disputes module)")
    division_code: str = Field(description="Division of the dispute")
    risk_level: str = Field(description="low, medium or high")
    reasons: list[str] = Field(description="Why, in words (zh-CN)")
    mediator_id: str = Field(description="The mediator's account")


class MatterHandedBack(Contract):
    """A matter that came from an external system (a 12345 hotline ticket) was returned to it by
    its owning unit (退回热线: misrouted, not the unit's to handle). The hotline reads it with its API
    key from ``GET /api/v1/hotline/returns`` (docs/api/clients.md) and routes the ticket again."""

    matter_id: str = Field(description="The matter's id (matters module)")
    number: str = Field(description="The matter's number, e.g. YZ-20261203-000123")
    external_system: str = Field(description="The system it came from, e.g. hotline_12345")
    external_ref: str = Field(description="The system's own number of the record (the hotline's ticket number)")
    owner_division_code: str = Field(description="12-digit division of the unit that returned it")
    reason: str = Field(description="Why the unit returned it (required)")
    handed_back_at: datetime = Field(description="When it was returned (UTC)")


class MatterExtended(Contract):
    """The time limit of a matter that came from an external system (a 12345 hotline ticket) was
    extended: the level above approved its owning unit's request (延期). The hotline reads it with
    its API key from ``GET /api/v1/hotline/extensions`` and tells the caller the new date."""

    matter_id: str = Field(description="The matter's id (matters module)")
    number: str = Field(description="The matter's number, e.g. YZ-20261203-000123")
    external_system: str = Field(description="The system it came from, e.g. hotline_12345")
    external_ref: str = Field(description="The system's own number of the record (the hotline's ticket number)")
    owner_division_code: str = Field(description="12-digit division of the unit that handles it")
    days: int = Field(description="Working days granted")
    step_due_at: datetime = Field(description="The new deadline of the step (UTC)")
    reason: str = Field(description="Why the unit asked for more time")
    extended_at: datetime = Field(description="When the extension was approved (UTC)")


@dataclass(frozen=True)
class ContractSpec:
    name: str
    version: int
    model: type[Contract]
    publisher: str
    consumers: str
    status: str  # "live": published today; "planned": the publishing module is not built yet


CONTRACTS: dict[str, ContractSpec] = {spec.name: spec for spec in (
    ContractSpec("matters.dispute_reported", 1, DisputeReported, "matters", "disputes", "live"),
    ContractSpec("dispatch.mediation_requested", 1, MediationRequested, "dispatch", "disputes", "planned"),
    ContractSpec("disputes.police_referral", 1, PoliceReferral, "disputes", "dispatch", "live"),
    ContractSpec("matters.handed_back", 1, MatterHandedBack, "matters", "hotline", "live"),
    ContractSpec("matters.extended", 1, MatterExtended, "matters", "hotline", "live"),
)}


def render_markdown() -> str:
    """The contracts as the tables of docs/events.md (a test keeps the file equal to this)."""
    lines: list[str] = []
    for spec in CONTRACTS.values():
        if spec.publisher == "tests":
            continue
        lines += [f"### `{spec.name}` (version {spec.version}, {spec.status})", "",
                  " ".join((spec.model.__doc__ or "").split()), "",
                  f"Published by `{spec.publisher}`, consumed by `{spec.consumers}`.", "",
                  "| field | type | meaning |", "|---|---|---|"]
        for name, field in spec.model.model_fields.items():
            annotation = field.annotation
            plain = getattr(annotation, "__name__", None) if not get_args(annotation) else None
            kind = (plain or str(annotation).replace("typing.", "")).replace(" | ", " or ")
            required = "" if field.is_required() else " (optional)"
            lines.append(f"| `{name}` | {kind}{required} | {field.description or ''} |")
        lines.append("")
    return "\n".join(lines)
