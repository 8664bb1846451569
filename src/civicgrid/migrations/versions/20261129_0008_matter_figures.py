"""matter figures: daily rollups per county, township and village

Revision ID: 0008_matter_figures
Revises: 0007_matters
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_matter_figures"
down_revision: str | None = "0007_matters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One table per level, so that a city-wide query reads the small county table (13 counties ×
# days) and never the large village one. Same columns in each (see matters/figures/models.py).
TABLES = {
    "matter_figures_county": 6,
    "matter_figures_township": 9,
    "matter_figures_village": 12,
}
COUNTERS = (
    "received", "received_void", "received_closed",
    "closed", "closed_on_time", "closed_reworked",
    "handled_count", "satisfaction_count", "satisfaction_sum",
    "settled_village", "settled_township", "settled_county", "settled_city",
)


def upgrade() -> None:
    for table, width in TABLES.items():
        op.create_table(
            table,
            sa.Column("code", sa.String(width), nullable=False),
            sa.Column("day", sa.Date(), nullable=False),
            *[sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name in COUNTERS],
            sa.Column("handling_seconds", sa.BigInteger(), nullable=False, server_default="0"),
            sa.PrimaryKeyConstraint("code", "day", name=op.f(f"pk_{table}")),
        )
        # A city-wide query (every county) filters on day first.
        op.create_index(op.f(f"ix_{table}_day"), table, ["day"])
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"CREATE INDEX ix_{table}_code_pattern ON {table} (code varchar_pattern_ops, day)")


def downgrade() -> None:
    for table in reversed(list(TABLES)):
        op.drop_table(table)
