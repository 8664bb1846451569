"""durable timers

Revision ID: 0004_timers
Revises: 0003_people
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0004_timers"
down_revision: str | None = "0003_people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("ref_type", sa.String(length=64), nullable=False),
        sa.Column("ref_id", sa.String(length=64), nullable=False),
        sa.Column("division_code", sa.String(length=15), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
        sa.CheckConstraint("state IN ('pending', 'running', 'done', 'cancelled', 'failed')",
                           name=op.f("ck_timers_state")),
    )
    op.create_index(op.f("ix_timers_state_due_at"), "timers", ["state", "due_at"])
    op.create_index(op.f("ix_timers_ref_type_ref_id"), "timers", ["ref_type", "ref_id"])
    op.create_index(op.f("ix_timers_key"), "timers", ["key"])
    if op.get_bind().dialect.name == "postgresql":
        # cancel_prefix is `key LIKE 'prefix%'`: served by this index under any collation.
        op.execute("CREATE INDEX ix_timers_key_pattern ON timers (key varchar_pattern_ops)")
    # At most one pending timer per key: arming a key again replaces it (an upsert on this index).
    op.create_index("uq_timers_key_pending", "timers", ["key"], unique=True,
                    sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))


def downgrade() -> None:
    op.drop_index("uq_timers_key_pending", table_name="timers")
    op.drop_index(op.f("ix_timers_key"), table_name="timers")
    op.drop_index(op.f("ix_timers_ref_type_ref_id"), table_name="timers")
    op.drop_index(op.f("ix_timers_state_due_at"), table_name="timers")
    op.drop_table("timers")
