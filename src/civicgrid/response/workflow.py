"""The life cycles of rapid response as transition tables (DESIGN.md rule 4).

Incident (警情): received → dispatched → on scene → handled → feedback filed → closed; cancelled,
transferred (to another station, a higher tier or mediation) and merged from the open states.
Filing the response report (处警反馈) needs the confirmed nature and the outcome, and the case
number when a case was opened; closing needs the report filed.

Assignment (派警), a sub-entity: ordered → acknowledged → en route → on scene → released. Its
first state arms a 60 s acknowledgement deadline: not acknowledged in time, the incident is raised
to the county view as a platform warning (the order itself is re-pushed and raised to the
commander by the inbox).

Unit (警力单元): off duty ⇄ available ⇄ unavailable by the unit, and assigned / en route / on
scene / available derived from its assignments (``service.derive_unit_status``), never set by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.response.models import (
    Assignment,
    AssignmentStatus,
    Incident,
    IncidentStatus,
    ResponseUnit,
    UnitStatus,
)
from civicgrid.workflow.engine import Deadline, Step, Transition, Workflow

COMMAND = "dispatch.command"
RESPOND = "dispatch.respond"
UNITS = "dispatch.units"
ACK_DUE_KIND = "response.assignment_ack_due"
SHIFT_START_KIND = "response.shift_start"
SHIFT_END_KIND = "response.shift_end"
ACK_WITHIN = timedelta(seconds=60)

S = IncidentStatus
A = AssignmentStatus
U = UnitStatus
OPEN_INCIDENT = (S.RECEIVED, S.DISPATCHED, S.ON_SCENE)


def _report_complete(incident: Incident, step: Step) -> tuple[str, str] | None:
    nature = str(step.data.get("confirmed_nature") or "").strip()
    outcome = str(step.data.get("outcome") or "").strip()
    if not nature or not outcome:
        return ("处警反馈须填写警情性质与处置结果", "The response report needs the confirmed nature and the outcome")
    if step.data.get("case_opened") and not str(step.data.get("case_number") or "").strip():
        return ("已立案的须填写案件编号", "A case was opened: give its case number")
    return None


def _file_report(session: Session, incident: Incident, step: Step) -> None:
    incident.confirmed_nature = str(step.data["confirmed_nature"]).strip()[:100]
    incident.outcome = str(step.data["outcome"]).strip()
    incident.case_opened = bool(step.data.get("case_opened"))
    incident.case_number = (str(step.data.get("case_number") or "").strip() or None) if incident.case_opened else None


def _report_filed(incident: Incident, step: Step) -> tuple[str, str] | None:
    if not incident.confirmed_nature or not incident.outcome:
        return ("结束警情前须提交处警反馈", "File the response report before closing")
    return None


def _stamp(attribute: str):  # type: ignore[no-untyped-def]
    def effect(session: Session, entity: object, step: Step) -> None:
        if getattr(entity, attribute) is None:
            setattr(entity, attribute, step.at)
    return effect


def _arrive(session: Session, assignment: Assignment, step: Step) -> None:
    assignment.on_scene_at = step.at
    if assignment.acknowledged_at is None:
        assignment.acknowledged_at = step.at


TIER_RANK = {"station": 0, "county": 1, "city": 2}


def tier_of(principal: Principal) -> str:
    """city / county / station: the tier of command a caller's jurisdiction gives."""
    if principal.area_unit_id is None and len(principal.jurisdiction) <= 4:
        return "city"
    if principal.area_unit_id is None and len(principal.jurisdiction) <= 6:
        return "county"
    return "station"


def command_tier(incident: Incident) -> str:
    """The tier in command: the one that took over, else the station of the incident's area
    (the county where no station's area holds the place)."""
    return incident.command_tier or ("station" if incident.station_id else "county")


def _higher_tier(incident: Incident, step: Step) -> tuple[str, str] | None:
    if TIER_RANK[tier_of(step.principal)] <= TIER_RANK[command_tier(incident)]:
        return ("只有上级指挥台可以接管指挥", "Only a higher tier of command can take over")
    return None


def _take_over(session: Session, incident: Incident, step: Step) -> None:
    incident.command_tier = tier_of(step.principal)
    incident.command_by = step.principal.user_id or None


def _merge_target(incident: Incident, step: Step) -> tuple[str, str] | None:
    target = step.data.get("merged_into")
    if not target or target == incident.id:
        return ("请指定要并入的警情", "Name the incident to merge into")
    return None


def _merge(session: Session, incident: Incident, step: Step) -> None:
    incident.merged_into_id = str(step.data["merged_into"])
    incident.closed_at = step.at


def _close(session: Session, incident: Incident, step: Step) -> None:
    incident.closed_at = step.at


INCIDENT_WORKFLOW = Workflow("response_incident", [
    Transition("dispatch", {S.RECEIVED}, S.DISPATCHED, permission=COMMAND, effect=_stamp("dispatched_at")),
    Transition("arrive", {S.DISPATCHED}, S.ON_SCENE, permission=RESPOND, effect=_stamp("first_on_scene_at")),
    Transition("handle", {S.ON_SCENE}, S.HANDLED, permission=RESPOND, effect=_stamp("handled_at")),
    Transition("handle", {S.ON_SCENE}, S.HANDLED, permission=COMMAND, effect=_stamp("handled_at")),
    Transition("file_report", {S.HANDLED}, S.FEEDBACK_FILED, permission=RESPOND, guard=_report_complete,
               effect=_file_report),
    Transition("file_report", {S.HANDLED}, S.FEEDBACK_FILED, permission=COMMAND, guard=_report_complete,
               effect=_file_report),
    Transition("close", {S.FEEDBACK_FILED}, S.CLOSED, permission=COMMAND, guard=_report_filed, effect=_close),
    Transition("cancel", {S.RECEIVED, S.DISPATCHED}, S.CANCELLED, permission=COMMAND, effect=_close,
               note_required=True),
    Transition("transfer", {S.RECEIVED, S.DISPATCHED}, S.TRANSFERRED, permission=COMMAND, effect=_close,
               note_required=True),
    Transition("merge", {S.RECEIVED, S.DISPATCHED}, S.MERGED, permission=COMMAND, guard=_merge_target,
               effect=_merge),
    # A higher tier takes over command (指挥权上收): the status stays, the step is on the timeline.
    *[Transition("take_over", {status}, status, permission=COMMAND, guard=_higher_tier, effect=_take_over,
                 keep_deadlines=True) for status in OPEN_INCIDENT],
], status_enum=IncidentStatus, untimed=True)


def ack_deadline(assignment: Assignment, step: Step) -> Iterable[Deadline]:
    return [Deadline("ack", step.at + ACK_WITHIN, ACK_DUE_KIND)]


ASSIGNMENT_WORKFLOW = Workflow("response_assignment", [
    Transition("acknowledge", {A.ORDERED}, A.ACKNOWLEDGED, permission=RESPOND, effect=_stamp("acknowledged_at")),
    Transition("depart", {A.ORDERED, A.ACKNOWLEDGED}, A.EN_ROUTE, permission=RESPOND, effect=_stamp("en_route_at")),
    # Arriving answers the order too (a platform officer already at the key site).
    Transition("arrive", {A.ORDERED, A.ACKNOWLEDGED, A.EN_ROUTE}, A.ON_SCENE, permission=RESPOND, effect=_arrive),
    Transition("release", {A.ON_SCENE}, A.RELEASED, permission=RESPOND, effect=_stamp("released_at")),
    Transition("release", {A.ORDERED, A.ACKNOWLEDGED, A.EN_ROUTE, A.ON_SCENE}, A.RELEASED, permission=COMMAND,
               effect=_stamp("released_at")),
], status_enum=AssignmentStatus)

_BUSY = (U.AVAILABLE, U.ASSIGNED, U.EN_ROUTE, U.ON_SCENE, U.UNAVAILABLE)
UNIT_WORKFLOW = Workflow("response_unit", [
    Transition("sign_on", {U.OFF_DUTY}, U.AVAILABLE, permission=RESPOND),
    Transition("sign_on", {U.OFF_DUTY}, U.AVAILABLE, permission=UNITS),
    Transition("sign_off", {U.AVAILABLE, U.UNAVAILABLE}, U.OFF_DUTY, permission=RESPOND),
    Transition("sign_off", {U.AVAILABLE, U.UNAVAILABLE}, U.OFF_DUTY, permission=UNITS),
    Transition("stand_down", {U.AVAILABLE}, U.UNAVAILABLE, permission=RESPOND, note_required=True),
    Transition("stand_up", {U.UNAVAILABLE}, U.AVAILABLE, permission=RESPOND),
    # Derived from the unit's assignments by the system (service.derive_unit_status).
    Transition("assigned", set(_BUSY) - {U.ASSIGNED}, U.ASSIGNED, permission=COMMAND),
    Transition("en_route", set(_BUSY) - {U.EN_ROUTE}, U.EN_ROUTE, permission=COMMAND),
    Transition("on_scene", set(_BUSY) - {U.ON_SCENE}, U.ON_SCENE, permission=COMMAND),
    Transition("released", {U.ASSIGNED, U.EN_ROUTE, U.ON_SCENE}, U.AVAILABLE, permission=COMMAND),
], status_enum=UnitStatus, untimed=True)

UNIT_STATUS_ACTION = {U.ASSIGNED: "assigned", U.EN_ROUTE: "en_route", U.ON_SCENE: "on_scene",
                      U.AVAILABLE: "released"}


def unit_status_from(assignments: Iterable[Assignment]) -> UnitStatus | None:
    """The status a unit's live assignments give it (None: no live assignment)."""
    rank = {A.ORDERED: 1, A.ACKNOWLEDGED: 1, A.EN_ROUTE: 2, A.ON_SCENE: 3}
    best = max((rank.get(AssignmentStatus(a.status), 0) for a in assignments), default=0)
    return {0: None, 1: U.ASSIGNED, 2: U.EN_ROUTE, 3: U.ON_SCENE}[best]


__all__ = ["ASSIGNMENT_WORKFLOW", "INCIDENT_WORKFLOW", "UNIT_WORKFLOW", "ResponseUnit", "unit_status_from"]
