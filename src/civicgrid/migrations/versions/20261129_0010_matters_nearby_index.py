"""matters: duplicate candidates are looked up by type and latitude band, not by type and day

Every intake looks for reports of the same type within 200 m and 24 h. With (type_code,
reported_at) the search read every same-type report of the last day across the whole city;
(type_code, lat, reported_at) reads only a 400 m band of latitude and checks the time from the
index.

Revision ID: 0010_matters_nearby_index
Revises: 0009_open311
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_matters_nearby_index"
down_revision: str | None = "0009_open311"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_matters_type_reported", table_name="matters")
    op.create_index("ix_matters_type_lat", "matters", ["type_code", "lat", "reported_at"])


def downgrade() -> None:
    op.drop_index("ix_matters_type_lat", table_name="matters")
    op.create_index("ix_matters_type_reported", "matters", ["type_code", "reported_at"])
