"""response: the shifts (duty periods) of response units

Revision ID: 0030_response_shifts
Revises: 0029_disputes_turned
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0030_response_shifts"
down_revision: str | None = "0029_disputes_turned"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "response_unit_shifts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("unit_id", sa.String(32), sa.ForeignKey("response_units.id", ondelete="CASCADE"), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("member_ids", sa.Text(), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_response_unit_shifts_unit_starts", "response_unit_shifts", ["unit_id", "starts_at"])
    op.create_index("ix_response_unit_shifts_division_code", "response_unit_shifts", ["division_code"],
                    postgresql_ops={"division_code": "varchar_pattern_ops"})


def downgrade() -> None:
    op.drop_index("ix_response_unit_shifts_division_code", table_name="response_unit_shifts")
    op.drop_index("ix_response_unit_shifts_unit_starts", table_name="response_unit_shifts")
    op.drop_table("response_unit_shifts")
