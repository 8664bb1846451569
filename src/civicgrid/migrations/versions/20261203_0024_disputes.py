"""disputes: dispute files, parties, mediators, sessions, agreements, screening reports

Revision ID: 0024_disputes
Revises: 0023_supervision
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime
from civicgrid.kit.personal import Personal

revision: str = "0024_disputes"
down_revision: str | None = "0023_supervision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("happened_on", sa.Date(), nullable=False),
        sa.Column("place", sa.String(200), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("grid_code", sa.String(15), nullable=True),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("scale", sa.String(16), nullable=False),
        sa.Column("people_involved", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("risk_level", sa.String(8), nullable=False),
        sa.Column("complexity", sa.String(8), nullable=False),
        sa.Column("court_mode", sa.String(24), nullable=True),
        sa.Column("court_receipt_at", UTCDateTime(), nullable=True),
        sa.Column("matter_id", sa.String(32), nullable=True),
        sa.Column("incident_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_changed_at", UTCDateTime(), nullable=True),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("registered_by", sa.String(32), nullable=True),
        sa.Column("handler_kind", sa.String(24), nullable=True),
        sa.Column("handler_unit_id", sa.String(32), nullable=True),
        sa.Column("handler_division_code", sa.String(12), nullable=True),
        sa.Column("handler_level", sa.String(16), nullable=True),
        sa.Column("routed_at", UTCDateTime(), nullable=True),
        sa.Column("mediator_id", sa.String(32), nullable=True),
        sa.Column("mediation_started_at", UTCDateTime(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("limit_basis", sa.String(64), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("police_reported", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("other_routes", sa.String(100), nullable=True),
        sa.Column("concluded_at", UTCDateTime(), nullable=True),
        sa.Column("settled_level", sa.String(16), nullable=True),
        sa.Column("settled_division_code", sa.String(12), nullable=True),
        sa.Column("settled_unit_id", sa.String(32), nullable=True),
        sa.UniqueConstraint("number", name=op.f("uq_disputes_number")),
        sa.UniqueConstraint("matter_id", name=op.f("uq_disputes_matter_id")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_disputes_incident_id")),
    )
    op.create_index(
        "ix_disputes_division_code_pattern",
        "disputes",
        ["division_code"],
        postgresql_ops={"division_code": "varchar_pattern_ops"},
    )
    op.create_index("ix_disputes_division_status", "disputes", ["division_code", "status"])
    op.create_index("ix_disputes_registered_at", "disputes", ["registered_at"])
    op.create_index("ix_disputes_handler_unit", "disputes", ["handler_unit_id", "status"])
    op.create_index(op.f("ix_disputes_grid_code"), "disputes", ["grid_code"])
    op.create_index(op.f("ix_disputes_mediator_id"), "disputes", ["mediator_id"])
    op.create_index(op.f("ix_disputes_due_at"), "disputes", ["due_at"])

    op.create_table(
        "dispute_parties",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("dispute_id", sa.String(32), sa.ForeignKey("disputes.id"), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("full_name", Personal("dispute_parties.full_name", "name"), nullable=True),
        sa.Column("org_name", sa.String(200), nullable=True),
        sa.Column("uscc", sa.String(18), nullable=True),
        sa.Column("doc_type", sa.String(32), nullable=False),
        sa.Column("id_number", Personal("dispute_parties.id_number", "id_number"), nullable=True),
        sa.Column("id_number_hash", sa.String(64), nullable=True),
        sa.Column("phone", Personal("dispute_parties.phone", "phone"), nullable=True),
        sa.Column("address", Personal("dispute_parties.address", "address"), nullable=True),
        sa.Column("signed_at", UTCDateTime(), nullable=True),
    )
    op.create_index(op.f("ix_dispute_parties_dispute_id"), "dispute_parties", ["dispute_id"])
    op.create_index(op.f("ix_dispute_parties_id_number_hash"), "dispute_parties", ["id_number_hash"])

    op.create_table(
        "mediators",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("full_name", Personal("mediators.full_name", "name"), nullable=False),
        sa.Column("phone", Personal("mediators.phone", "phone"), nullable=True),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("elder_kind", sa.String(24), nullable=True),
        sa.Column("specialties", sa.String(400), nullable=False),
        sa.Column("org_unit_id", sa.String(32), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index(op.f("ix_mediators_user_id"), "mediators", ["user_id"])
    op.create_index(op.f("ix_mediators_org_unit_id"), "mediators", ["org_unit_id"])

    op.create_table(
        "mediation_sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("dispute_id", sa.String(32), sa.ForeignKey("disputes.id"), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("handler_unit_id", sa.String(32), nullable=True),
        sa.Column("mediator_id", sa.String(32), nullable=True),
        sa.Column("held_at", UTCDateTime(), nullable=False),
        sa.Column("participants", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recorded_by", sa.String(32), nullable=True),
    )
    op.create_index(op.f("ix_mediation_sessions_dispute_id"), "mediation_sessions", ["dispute_id"])

    op.create_table(
        "mediation_agreements",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("dispute_id", sa.String(32), sa.ForeignKey("disputes.id"), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("issues", sa.Text(), nullable=False),
        sa.Column("responsibilities", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("performance", sa.Text(), nullable=False),
        sa.Column("perform_by", sa.Date(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("mediator_signed_at", UTCDateTime(), nullable=True),
        sa.Column("sealed_at", UTCDateTime(), nullable=True),
        sa.Column("effective_at", UTCDateTime(), nullable=True),
        sa.Column("judicial_due_at", UTCDateTime(), nullable=True),
        sa.Column("judicial_status", sa.String(16), nullable=False),
        sa.Column("judicial_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("dispute_id", name="uq_mediation_agreements_dispute_id"),
    )

    op.create_table(
        "dispute_screening_reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("found", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filed_at", UTCDateTime(), nullable=False),
        sa.Column("filed_by", sa.String(32), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("division_code", "level", "period_start", name="uq_dispute_screening_reports_period"),
    )
    op.create_index(op.f("ix_dispute_screening_reports_division_code"), "dispute_screening_reports", ["division_code"])


def downgrade() -> None:
    op.drop_table("dispute_screening_reports")
    op.drop_table("mediation_agreements")
    op.drop_table("mediation_sessions")
    op.drop_table("mediators")
    op.drop_table("dispute_parties")
    op.drop_table("disputes")
