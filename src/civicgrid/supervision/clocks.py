"""Clocks: every running statutory limit of a case or measure, settled against the facts.

A clock's outcome is a function of facts with their event times — its start, its adjustments
(exclusions, restarts), the statutory rule in force (an extension changes it) and the moment it
was met — and of now. :func:`settle` recomputes that outcome and moves the clock to it through
the workflow, so events arriving late or out of order converge on the same result:

* met before the deadline → ``met`` (a breach already raised is withdrawn as **late data** and a
  迟报 warning goes to the unit that reported late);
* met after the deadline, or not met by it → ``breached``, stamped **at the deadline**;
* not yet due → ``running``, with a durable timer for the warning and one for the deadline.

Warnings go through :mod:`civicgrid.alerts` to the handling unit's division (every level above
sees and receives them by jurisdiction): yellow before the deadline, the rule's severity at it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.alerts import repository as alerts_repository
from civicgrid.alerts import service as alerts
from civicgrid.alerts.models import OPEN_STATUSES
from civicgrid.alerts.workflow import ALERT_WORKFLOW
from civicgrid.authz.principal import Principal
from civicgrid.kit.clock import CHINA_TZ, utcnow
from civicgrid.supervision import catalogue, repository
from civicgrid.supervision.models import CaseRecord, Clock, ClockStatus, IntakeEvent
from civicgrid.supervision.workflow import CLOCK_WORKFLOW, DUE_KIND, WARN_KIND, clock_deadlines
from civicgrid.timers import service as timers
from civicgrid.timers.models import Timer
from civicgrid.workflow.engine import SYSTEM
from civicgrid.worktime import service as worktime
from civicgrid.worktime import statutory

K = ClockStatus
FINAL = {K.MET, K.EXCEPTED, K.STOPPED}
ACTIVITY_RESTART = "new_event"  # the restart a limit counted from the case's last activity declares
LATE_REPORT = alerts.Rule("supervision.late_report", "执法数据迟报", "Late reporting of enforcement data",
                          "执法监督数据报送要求 / supervision reporting duty")


def _fmt(moment: datetime | None) -> str:
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if moment else "—"


def adjustments(clock: Clock) -> list[statutory.ClockEvent]:
    return [statutory.ClockEvent(statutory.EventKind(e["kind"]), datetime.fromisoformat(e["at"]), e.get("reason", ""))
            for e in json.loads(clock.adjustments or "[]")]


def add_adjustment(clock: Clock, kind: str, at: datetime, reason: str) -> None:
    events = json.loads(clock.adjustments or "[]")
    events.append({"kind": kind, "at": at.isoformat(), "reason": reason})
    events.sort(key=lambda e: e["at"])
    clock.adjustments = json.dumps(events)


def compute(session: Session, clock: Clock, statutory_code: str | None = None) -> statutory.StatutoryDeadline:
    rule = catalogue.statutory_rule(statutory_code or clock.statutory_code)
    return statutory.deadline(rule, clock.start_at, adjustments(clock), worktime.load(session))


def warn_at(clock: Clock, due: datetime | None) -> datetime | None:
    if due is None:
        return None
    rule = catalogue.rules()[clock.rule_code]
    warn = due - timedelta(minutes=rule.warn_before_minutes)
    return warn if warn > clock.start_at else None


def _rule_ref(clock: Clock, what: str) -> alerts.Rule:
    rule = catalogue.rules()[clock.rule_code]
    version = rule.version_on(catalogue.act_day(clock.start_at))
    basis = "；".join(b.text_zh for b in version.basis) if version else None
    name = rule.name_zh if what == "breach" else f"{rule.name_zh}（即将届满）"
    name_en = rule.name_en if what == "breach" else f"{rule.name_en} (deadline near)"
    return alerts.Rule(f"supervision.{what}.{rule.code}"[:64], name[:100], name_en, basis[:300] if basis else None)


def _label(session: Session, clock: Clock) -> str:
    case = repository.case_unscoped(session, clock.case_id)
    return (case.title if case else clock.case_id)[:100]


def _withdraw(session: Session, alert_id: str | None, reason: str, note: str) -> None:
    if not alert_id:
        return
    alert = alerts_repository.get_unscoped(session, alert_id)
    if alert is not None and alert.status in OPEN_STATUSES:
        ALERT_WORKFLOW.transition(session, alert, "withdraw", SYSTEM, note=note, data={"reason": reason})


def withdraw_warning(session: Session, clock: Clock, note: str) -> None:
    """A lawful exception ends the limit: its open pre-deadline warning is withdrawn with that reason."""
    _withdraw(session, clock.warning_alert_id, "lawful_exception", note[:500])


def _raise_breach(session: Session, clock: Clock, due: datetime) -> None:
    rule = catalogue.rules()[clock.rule_code]
    met = f"，实际完成于 {_fmt(clock.met_at)}" if clock.met_at else "，至今未完成"
    met_en = f"; done at {_fmt(clock.met_at)}" if clock.met_at else "; not done"
    alert = alerts.raise_alert(
        session, rule=_rule_ref(clock, "breach"), level=rule.severity,
        reasons=[alerts.Reason(f"{rule.name_zh}：自 {_fmt(clock.start_at)} 起，期限 {_fmt(due)} 届满{met}",
                               f"{rule.name_en}: from {_fmt(clock.start_at)}, due {_fmt(due)}{met_en}")],
        division_code=clock.division_code, source_type="supervision_clock", source_id=clock.id,
        source_label=_label(session, clock))
    clock.breach_alert_id = alert.id


def _raise_warning(session: Session, clock: Clock) -> None:
    rule = catalogue.rules()[clock.rule_code]
    alert = alerts.raise_alert(
        session, rule=_rule_ref(clock, "warn"), level="yellow",
        reasons=[alerts.Reason(f"{rule.name_zh}：将于 {_fmt(clock.due_at)} 届满，请{rule.actors_zh}及时办理",
                               f"{rule.name_en}: due at {_fmt(clock.due_at)}; {rule.actors_en} must act")],
        division_code=clock.division_code, source_type="supervision_clock", source_id=clock.id,
        source_label=_label(session, clock))
    clock.warning_alert_id = alert.id


def _late_report(session: Session, clock: Clock, trigger: IntakeEvent | None) -> None:
    if trigger is None:
        return
    rule = catalogue.rules()[clock.rule_code]
    alerts.raise_alert(
        session, rule=LATE_REPORT, level="yellow",
        reasons=[alerts.Reason(f"{trigger.sender_id} 报送的事件（{trigger.event_id}，发生于 {_fmt(trigger.event_at)}）"
                               f"于 {_fmt(trigger.received_at)} 才送达，{rule.name_zh} 的超期预警因数据迟到撤回",
                               f"Event {trigger.event_id} from {trigger.sender_id}, which happened at "
                               f"{_fmt(trigger.event_at)}, arrived at {_fmt(trigger.received_at)}: the breach of "
                               f"'{rule.name_en}' was withdrawn as late data")],
        division_code=clock.division_code, source_type="supervision_event", source_id=trigger.id,
        source_label=f"{trigger.sender_id}:{trigger.event_id}"[:100])


def settle(session: Session, principal: Principal, clock: Clock, trigger: IntakeEvent | None = None,
           *, stop: bool = False) -> None:
    """Move ``clock`` to the outcome its facts and now decide (module docstring). ``trigger``:
    the event that brought new facts (named in a 迟报 warning if it withdraws a breach)."""
    if clock.status in FINAL:
        return
    now = utcnow()
    result = compute(session, clock)
    due = result.due_at
    clock.explanation = result.explanation_zh
    status = K(clock.status)
    met_in_time = clock.met_at is not None and (due is None or clock.met_at <= due)
    data: dict[str, Any] = {"due_at": due.isoformat() if due else None,
                            "met_at": clock.met_at.isoformat() if clock.met_at else None}

    if met_in_time:
        clock.due_at, clock.warn_at = due, warn_at(clock, due)
        if status is K.BREACHED:
            _withdraw(session, clock.breach_alert_id, "late_data",
                      f"数据迟到：实际于 {_fmt(clock.met_at)} 完成，未超过期限 {_fmt(due)} / late data: done in time")
            clock.breached_at = None
            CLOCK_WORKFLOW.transition(session, clock, "late_data_met", principal, data=data,
                                      note="迟到数据表明按期完成 / late data: met in time")
            _late_report(session, clock, trigger)
        else:
            CLOCK_WORKFLOW.transition(session, clock, "stop" if stop else "meet", principal, data=data)
        _withdraw(session, clock.warning_alert_id, "source_closed", "已按期完成 / done in time")
        return

    if due is None:  # an exclusion is running
        clock.due_at = clock.warn_at = None
        if status is not K.PAUSED:
            CLOCK_WORKFLOW.transition(session, clock, "pause", principal, data=data)
        return

    if clock.met_at is not None or now >= due:
        if status is K.BREACHED and clock.breached_at == due:
            return
        if status is K.BREACHED:  # the deadline itself moved (late extension, restart): stamp it anew
            _withdraw(session, clock.breach_alert_id, "late_data",
                      f"期限经迟到数据重新计算为 {_fmt(due)} / deadline recomputed from late data")
            clock.due_at = clock.breached_at = due
            CLOCK_WORKFLOW.transition(session, clock, "restamp", principal, data=data)
        else:
            clock.due_at = clock.breached_at = due
            CLOCK_WORKFLOW.transition(session, clock, "breach", principal, data=data,
                                      note=f"期限 {_fmt(due)} 届满 / due at {_fmt(due)}")
        _raise_breach(session, clock, due)
        return

    warn = warn_at(clock, due)
    if status is K.BREACHED:
        _withdraw(session, clock.breach_alert_id, "late_data",
                  f"迟到数据表明期限为 {_fmt(due)}，尚未届满 / late data: due at {_fmt(due)}, not yet passed")
        clock.breached_at = None
        clock.due_at, clock.warn_at = due, warn
        CLOCK_WORKFLOW.transition(session, clock, "late_data_running", principal, data=data)
        _late_report(session, clock, trigger)
    elif status is K.PAUSED or clock.due_at != due or clock.warn_at != warn:
        moved_later = clock.due_at is not None and due > clock.due_at
        clock.due_at, clock.warn_at = due, warn
        CLOCK_WORKFLOW.transition(session, clock, "retime", principal, data=data)
        if moved_later and clock.warning_alert_id and (warn is None or now < warn):
            _withdraw(session, clock.warning_alert_id, "other", f"期限已延至 {_fmt(due)} / deadline moved")
            clock.warning_alert_id = None
    if warn is not None and now >= warn and clock.warning_alert_id is None:
        _raise_warning(session, clock)


def open_clock(session: Session, principal: Principal, case: CaseRecord, rule: catalogue.Rule, start_at: datetime,
               subject_id: str, measure_id: str | None = None, *, fresh: bool = False,
               statutory_code: str | None = None) -> Clock | None:
    """Start ``rule``'s clock on a case or measure from ``start_at`` — unless the rule is disabled
    for the date of the act (planned, or its basis not verified), or it already runs (``fresh``:
    the subject was created by this event, so none can run yet and none is looked for).
    ``statutory_code``: the counting rule of a rule that follows another limit (``in_area``)."""
    day = catalogue.act_day(start_at)
    version = rule.version_on(day)
    counting = statutory_code or (version.statutory if version is not None else None)
    if version is None or not rule.enabled_on(day) or counting is None:
        return None
    existing = None if fresh else repository.clock_by_rule(session, case.id, subject_id, rule.code)
    if existing is not None:
        return existing
    clock = Clock(case_id=case.id, subject_id=subject_id, measure_id=measure_id, division_code=case.division_code,
                  sender_id=case.sender_id, rule_code=rule.code, statutory_code=counting,
                  law_version=version.law_version, start_at=start_at, adjustments="[]")
    result = compute(session, clock)
    clock.due_at, clock.explanation = result.due_at, result.explanation_zh
    clock.warn_at = warn_at(clock, result.due_at)
    CLOCK_WORKFLOW.start(session, clock, principal, action="start", status=K.RUNNING, deadlines=clock_deadlines,
                         data={"rule": rule.code, "statutory": counting, "start_at": start_at.isoformat(),
                               "due_at": clock.due_at.isoformat() if clock.due_at else None})
    session.flush()
    settle(session, principal, clock)
    return clock


def new_activity(session: Session, principal: Principal, case: CaseRecord, at: datetime,
                 trigger: IntakeEvent | None) -> None:
    """An event of ``case`` happened at ``at``: the limits counted from the case's last activity
    (``stale_case``: restarts ``new_event``) count afresh from it. A late event older than the
    last activity changes nothing; one that shows activity before a breach withdraws it as late
    data (:func:`settle`). Only the latest restart is kept: an earlier one no longer counts."""
    for clock in repository.activity_clocks(session, case.id, [str(k) for k in FINAL]):
        rule = catalogue.statutory_rule(clock.statutory_code)
        if not any(r.code == ACTIVITY_RESTART for r in rule.restarts):
            continue
        last = max([clock.start_at, *(e.at for e in adjustments(clock) if e.kind is statutory.EventKind.RESTART)])
        if at <= last:
            continue
        clock.adjustments = "[]"
        add_adjustment(clock, statutory.EventKind.RESTART.value, at, ACTIVITY_RESTART)
        settle(session, principal, clock, trigger)


def _on_timer(session: Session, timer: Timer) -> None:
    """A clock's warning or deadline timer fired: settle it as the system (idempotent)."""
    clock = repository.clock_unscoped(session, timer.ref_id)
    if clock is None or clock.status in FINAL:
        return
    settle(session, SYSTEM, clock)


timers.handler(WARN_KIND)(_on_timer)
timers.handler(DUE_KIND)(_on_timer)
