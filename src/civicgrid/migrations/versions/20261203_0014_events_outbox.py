"""events: the outbox of domain events and their deliveries to consumers

Revision ID: 0014_events_outbox
Revises: 0013_gazetteer_places
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0014_events_outbox"
down_revision: str | None = "0013_gazetteer_places"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "domain_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_domain_events_name_created_at", "domain_events", ["name", "created_at"])
    op.create_index("ix_domain_events_division_code", "domain_events", ["division_code"])
    op.create_table(
        "event_deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(32), sa.ForeignKey("domain_events.id"), nullable=False),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("event_id", "consumer", name="uq_event_deliveries_event_consumer"),
    )


def downgrade() -> None:
    op.drop_table("event_deliveries")
    op.drop_index("ix_domain_events_division_code", table_name="domain_events")
    op.drop_index("ix_domain_events_name_created_at", table_name="domain_events")
    op.drop_table("domain_events")
