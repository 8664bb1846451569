"""alerts: warnings (预警) with their closed loop

Revision ID: 0015_alerts
Revises: 0014_events_outbox
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0015_alerts"
down_revision: str | None = "0014_events_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("rule_code", sa.String(64), nullable=False),
        sa.Column("rule_name", sa.String(100), nullable=False),
        sa.Column("legal_basis", sa.String(300), nullable=True),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source_type", sa.String(48), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("source_label", sa.String(100), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("origin_code", sa.String(15), nullable=False),
        sa.Column("owner_user_id", sa.String(32), nullable=True),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.Column("ack_due_at", UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("action_taken", sa.Text(), nullable=True),
        sa.Column("withdraw_reason", sa.String(32), nullable=True),
        sa.Column("status_changed_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_alerts_division_code_pattern", "alerts", ["division_code"],
                    postgresql_ops={"division_code": "varchar_pattern_ops"})
    op.create_index("ix_alerts_source", "alerts", ["source_type", "source_id"])
    op.create_index("ix_alerts_status_level", "alerts", ["status", "level"])


def downgrade() -> None:
    op.drop_table("alerts")
