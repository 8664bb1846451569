"""Every query of the workflow kit. A domain reads its entities' timelines through its own
repository, joined to the entity and scoped by it; the kit itself only numbers the next step."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicgrid.authz.scoping import unscoped
from civicgrid.workflow.models import TimelineEvent


def last_seq(session: Session, entity_type: str, entity_id: str) -> int:
    """The sequence number of the entity's latest step (0 before any)."""
    last = session.scalar(select(func.max(TimelineEvent.seq)).where(
        TimelineEvent.entity_type == entity_type, TimelineEvent.entity_id == entity_id,
        unscoped("numbering the next step: transition() has checked the entity's scope")))
    return int(last or 0)
