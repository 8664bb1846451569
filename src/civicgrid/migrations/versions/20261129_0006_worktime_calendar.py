"""working calendar, seeded from chinese-calendar

Revision ID: 0006_worktime
Revises: 0005_workflow
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0006_worktime"
down_revision: str | None = "0005_workflow"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    days = op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_days")),
    )
    op.create_index(op.f("ix_calendar_days_year"), "calendar_days", ["year"])
    years = op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("holidays", sa.Integer(), nullable=False),
        sa.Column("workdays", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )
    op.create_table(
        "calendar_gaps",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_gaps")),
    )
    # Seed every year the installed chinese-calendar knows (2004 to its last release year).
    import chinese_calendar

    from civicgrid.worktime.service import package_rows

    version = getattr(chinese_calendar, "__version__", "?")
    now = datetime.now(UTC)
    rows = package_rows()
    op.bulk_insert(days, [{"day": r.day, "year": year, "kind": r.kind, "name": r.name}
                          for year, year_rows in rows.items() for r in year_rows])
    op.bulk_insert(years, [{"year": year, "source": f"chinese-calendar {version}",
                            "holidays": sum(1 for r in year_rows if r.kind == "holiday"),
                            "workdays": sum(1 for r in year_rows if r.kind == "workday"),
                            "updated_at": now} for year, year_rows in rows.items()])


def downgrade() -> None:
    op.drop_table("calendar_gaps")
    op.drop_table("calendar_years")
    op.drop_table("calendar_days")
