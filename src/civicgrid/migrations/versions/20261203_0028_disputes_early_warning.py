"""disputes: threats recorded on a dispute (early warning); return visits on agreements

Revision ID: 0028_disputes_early_warning
Revises: 0027_matters_two_people
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0028_disputes_early_warning"
down_revision: str | None = "0027_matters_two_people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.add_column(sa.Column("threats", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("mediation_agreements") as batch:
        batch.add_column(sa.Column("performance_status", sa.String(16), nullable=False, server_default="unknown"))
        batch.add_column(sa.Column("visited_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mediation_agreements") as batch:
        batch.drop_column("visited_at")
        batch.drop_column("performance_status")
    with op.batch_alter_table("disputes") as batch:
        batch.drop_column("threats")
