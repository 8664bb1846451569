"""disputes: when a dispute was recorded as turned into a criminal case (民转刑) or a collective
incident (群体性事件) — the security-prevention figure (治安防范到位)

Revision ID: 0029_disputes_turned
Revises: 0028_disputes_early_warning
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0029_disputes_turned"
down_revision: str | None = "0028_disputes_early_warning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.add_column(sa.Column("turned_criminal_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("turned_collective_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.drop_column("turned_collective_at")
        batch.drop_column("turned_criminal_at")
