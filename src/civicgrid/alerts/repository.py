"""Every query of warnings, scoped by the caller (DESIGN.md rule 5)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicgrid.alerts.models import OPEN_STATUSES, Alert
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import unscoped, visible
from civicgrid.workflow.models import TimelineEvent


def get(session: Session, principal: Principal, alert_id: str) -> Alert | None:
    return session.scalars(select(Alert).where(Alert.id == alert_id, visible(Alert.division_code, principal))).first()


def get_unscoped(session: Session, alert_id: str) -> Alert | None:
    """For the timer handler, which acts as the system."""
    return session.scalars(select(Alert).where(Alert.id == alert_id,
                                               unscoped("the acknowledgement timer acts for the system"))).first()


def open_for_source(session: Session, rule_code: str, source_type: str, source_id: str) -> Alert | None:
    """The open warning a rule already raised about a record (a rule warns once until closed)."""
    return session.scalars(select(Alert).where(
        Alert.rule_code == rule_code, Alert.source_type == source_type, Alert.source_id == source_id,
        Alert.status.in_([str(s) for s in OPEN_STATUSES]),
        unscoped("a rule raising a warning checks its own open one, whoever can see it"))).first()


def listing(session: Session, principal: Principal, *, status: str | None, level: str | None,
            source_type: str | None, source_id: str | None, limit: int, offset: int) -> tuple[int, list[Alert]]:
    query = select(Alert).where(visible(Alert.division_code, principal))
    if status == "open":  # still to act on: raised, acknowledged or escalated
        query = query.where(Alert.status.in_([str(s) for s in OPEN_STATUSES]))
    elif status:
        query = query.where(Alert.status == status)
    if level:
        query = query.where(Alert.level == level)
    if source_type:
        query = query.where(Alert.source_type == source_type)
    if source_id:
        query = query.where(Alert.source_id == source_id)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit).offset(offset))
    return total, list(rows)


def counts(session: Session, principal: Principal, county_len: int) -> list[Any]:
    """(county prefix, rule, level, status, count) of every warning the caller may see."""
    county = func.substr(Alert.origin_code, 1, county_len)
    return list(session.execute(
        select(county, Alert.rule_code, Alert.rule_name, Alert.level, Alert.status, func.count())
        .where(visible(Alert.division_code, principal))
        .group_by(county, Alert.rule_code, Alert.rule_name, Alert.level, Alert.status)))


def timeline_of(session: Session, alert_id: str, principal: Principal) -> list[TimelineEvent]:
    """The warning's steps, read joined to the warning and scoped by it."""
    return list(session.scalars(
        select(TimelineEvent).join(Alert, Alert.id == TimelineEvent.entity_id)
        .where(TimelineEvent.entity_type == "alert", TimelineEvent.entity_id == alert_id,
               visible(Alert.division_code, principal)).order_by(TimelineEvent.seq)))


def open_of_source_type(session: Session, principal: Principal, source_type: str,
                        rule_prefix: str) -> list[tuple[str, str, str]]:
    """(source id, rule code, level) of the open warnings about one kind of record the caller may see."""
    return [(r[0], r[1], r[2]) for r in session.execute(
        select(Alert.source_id, Alert.rule_code, Alert.level).where(
            Alert.source_type == source_type, Alert.rule_code.startswith(rule_prefix, autoescape=True),
            Alert.status.in_([str(s) for s in OPEN_STATUSES]), visible(Alert.division_code, principal)))]


def open_of_source_unscoped(session: Session, source_type: str, source_id: str, rule_prefix: str,
                            why: str) -> list[Alert]:
    """The open warnings about one record raised by rules whose code starts with ``rule_prefix``,
    whoever may see them (the system withdrawing them when the record ends)."""
    return list(session.scalars(select(Alert).where(
        Alert.source_type == source_type, Alert.source_id == source_id,
        Alert.rule_code.startswith(rule_prefix, autoescape=True),
        Alert.status.in_([str(s) for s in OPEN_STATUSES]), unscoped(why)).order_by(Alert.raised_at, Alert.id)))
