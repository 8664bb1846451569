"""matters: on-the-spot settlement (就地办结) and its spot check

Revision ID: 0027_matters_two_people
Revises: 0026_response_command
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_matters_two_people"
down_revision: str | None = "0026_response_command"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matters") as batch:
        batch.add_column(sa.Column("on_spot", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("spot_check", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("matters") as batch:
        batch.drop_column("spot_check")
        batch.drop_column("on_spot")
