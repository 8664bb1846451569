"""numbering: one per-day counter table for every series of record numbers

The matters' own counter table becomes the series "matter"; rapid-response incident numbers
(counted from the day's rows until now, which two writers could share) and dispute numbers (a
random suffix until now) take their own series. The day's incident counter starts after the
highest incident number already given that day.

Revision ID: 0025_numbering
Revises: 0024_disputes
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_numbering"
down_revision: str | None = "0024_disputes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "number_counters",
        sa.Column("series", sa.String(32), nullable=False),
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", "day", name=op.f("pk_number_counters")),
    )
    op.execute("INSERT INTO number_counters (series, day, last) "
               "SELECT 'matter', day, last FROM matter_number_counters")
    # JQ + YYYYMMDD + 5 digits: the day's highest incident number so far.
    op.execute("INSERT INTO number_counters (series, day, last) "
               "SELECT 'incident', substr(number, 3, 8), max(CAST(substr(number, 11) AS INTEGER)) "
               "FROM response_incidents WHERE number LIKE 'JQ%' AND length(number) = 15 "
               "GROUP BY substr(number, 3, 8)")
    op.drop_table("matter_number_counters")


def downgrade() -> None:
    op.create_table(
        "matter_number_counters",
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_matter_number_counters")),
    )
    op.execute("INSERT INTO matter_number_counters (day, last) "
               "SELECT day, last FROM number_counters WHERE series = 'matter'")
    op.drop_table("number_counters")
