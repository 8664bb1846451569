"""gazetteer: named places (compounds, schools, markets, bus stops) for the address search

Revision ID: 0013_gazetteer_places
Revises: 0012_personal_data_type
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0013_gazetteer_places"
down_revision: str | None = "0012_personal_data_type"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "places",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("aliases", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("generated", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("uq_places_division_name", "places", ["division_code", "name"], unique=True)
    op.create_index("ix_places_division_code_pattern", "places", ["division_code"],
                    postgresql_ops={"division_code": "varchar_pattern_ops"})


def downgrade() -> None:
    op.drop_index("ix_places_division_code_pattern", table_name="places")
    op.drop_index("uq_places_division_name", table_name="places")
    op.drop_table("places")
