"""Raising warnings, acting on them, and their figures.

Any module raises a warning with :func:`raise_alert` in the transaction that finds the
condition (a timer handler, a rule run, a service call); the warning then lives its own closed
loop (:mod:`civicgrid.alerts.workflow`). Boards and figures read from here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.alerts import repository
from civicgrid.alerts.models import Alert, AlertLevel, AlertStatus
from civicgrid.alerts.workflow import ACK_WITHIN, ALERT_WORKFLOW, WITHDRAW_REASONS, ack_deadline
from civicgrid.authz.principal import Principal
from civicgrid.inbox import service as inbox
from civicgrid.inbox.models import Kind
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import Invalid, NotFound
from civicgrid.workflow.engine import SYSTEM, Deadline, Step
from civicgrid.workflow.models import TimelineEvent


@dataclass(frozen=True)
class Reason:
    """One reason, in words, in both languages."""

    zh: str
    en: str


@dataclass(frozen=True)
class Rule:
    """What raises a warning: a code (``<domain>.<what>``), its name, and its legal basis where
    there is one (law, article, version)."""

    code: str
    name_zh: str
    name_en: str
    legal_basis: str | None = None


NOTIFY_DEFAULT = "alerts.handle"


def raise_alert(session: Session, *, rule: Rule, level: str, reasons: list[Reason], division_code: str,
                source_type: str, source_id: str, source_label: str | None = None,
                owner_user_id: str | None = None, principal: Principal = SYSTEM,
                ack_within: timedelta | None = None, notify: str | None = NOTIFY_DEFAULT) -> Alert:
    """Raise a warning (timeline entry 1, its acknowledgement deadline armed, announced after
    commit, and its inbox notice delivered) — or return the one the rule already has open about
    the record, raised a level if this one is graver.

    The notice goes to the owning unit's people: the holders of ``notify`` (a permission; by
    default ``alerts.handle``) whose own code is ``division_code``, and ``owner_user_id``; it
    links the record the warning is about. ``notify=None``: no notice. No module raising a
    warning has to remember its notice."""
    if level not in set(AlertLevel):
        raise Invalid(f"未知预警等级：{level}", f"Unknown warning level: {level}")
    if not reasons:
        raise Invalid("预警必须说明理由", "A warning needs at least one reason")
    existing = repository.open_for_source(session, rule.code, source_type, source_id)
    if existing is not None:
        return existing
    now = utcnow()
    alert = Alert(rule_code=rule.code, rule_name=rule.name_zh, legal_basis=rule.legal_basis, level=level,
                  source_type=source_type, source_id=source_id, source_label=source_label,
                  reasons=json.dumps([{"zh": r.zh, "en": r.en} for r in reasons], ensure_ascii=False),
                  division_code=division_code, origin_code=division_code, owner_user_id=owner_user_id,
                  raised_at=now, ack_due_at=now + (ack_within or ACK_WITHIN[AlertLevel(level)]), status_changed_at=now)

    def deadlines(entity: Alert, step: Step) -> list[Deadline]:
        return [Deadline(d.name, alert.ack_due_at, d.kind, d.payload) for d in ack_deadline(entity, step)]

    ALERT_WORKFLOW.start(session, alert, principal, action="raise", status=AlertStatus.RAISED,
                         note="；".join(r.zh for r in reasons),
                         data={"level": level, "rule": rule.code, "reasons": [r.__dict__ for r in reasons]},
                         deadlines=deadlines)
    session.flush()
    _notify(session, alert, rule, reasons, notify)
    return alert


def _notify(session: Session, alert: Alert, rule: Rule, reasons: list[Reason], permission: str | None) -> None:
    """The warning's inbox notice to its owning unit (see :func:`raise_alert`)."""
    label = alert.source_label
    message: dict[str, Any] = {
        "kind": Kind.NOTIFICATION,
        "title": (f"{rule.name_zh}：{label}", f"{rule.name_en}: {label}") if label else (rule.name_zh, rule.name_en),
        "body": ("\n".join(r.zh for r in reasons), "\n".join(r.en for r in reasons)),
        "link": (alert.source_type, alert.source_id), "division_code": alert.division_code}
    owner = {alert.owner_user_id} if alert.owner_user_id else set()
    if permission is not None:
        inbox.send_to_holders(session, permission=permission, division_codes={alert.division_code}, exclude=owner,
                              **message)
    if owner:
        inbox.send(session, recipients=owner, **message)


def get(session: Session, principal: Principal, alert_id: str) -> Alert:
    alert = repository.get(session, principal, alert_id)
    if alert is None:
        raise NotFound()
    return alert


def act(session: Session, principal: Principal, alert_id: str, action: str, *, note: str | None,
        reason: str | None = None) -> Alert:
    """Acknowledge, handle (note: the action taken), escalate or withdraw (reason + note)."""
    alert = get(session, principal, alert_id)
    data = {"reason": reason} if action == "withdraw" else None
    ALERT_WORKFLOW.transition(session, alert, action, principal, note=note, data=data)
    session.flush()
    return alert


def allowed_actions(alert: Alert, principal: Principal) -> list[str]:
    return ALERT_WORKFLOW.allowed_actions(alert, principal)


def timeline(session: Session, principal: Principal, alert: Alert) -> list[TimelineEvent]:
    return repository.timeline_of(session, alert.id, principal)


def listing(session: Session, principal: Principal, *, status: str | None = None, level: str | None = None,
            source_type: str | None = None, source_id: str | None = None, limit: int = 50,
            offset: int = 0) -> tuple[int, list[Alert]]:
    return repository.listing(session, principal, status=status, level=level, source_type=source_type,
                              source_id=source_id, limit=limit, offset=offset)


def withdraw_reasons() -> dict[str, tuple[str, str]]:
    return dict(WITHDRAW_REASONS)


@dataclass
class Figures:
    total: int
    by_status: dict[str, int]
    by_level: dict[str, int]
    open_by_level: dict[str, int]
    by_rule: list[dict[str, Any]]
    by_county: list[dict[str, Any]]
    withdrawn: int


def figures(session: Session, principal: Principal) -> Figures:
    """Counts of the warnings the caller may see, computed from the rows."""
    rows = repository.counts(session, principal, 6)
    by_status: dict[str, int] = defaultdict(int)
    by_level: dict[str, int] = defaultdict(int)
    open_by_level: dict[str, int] = defaultdict(int)
    rules: dict[str, dict[str, Any]] = {}
    counties: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for county, rule_code, rule_name, level, status, count in rows:
        by_status[status] += count
        by_level[level] += count
        if status in (AlertStatus.RAISED, AlertStatus.ACKNOWLEDGED, AlertStatus.ESCALATED):
            open_by_level[level] += count
        entry = rules.setdefault(rule_code, {"rule_code": rule_code, "rule_name": rule_name, "total": 0,
                                             "by_status": defaultdict(int)})
        entry["total"] += count
        entry["by_status"][status] += count
        counties[county][status] += count
    return Figures(
        total=sum(by_status.values()), by_status=dict(by_status), by_level=dict(by_level),
        open_by_level=dict(open_by_level),
        by_rule=[{**r, "by_status": dict(r["by_status"])} for r in sorted(rules.values(), key=lambda r: -r["total"])],
        by_county=[{"county": code.ljust(12, "0"), "by_status": dict(c), "total": sum(c.values())}
                   for code, c in sorted(counties.items())],
        withdrawn=by_status.get(AlertStatus.WITHDRAWN, 0))


def open_by_source(session: Session, principal: Principal, source_type: str,
                   rule_prefix: str = "") -> list[tuple[str, str, str]]:
    """(source id, rule code, level) of the open warnings about records of ``source_type`` (raised
    by rules whose code starts with ``rule_prefix``) the caller may see: what a module's own
    boards and heat maps count."""
    return repository.open_of_source_type(session, principal, source_type, rule_prefix)


def withdraw_for_source(session: Session, *, source_type: str, source_id: str, rule_prefix: str,
                        reason: str, note: str) -> list[Alert]:
    """Withdraw, as the system, the open warnings about a record raised by rules whose code starts
    with ``rule_prefix`` — when the record they warn of has ended (``reason`` one of
    :data:`WITHDRAW_REASONS`, usually ``source_closed``). Each is one ``withdraw`` step on its
    timeline (and so in the audit chain); handled and withdrawn ones are left as they are."""
    if reason not in WITHDRAW_REASONS:
        raise Invalid(f"未知撤回理由：{reason}", f"Unknown withdraw reason: {reason}")
    found = repository.open_of_source_unscoped(session, source_type, source_id, rule_prefix,
                                               "the record's own module withdraws its warnings as the system")
    for alert in found:
        ALERT_WORKFLOW.transition(session, alert, "withdraw", SYSTEM, note=note, data={"reason": reason})
    return found
