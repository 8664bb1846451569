"""The warning loop as a transition table (DESIGN.md rule 4).

raised → acknowledged → handled (the action taken is the note), or → escalated (one level up,
which must acknowledge in turn); withdrawn, with a reason, from any open status — never deleted.
A warning not acknowledged by its deadline escalates by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from civicgrid.alerts.models import OPEN_STATUSES, Alert, AlertLevel, AlertStatus
from civicgrid.timers import service as timers
from civicgrid.timers.models import Timer
from civicgrid.workflow.engine import SYSTEM, Deadline, Step, Transition, Workflow

ACK_KIND = "alerts.ack_due"
S = AlertStatus
HANDLE = "alerts.handle"
WITHDRAW = "alerts.withdraw"
# How long each level may wait for acknowledgement: house policy, set per level (no statute sets it).
ACK_WITHIN: dict[str, timedelta] = {
    AlertLevel.RED: timedelta(minutes=30),
    AlertLevel.ORANGE: timedelta(hours=2),
    AlertLevel.YELLOW: timedelta(hours=8),
    AlertLevel.BLUE: timedelta(hours=24),
}
WITHDRAW_REASONS: dict[str, tuple[str, str]] = {
    "late_data": ("数据迟到，预警条件实际未成立", "late data: the condition did not in fact hold"),
    "lawful_exception": ("依法属于例外情形", "a lawful exception applies"),
    "duplicate": ("与另一条预警重复", "duplicates another warning"),
    "source_closed": ("所涉事项已办结", "the record it concerns is closed"),
    "other": ("其他（见说明）", "other (see the note)"),
}


def parent_code(code: str) -> str | None:
    """The division one level above a division or grid code (village → township → county → city);
    None above the city."""
    if len(code) == 15:
        return code[:12]
    if code[4:] == "0" * 8:
        return None
    if code[6:] == "0" * 6:
        return code[:4] + "0" * 8
    if code[9:] == "000":
        return code[:6] + "0" * 6
    return code[:9] + "000"


def ack_deadline(alert: Alert, step: Step) -> Iterable[Deadline]:
    return [Deadline("ack", step.at + ACK_WITHIN.get(alert.level, timedelta(hours=8)), ACK_KIND)]


def _acknowledge(session: Session, alert: Alert, step: Step) -> None:
    alert.acknowledged_at = step.at


def _close(session: Session, alert: Alert, step: Step) -> None:
    alert.closed_at = step.at
    if step.action == "handle":
        alert.action_taken = step.note
    if step.action == "withdraw":
        alert.withdraw_reason = str(step.data.get("reason") or "other")


def _escalate(session: Session, alert: Alert, step: Step) -> None:
    above = parent_code(alert.division_code)
    assert above is not None  # the guard refused otherwise
    step.data.setdefault("from_division", alert.division_code)
    step.data.setdefault("to_division", above)
    alert.division_code = above
    alert.acknowledged_at = None
    alert.ack_due_at = step.at + ACK_WITHIN.get(alert.level, timedelta(hours=8))


def _can_escalate(alert: Alert, step: Step) -> tuple[str, str] | None:
    if parent_code(alert.division_code) is None:
        return ("已在最高一级，无法再上报", "Already at the top level: nowhere to escalate")
    return None


class WithdrawPayload(BaseModel):
    """What ``withdraw`` needs beyond its note: one of :data:`WITHDRAW_REASONS`."""

    reason: Literal["late_data", "lawful_exception", "duplicate", "source_closed", "other"] = Field(
        json_schema_extra={"zh": f"请选择撤回理由：{'、'.join(WITHDRAW_REASONS)}",
                           "en": f"choose a reason to withdraw: {', '.join(WITHDRAW_REASONS)}"})


ALERT_WORKFLOW = Workflow("alert", [
    Transition("acknowledge", {S.RAISED, S.ESCALATED}, S.ACKNOWLEDGED, permission=HANDLE, effect=_acknowledge),
    Transition("handle", {S.ACKNOWLEDGED}, S.HANDLED, permission=HANDLE, effect=_close, note_required=True),
    Transition("escalate", {S.RAISED, S.ACKNOWLEDGED, S.ESCALATED}, S.ESCALATED, permission=HANDLE, guard=_can_escalate,
               effect=_escalate, deadlines=ack_deadline, note_required=True),
    Transition("withdraw", set(OPEN_STATUSES), S.WITHDRAWN, permission=WITHDRAW, schema=WithdrawPayload,
               effect=_close, note_required=True),
], status_enum=AlertStatus)


@timers.handler(ACK_KIND)
def on_ack_due(session: Session, timer: Timer) -> None:
    """Not acknowledged in time: the warning goes one level up by itself (at the top it stays)."""
    from civicgrid.alerts import repository

    alert = repository.get_unscoped(session, timer.ref_id)
    if alert is None or alert.status not in (S.RAISED, S.ESCALATED) or parent_code(alert.division_code) is None:
        return
    ALERT_WORKFLOW.transition(session, alert, "escalate", SYSTEM,
                              note="未在时限内确认，自动上报上一级 / not acknowledged in time: escalated automatically",
                              data={"automatic": True})
