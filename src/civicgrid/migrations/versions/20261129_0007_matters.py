"""matters: catalogue versions, matter types, matters, photos, duplicates, supervision orders

Revision ID: 0007_matters
Revises: 0006_worktime
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0007_matters"
down_revision: str | None = "0006_worktime"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    versions = op.create_table(
        "matter_catalogue_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_matter_catalogue_versions")),
    )
    types = op.create_table(
        "matter_types",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("category_zh", sa.String(32), nullable=False),
        sa.Column("category_en", sa.String(64), nullable=False),
        sa.Column("name_zh", sa.String(64), nullable=False),
        sa.Column("name_en", sa.String(128), nullable=False),
        sa.Column("owner_level", sa.String(16), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("department_en", sa.String(128), nullable=False),
        sa.Column("list_kind", sa.String(16), nullable=False),
        sa.Column("limits", sa.Text(), nullable=False),
        sa.Column("auto_escalate", sa.Boolean(), nullable=False),
        sa.Column("handoff", sa.String(32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["version"], ["matter_catalogue_versions.version"],
                                name=op.f("fk_matter_types_version_matter_catalogue_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matter_types")),
        sa.UniqueConstraint("version", "code", name=op.f("uq_matter_types_version_code")),
    )
    op.create_index(op.f("ix_matter_types_version"), "matter_types", ["version"])
    op.create_table(
        "matters",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("type_id", sa.String(32), nullable=False),
        sa.Column("type_code", sa.String(16), nullable=False),
        sa.Column("catalogue_version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("reporter_id", sa.String(32), nullable=True),
        sa.Column("reporter_name", sa.String(64), nullable=True),
        sa.Column("reporter_phone", sa.Text(), nullable=True),
        sa.Column("reporter_phone_hash", sa.String(64), nullable=True),
        sa.Column("address", sa.String(200), nullable=True),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("owner_level", sa.String(16), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_changed_at", UTCDateTime(), nullable=False),
        sa.Column("reported_at", UTCDateTime(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=True),
        sa.Column("dispatched_at", UTCDateTime(), nullable=True),
        sa.Column("handled_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("step", sa.String(16), nullable=True),
        sa.Column("step_due_at", UTCDateTime(), nullable=True),
        sa.Column("alert", sa.String(8), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("rework_count", sa.Integer(), nullable=False),
        sa.Column("settled_level", sa.String(16), nullable=True),
        sa.Column("settled_division_code", sa.String(15), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("evaluation_note", sa.Text(), nullable=True),
        sa.Column("duplicate_of", sa.String(32), nullable=True),
        sa.Column("supervised", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=True),
        sa.Column("step_started_at", UTCDateTime(), nullable=True),
        sa.Column("extension_days", sa.Integer(), nullable=True),
        sa.Column("reported_division_code", sa.String(15), nullable=True),
        sa.ForeignKeyConstraint(["type_id"], ["matter_types.id"], name=op.f("fk_matters_type_id_matter_types")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matters")),
        sa.UniqueConstraint("number", name=op.f("uq_matters_number")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_matters_idempotency_key")),
    )
    op.create_index("ix_matters_division_status", "matters", ["division_code", "status"])
    op.create_index("ix_matters_grid_code", "matters", ["grid_code"])
    op.create_index("ix_matters_type_reported", "matters", ["type_code", "reported_at"])
    op.create_index(op.f("ix_matters_reporter_id"), "matters", ["reporter_id"])
    op.create_index(op.f("ix_matters_reporter_phone_hash"), "matters", ["reporter_phone_hash"])
    op.create_index(op.f("ix_matters_step_due_at"), "matters", ["step_due_at"])
    if op.get_bind().dialect.name == "postgresql":
        # LIKE 'prefix%' jurisdiction scoping uses these under any collation.
        op.execute("CREATE INDEX ix_matters_division_code_pattern ON matters (division_code varchar_pattern_ops)")
        op.execute("CREATE INDEX ix_matters_grid_code_pattern ON matters (grid_code varchar_pattern_ops)")
    op.create_table(
        "matter_photos",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("matter_id", sa.String(32), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["matter_id"], ["matters.id"], name=op.f("fk_matter_photos_matter_id_matters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matter_photos")),
    )
    op.create_index(op.f("ix_matter_photos_matter_id"), "matter_photos", ["matter_id"])
    op.create_table(
        "matter_duplicates",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("matter_id", sa.String(32), nullable=False),
        sa.Column("candidate_id", sa.String(32), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["matter_id"], ["matters.id"], name=op.f("fk_matter_duplicates_matter_id_matters")),
        sa.ForeignKeyConstraint(["candidate_id"], ["matters.id"],
                                name=op.f("fk_matter_duplicates_candidate_id_matters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matter_duplicates")),
        sa.UniqueConstraint("matter_id", "candidate_id", name=op.f("uq_matter_duplicates_matter_id_candidate_id")),
    )
    op.create_index(op.f("ix_matter_duplicates_matter_id"), "matter_duplicates", ["matter_id"])
    op.create_table(
        "matter_supervision_orders",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("matter_id", sa.String(32), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("issuer_id", sa.String(32), nullable=False),
        sa.Column("issuer_division_code", sa.String(15), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["matter_id"], ["matters.id"],
                                name=op.f("fk_matter_supervision_orders_matter_id_matters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matter_supervision_orders")),
    )
    op.create_index(op.f("ix_matter_supervision_orders_matter_id"), "matter_supervision_orders", ["matter_id"])
    op.create_table(
        "matter_number_counters",
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_matter_number_counters")),
    )
    _seed_catalogue(versions, types)


def _seed_catalogue(versions: sa.Table, types: sa.Table) -> None:
    """Catalogue version 1: the default Yongzhou catalogue shipped in data/matters/catalogue.json."""
    from datetime import UTC, datetime

    from civicgrid.kit.ids import new_id
    from civicgrid.matters.catalogue import default_rows

    op.bulk_insert(versions, [{"version": 1, "created_at": datetime.now(UTC), "created_by": "system",
                               "note": "默认目录 / default catalogue (data/matters/catalogue.json)",
                               "is_current": True}])
    op.bulk_insert(types, [{"id": new_id(), "version": 1, **row.as_columns()} for row in default_rows()])


def downgrade() -> None:
    for table in ("matter_number_counters", "matter_supervision_orders", "matter_duplicates", "matter_photos",
                  "matters", "matter_types", "matter_catalogue_versions"):
        op.drop_table(table)
