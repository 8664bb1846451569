"""Every query of the disputes module, scoped by the caller (DESIGN.md rule 5). Child rows
(parties, sessions, agreements, timelines) are read joined to their dispute and scoped by it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import scope_clause, unscoped, visible
from civicgrid.disputes.models import (
    Agreement,
    Dispute,
    DisputeParty,
    MediationSession,
    Mediator,
    ScreeningReport,
)
from civicgrid.files.models import StoredFile
from civicgrid.people.orgs.models import OrgUnit
from civicgrid.workflow.models import TimelineEvent

OPEN = ("registered", "routed", "mediating")


def add(session: Session, row: Any) -> None:
    session.add(row)


def get(session: Session, principal: Principal, dispute_id: str) -> Dispute | None:
    return session.scalars(
        select(Dispute).where(Dispute.id == dispute_id, visible(Dispute.division_code, principal))
    ).first()


def get_unscoped(session: Session, dispute_id: str, reason: str) -> Dispute | None:
    return session.scalars(select(Dispute).where(Dispute.id == dispute_id, unscoped(reason))).first()


def by_matter(session: Session, matter_id: str) -> Dispute | None:
    return session.scalars(
        select(Dispute).where(
            Dispute.matter_id == matter_id, unscoped("a hand-off is registered once: the consumer checks")
        )
    ).first()


def by_incident(session: Session, incident_id: str) -> Dispute | None:
    return session.scalars(
        select(Dispute).where(
            Dispute.incident_id == incident_id, unscoped("a hand-off is registered once: the consumer checks")
        )
    ).first()


def listing(
    session: Session,
    principal: Principal,
    *,
    status: str | None,
    mediator_id: str | None,
    handler_unit_id: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[Dispute]]:
    query = select(Dispute).where(visible(Dispute.division_code, principal))
    if status:
        query = query.where(Dispute.status == status)
    if mediator_id:
        query = query.where(Dispute.mediator_id == mediator_id)
    if handler_unit_id:
        query = query.where(Dispute.handler_unit_id == handler_unit_id)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(Dispute.registered_at.desc(), Dispute.id.desc()).limit(limit).offset(offset))
    return total, list(rows)


def parties_of(session: Session, dispute_id: str, principal: Principal) -> list[DisputeParty]:
    return list(
        session.scalars(
            select(DisputeParty)
            .join(Dispute, Dispute.id == DisputeParty.dispute_id)
            .where(DisputeParty.dispute_id == dispute_id, visible(Dispute.division_code, principal))
            .order_by(DisputeParty.role, DisputeParty.id)
        )
    )


def parties_unscoped(session: Session, dispute_id: str, reason: str) -> list[DisputeParty]:
    return list(
        session.scalars(
            select(DisputeParty)
            .where(DisputeParty.dispute_id == dispute_id, unscoped(reason))
            .order_by(DisputeParty.role, DisputeParty.id)
        )
    )


def sessions_of(session: Session, dispute_id: str, principal: Principal) -> list[MediationSession]:
    return list(
        session.scalars(
            select(MediationSession)
            .join(Dispute, Dispute.id == MediationSession.dispute_id)
            .where(MediationSession.dispute_id == dispute_id, visible(Dispute.division_code, principal))
            .order_by(MediationSession.held_at)
        )
    )


def agreement_of(session: Session, dispute_id: str, principal: Principal) -> Agreement | None:
    return session.scalars(
        select(Agreement)
        .join(Dispute, Dispute.id == Agreement.dispute_id)
        .where(Agreement.dispute_id == dispute_id, visible(Dispute.division_code, principal))
    ).first()


def agreement_unscoped(session: Session, agreement_id: str, reason: str) -> Agreement | None:
    return session.scalars(select(Agreement).where(Agreement.id == agreement_id, unscoped(reason))).first()


def timeline_of(session: Session, dispute_id: str, principal: Principal) -> list[TimelineEvent]:
    """The dispute's steps and those of its sessions and agreement, in time order."""
    own = (
        select(TimelineEvent)
        .join(Dispute, Dispute.id == TimelineEvent.entity_id)
        .where(
            TimelineEvent.entity_type == "dispute",
            TimelineEvent.entity_id == dispute_id,
            visible(Dispute.division_code, principal),
        )
    )
    sessions = (
        select(TimelineEvent)
        .join(MediationSession, MediationSession.id == TimelineEvent.entity_id)
        .join(Dispute, Dispute.id == MediationSession.dispute_id)
        .where(
            TimelineEvent.entity_type == "mediation_session",
            MediationSession.dispute_id == dispute_id,
            visible(Dispute.division_code, principal),
        )
    )
    agreements = (
        select(TimelineEvent)
        .join(Agreement, Agreement.id == TimelineEvent.entity_id)
        .join(Dispute, Dispute.id == Agreement.dispute_id)
        .where(
            TimelineEvent.entity_type == "mediation_agreement",
            Agreement.dispute_id == dispute_id,
            visible(Dispute.division_code, principal),
        )
    )
    rows = [*session.scalars(own), *session.scalars(sessions), *session.scalars(agreements)]
    return sorted(rows, key=lambda e: (e.at, e.id))  # ids are time-ordered: the order they were written


# ---------------------------------------------------------------- org units (the handlers)


def unit_for_routing(session: Session, unit_id: str) -> OrgUnit | None:
    """An org unit a dispute may be routed or transferred to. Read for the system: a village
    committee transfers to the township's, which lies outside its own jurisdiction; the service
    checks that the unit lies on the dispute's chain of divisions."""
    return session.scalars(
        select(OrgUnit).where(
            OrgUnit.id == unit_id, unscoped("routing to a unit above the caller: the service checks the chain")
        )
    ).first()


def units_of_types(session: Session, types: Sequence[str]) -> list[OrgUnit]:
    """The units of these types (the bodies that owe screening reports), for the periodic check."""
    return list(
        session.scalars(
            select(OrgUnit)
            .where(OrgUnit.type_code.in_(list(types)), unscoped("the periodic screening check runs for the whole city"))
            .order_by(OrgUnit.division_code)
        )
    )


# ---------------------------------------------------------------- mediators


def mediator(session: Session, principal: Principal, mediator_id: str) -> Mediator | None:
    return session.scalars(
        select(Mediator).where(Mediator.id == mediator_id, visible(Mediator.division_code, principal))
    ).first()


def mediator_unscoped(session: Session, mediator_id: str, reason: str) -> Mediator | None:
    return session.scalars(select(Mediator).where(Mediator.id == mediator_id, unscoped(reason))).first()


def mediators(
    session: Session, principal: Principal, *, org_unit_id: str | None, category: str | None, limit: int, offset: int
) -> tuple[int, list[Mediator]]:
    query = select(Mediator).where(visible(Mediator.division_code, principal))
    if org_unit_id:
        query = query.where(Mediator.org_unit_id == org_unit_id)
    if category:
        query = query.where(Mediator.category == category)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    return total, list(session.scalars(query.order_by(Mediator.created_at, Mediator.id).limit(limit).offset(offset)))


def mediators_near(session: Session, prefixes: Sequence[str]) -> list[Mediator]:
    """Active mediators of the divisions on a dispute's chain (village, township, county), for the
    suggestion: read for the system, the caller's scope was checked on the dispute."""
    if not prefixes:
        return []
    return list(
        session.scalars(
            select(Mediator).where(
                Mediator.active.is_(True),
                Mediator.division_code.in_(list(prefixes)),
                unscoped("suggesting mediators for a dispute the caller may see"),
            )
        )
    )


def open_loads(session: Session, mediator_ids: Sequence[str]) -> dict[str, int]:
    """How many open disputes each mediator holds."""
    if not mediator_ids:
        return {}
    rows = session.execute(
        select(Dispute.mediator_id, func.count())
        .where(
            Dispute.mediator_id.in_(list(mediator_ids)),
            Dispute.status.in_(OPEN),
            unscoped("a mediator's load counts every dispute they hold"),
        )
        .group_by(Dispute.mediator_id)
    )
    return {str(m): int(n) for m, n in rows}


def outcomes_of(session: Session, mediator_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Past outcomes (settled / failed / refused) per mediator."""
    if not mediator_ids:
        return {}
    rows = session.execute(
        select(Dispute.mediator_id, Dispute.status, func.count())
        .where(
            Dispute.mediator_id.in_(list(mediator_ids)),
            Dispute.status.in_(("settled", "failed", "refused")),
            unscoped("a mediator's record counts every dispute they held"),
        )
        .group_by(Dispute.mediator_id, Dispute.status)
    )
    out: dict[str, dict[str, int]] = {}
    for m, status, n in rows:
        out.setdefault(str(m), {})[str(status)] = int(n)
    return out


# ---------------------------------------------------------------- screening


def screening_report(session: Session, division_code: str, level: str, period_start: date) -> ScreeningReport | None:
    return session.scalars(
        select(ScreeningReport).where(
            ScreeningReport.division_code == division_code,
            ScreeningReport.level == level,
            ScreeningReport.period_start == period_start,
            unscoped("one report per body and period: the filing and the periodic check look it up"),
        )
    ).first()


def screening_reports(
    session: Session, principal: Principal, *, start: date | None, end: date | None, limit: int, offset: int
) -> tuple[int, list[ScreeningReport]]:
    query = select(ScreeningReport).where(visible(ScreeningReport.division_code, principal))
    if start:
        query = query.where(ScreeningReport.period_end >= start)
    if end:
        query = query.where(ScreeningReport.period_start <= end)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    return total, list(
        session.scalars(
            query.order_by(ScreeningReport.period_start.desc(), ScreeningReport.division_code)
            .limit(limit)
            .offset(offset)
        )
    )


# ---------------------------------------------------------------- figures


def figure_rows(session: Session, principal: Principal, prefix: str, start: datetime, end: datetime) -> list[Dispute]:
    """Disputes of the prefix (inside the caller's view) registered or concluded in [start, end)."""
    return list(
        session.scalars(
            select(Dispute).where(
                visible(Dispute.division_code, principal),
                scope_clause(Dispute.division_code, prefix),
                or_(
                    and_(Dispute.registered_at >= start, Dispute.registered_at < end),
                    and_(Dispute.concluded_at >= start, Dispute.concluded_at < end),
                ),
            )
        )
    )


def agreements_in(
    session: Session, principal: Principal, prefix: str, start: datetime, end: datetime
) -> list[Agreement]:
    return list(
        session.scalars(
            select(Agreement)
            .join(Dispute, Dispute.id == Agreement.dispute_id)
            .where(
                visible(Dispute.division_code, principal),
                scope_clause(Dispute.division_code, prefix),
                Agreement.effective_at >= start,
                Agreement.effective_at < end,
            )
        )
    )


def screening_in(session: Session, principal: Principal, prefix: str, start: date, end: date) -> list[ScreeningReport]:
    return list(
        session.scalars(
            select(ScreeningReport).where(
                visible(ScreeningReport.division_code, principal),
                scope_clause(ScreeningReport.division_code, prefix),
                ScreeningReport.period_end >= start,
                ScreeningReport.period_end <= end,
            )
        )
    )


def disputes_sharing_parties(session: Session, dispute_id: str, since: datetime) -> int:
    """How many other disputes registered since ``since`` share a party with this one: the same
    document (keyed hash of type and number) or the same unified social credit code."""
    mine = session.execute(
        select(DisputeParty.id_number_hash, DisputeParty.uscc).where(
            DisputeParty.dispute_id == dispute_id, unscoped("the early warning reads the dispute it assesses")
        )
    ).all()
    hashes = [h for h, _ in mine if h]
    codes = [c for _, c in mine if c]
    if not hashes and not codes:
        return 0
    clauses = []
    if hashes:
        clauses.append(DisputeParty.id_number_hash.in_(hashes))
    if codes:
        clauses.append(DisputeParty.uscc.in_(codes))
    match = or_(*clauses)
    return int(
        session.scalar(
            select(func.count(func.distinct(Dispute.id)))
            .select_from(DisputeParty)
            .join(Dispute, Dispute.id == DisputeParty.dispute_id)
            .where(
                match,
                Dispute.id != dispute_id,
                Dispute.registered_at >= since,
                unscoped("a party's other disputes anywhere in the city count; only the number leaves"),
            )
        )
        or 0
    )


def open_unscoped(session: Session, reason: str) -> list[Dispute]:
    return list(session.scalars(select(Dispute).where(Dispute.status.in_(OPEN), unscoped(reason))))


def places_of(session: Session, principal: Principal, dispute_ids: Sequence[str]) -> dict[str, tuple[str | None, str]]:
    """(grid code, division code) of the disputes the caller may see, by id."""
    out: dict[str, tuple[str | None, str]] = {}
    ids = list(dict.fromkeys(dispute_ids))
    for start in range(0, len(ids), 500):
        for row in session.execute(
            select(Dispute.id, Dispute.grid_code, Dispute.division_code).where(
                Dispute.id.in_(ids[start : start + 500]), visible(Dispute.division_code, principal)
            )
        ):
            out[row[0]] = (row[1], row[2])
    return out


def handler_candidates(session: Session, division_codes: Sequence[str], types: Sequence[str]) -> list[OrgUnit]:
    """Mediation bodies a dispute may go to: those filed on its chain of divisions (its village,
    township, county, city; read for the routing desk, like :func:`unit_for_routing`)."""
    return list(
        session.scalars(
            select(OrgUnit)
            .where(
                OrgUnit.type_code.in_(list(types)),
                OrgUnit.division_code.in_(list(division_codes)),
                unscoped("routing offers the bodies above the caller on the dispute's chain"),
            )
            .order_by(OrgUnit.division_code, OrgUnit.name)
        )
    )


def workbench_files(session: Session, principal: Principal, prefix: str, user_id: str | None) -> list[Dispute]:
    """Open disputes the caller's jurisdiction handles (routed or mediating), or whose mediator
    is the caller, earliest limit first."""
    which = [Dispute.handler_division_code.startswith(prefix)]
    if user_id:
        mediators = select(Mediator.id).where(Mediator.user_id == user_id, unscoped("the caller's own entries"))
        which.append(Dispute.mediator_id.in_(mediators))
    return list(
        session.scalars(
            select(Dispute)
            .where(
                Dispute.status.in_(("routed", "mediating")),
                visible(Dispute.division_code, principal),
                or_(*which),
            )
            .order_by(Dispute.due_at.is_(None), Dispute.due_at, Dispute.registered_at)
            .limit(200)
        )
    )


def sessions_between(
    session: Session, dispute_ids: Sequence[str], start: datetime, end: datetime
) -> list[MediationSession]:
    if not dispute_ids:
        return []
    return list(
        session.scalars(
            select(MediationSession)
            .where(
                MediationSession.dispute_id.in_(list(dispute_ids)),
                MediationSession.held_at >= start,
                MediationSession.held_at < end,
                unscoped("sessions of disputes already read through the caller's scope"),
            )
            .order_by(MediationSession.held_at)
        )
    )


# ---------------------------------------------------------------- session attachments (the file store)

SESSION_FILES = "dispute_session"


def visible_session_ids(principal: Principal) -> Select[str]:
    """The ids of the sessions whose dispute ``principal`` may see: the file store's access rule
    for session attachments (an attachment is readable exactly when its dispute is)."""
    return (
        select(MediationSession.id)
        .join(Dispute, Dispute.id == MediationSession.dispute_id)
        .where(visible(Dispute.division_code, principal))
    )


def attachments_of(session: Session, session_ids: Sequence[str]) -> list[StoredFile]:
    if not session_ids:
        return []
    return list(
        session.scalars(
            select(StoredFile)
            .where(
                StoredFile.owner_type == SESSION_FILES,
                StoredFile.owner_id.in_(list(session_ids)),
                unscoped("the sessions were read through their dispute's scope"),
            )
            .order_by(StoredFile.created_at)
        )
    )
