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


def raise_alert(session: Session, *, rule: Rule, level: str, reasons: list[Reason], division_code: str,
                source_type: str, source_id: str, source_label: str | None = None,
                owner_user_id: str | None = None, principal: Principal = SYSTEM,
                ack_within: timedelta | None = None) -> Alert:
    """Raise a warning (timeline entry 1, its acknowledgement deadline armed, announced after
    commit) — or return the one the rule already has open about the record, raised a level if
    this one is graver."""
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
    return alert


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
