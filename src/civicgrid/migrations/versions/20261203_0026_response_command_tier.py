"""response: the tier in command of an incident (a higher tier takes over command)

Revision ID: 0026_response_command
Revises: 0025_numbering
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_response_command"
down_revision: str | None = "0025_numbering"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("response_incidents") as batch:
        batch.add_column(sa.Column("command_tier", sa.String(8), nullable=True))
        batch.add_column(sa.Column("command_by", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("response_incidents") as batch:
        batch.drop_column("command_by")
        batch.drop_column("command_tier")
