"""Life cycles of the supervision records, as transition tables.

Stages are tables per kind (and, with issue 2, per organ). Criminal (police)::

    accepted ─file─▶ filed ─investigate─▶ investigating ─request_arrest─▶ arrest_requested
    accepted ─not_file─▶ not_filed
    arrest_requested ─approve_arrest─▶ arrest_approved | ─refuse_arrest─▶ arrest_refused
    filed / investigating / arrest_approved / arrest_refused / supplementary ─transfer─▶ prosecution_review
    prosecution_review ─return_supplementary─▶ supplementary   (at most twice: 刑事诉讼法 Art. 175)
    any open stage ─withdraw─▶ withdrawn (撤案)

Administrative (治安)::

    accepted ─investigate─▶ investigating ─decide─▶ decided ─execute─▶ executed
    accepted / investigating ─not_punish─▶ not_punished;  ─withdraw─▶ withdrawn
    (快速办理: a flag on the case; its 48-hour clock runs from 受案)

A clock (one running statutory limit) moves running ⇄ paused, then met, breached, excepted or
stopped; ``late_data_met`` / ``late_data_running`` take a breach back only when late data proves
the limit was in fact kept (the breach warning is withdrawn, never deleted). Intake acts with
``supervision.ingest``; lawful exceptions need ``supervision.handle``.
"""

from __future__ import annotations

from collections.abc import Iterable

from civicgrid.supervision.models import (
    AdminStage,
    Clock,
    ClockStatus,
    CriminalStage,
    MeasureStatus,
    PropertyStatus,
)
from civicgrid.workflow.engine import Deadline, Step, Transition, Workflow

INGEST = "supervision.ingest"
HANDLE = "supervision.handle"
WARN_KIND = "supervision.clock_warn"
DUE_KIND = "supervision.clock_due"
MAX_SUPPLEMENTARY = 2  # 刑事诉讼法 (2018) Art. 175(4): 补充侦查以二次为限

C = CriminalStage
A = AdminStage


def _supplementary_left(case: object, step: Step) -> tuple[str, str] | None:
    if int(getattr(case, "supplementary_count", 0)) >= MAX_SUPPLEMENTARY:
        return ("补充侦查以二次为限（刑事诉讼法第175条）",
                "Supplementary investigation is limited to two returns (CPL Art. 175)")
    return None


def _count_supplementary(session: object, case: object, step: Step) -> None:
    case.supplementary_count = int(getattr(case, "supplementary_count", 0)) + 1  # type: ignore[attr-defined]


CRIMINAL_OPEN = {C.ACCEPTED, C.FILED, C.INVESTIGATING, C.ARREST_REQUESTED, C.ARREST_APPROVED, C.ARREST_REFUSED,
                 C.PROSECUTION_REVIEW, C.SUPPLEMENTARY}

CRIMINAL_WORKFLOW = Workflow("supervision_case_criminal", [
    Transition("file", {C.ACCEPTED}, C.FILED, permission=INGEST),
    Transition("not_file", {C.ACCEPTED}, C.NOT_FILED, permission=INGEST),
    Transition("investigate", {C.FILED, C.ARREST_APPROVED, C.ARREST_REFUSED}, C.INVESTIGATING, permission=INGEST),
    Transition("request_arrest", {C.FILED, C.INVESTIGATING, C.ARREST_REFUSED}, C.ARREST_REQUESTED, permission=INGEST),
    Transition("approve_arrest", {C.ARREST_REQUESTED}, C.ARREST_APPROVED, permission=INGEST),
    Transition("refuse_arrest", {C.ARREST_REQUESTED}, C.ARREST_REFUSED, permission=INGEST),
    Transition("transfer", {C.FILED, C.INVESTIGATING, C.ARREST_APPROVED, C.ARREST_REFUSED, C.SUPPLEMENTARY},
               C.PROSECUTION_REVIEW, permission=INGEST),
    Transition("return_supplementary", {C.PROSECUTION_REVIEW}, C.SUPPLEMENTARY, permission=INGEST,
               guard=_supplementary_left, effect=_count_supplementary),
    Transition("withdraw", CRIMINAL_OPEN, C.WITHDRAWN, permission=INGEST),
], status_enum=CriminalStage)

ADMIN_WORKFLOW = Workflow("supervision_case_administrative", [
    Transition("investigate", {A.ACCEPTED}, A.INVESTIGATING, permission=INGEST),
    Transition("decide", {A.ACCEPTED, A.INVESTIGATING}, A.DECIDED, permission=INGEST),
    Transition("not_punish", {A.ACCEPTED, A.INVESTIGATING}, A.NOT_PUNISHED, permission=INGEST),
    Transition("execute", {A.DECIDED}, A.EXECUTED, permission=INGEST),
    Transition("withdraw", {A.ACCEPTED, A.INVESTIGATING}, A.WITHDRAWN, permission=INGEST),
], status_enum=AdminStage)


def case_workflow(kind: str) -> Workflow:
    return CRIMINAL_WORKFLOW if kind == "criminal" else ADMIN_WORKFLOW


MEASURE_WORKFLOW = Workflow("supervision_measure", [
    Transition("extend", {MeasureStatus.RUNNING}, MeasureStatus.RUNNING, permission=INGEST, keep_deadlines=True),
    Transition("end", {MeasureStatus.RUNNING}, MeasureStatus.ENDED, permission=INGEST),
], status_enum=MeasureStatus)

P = PropertyStatus
PROPERTY_WORKFLOW = Workflow("supervision_property", [
    Transition("transfer", {P.HELD}, P.HELD, permission=INGEST),
    Transition("return", {P.HELD}, P.RETURNED, permission=INGEST),
    Transition("confiscate", {P.HELD}, P.CONFISCATED, permission=INGEST),
    Transition("auction", {P.HELD}, P.AUCTIONED, permission=INGEST),
    Transition("destroy", {P.HELD}, P.DESTROYED, permission=INGEST),
], status_enum=PropertyStatus)


def clock_deadlines(clock: Clock, step: Step) -> Iterable[Deadline]:
    """A warning timer before the deadline (when still ahead) and the deadline itself."""
    out: list[Deadline] = []
    if clock.warn_at is not None and clock.warn_at > step.at:
        out.append(Deadline("warn", clock.warn_at, WARN_KIND))
    if clock.due_at is not None:
        out.append(Deadline("due", clock.due_at, DUE_KIND))
    return out


K = ClockStatus
LIVE = {K.RUNNING, K.PAUSED}
CLOCK_WORKFLOW = Workflow("supervision_clock", [
    Transition("retime", LIVE, K.RUNNING, permission=INGEST, deadlines=clock_deadlines),
    Transition("pause", LIVE, K.PAUSED, permission=INGEST),
    Transition("meet", LIVE, K.MET, permission=INGEST),
    Transition("breach", LIVE, K.BREACHED, permission=INGEST),
    Transition("restamp", {K.BREACHED}, K.BREACHED, permission=INGEST),
    Transition("late_data_met", {K.BREACHED}, K.MET, permission=INGEST),
    Transition("late_data_running", {K.BREACHED}, K.RUNNING, permission=INGEST, deadlines=clock_deadlines),
    Transition("except", LIVE, K.EXCEPTED, permission=HANDLE, note_required=True),
    Transition("adjust", LIVE, K.RUNNING, permission=HANDLE, deadlines=clock_deadlines, note_required=True),
    Transition("adjust_pause", LIVE, K.PAUSED, permission=HANDLE, note_required=True),
    Transition("stop", LIVE, K.STOPPED, permission=INGEST),
], status_enum=ClockStatus)
