"""supervision: police cases, persons, measures, property, places, statutory clocks, intake log

Revision ID: 0023_supervision
Revises: 0022_response
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0023_supervision"
down_revision: str | None = "0022_response"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "supervision_cases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("case_no", sa.String(64), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("unit_id", sa.String(32), sa.ForeignKey("org_units.id"), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("officers", sa.Text(), nullable=False),
        sa.Column("enterprise_involved", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("incident_no", sa.String(64), nullable=True),
        sa.Column("fast_track", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("supplementary_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("status_changed_at", UTCDateTime(), nullable=True),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.Column("stage_at", UTCDateTime(), nullable=False),
        sa.Column("last_event_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("sender_id", "external_id", name="uq_supervision_cases_sender_external"),
    )
    op.create_index(
        "ix_supervision_cases_division_code",
        "supervision_cases",
        ["division_code"],
        postgresql_ops={"division_code": "varchar_pattern_ops"},
    )
    op.create_index("ix_supervision_cases_unit_id", "supervision_cases", ["unit_id"])
    op.create_table(
        "supervision_persons",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("supervision_cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("person_name", sa.String(), nullable=True),
        sa.Column("id_number", sa.String(), nullable=True),
        sa.Column("minor_under_14", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("case_id", "external_id", name="uq_supervision_persons_case_external"),
    )
    op.create_index("ix_supervision_persons_case_id", "supervision_persons", ["case_id"])
    op.create_index("ix_supervision_persons_division_code", "supervision_persons", ["division_code"])
    op.create_table(
        "supervision_measures",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("supervision_cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "person_id", sa.String(32), sa.ForeignKey("supervision_persons.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_changed_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("case_id", "external_id", name="uq_supervision_measures_case_external"),
    )
    op.create_index("ix_supervision_measures_case_id", "supervision_measures", ["case_id"])
    op.create_index("ix_supervision_measures_division_code", "supervision_measures", ["division_code"])
    op.create_index("ix_supervision_measures_person_id", "supervision_measures", ["person_id"])
    op.create_table(
        "supervision_clocks",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("supervision_cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=False),
        sa.Column(
            "measure_id", sa.String(32), sa.ForeignKey("supervision_measures.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("rule_code", sa.String(64), nullable=False),
        sa.Column("statutory_code", sa.String(64), nullable=False),
        sa.Column("law_version", sa.String(200), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("adjustments", sa.Text(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("warn_at", UTCDateTime(), nullable=True),
        sa.Column("met_at", UTCDateTime(), nullable=True),
        sa.Column("breached_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_changed_at", UTCDateTime(), nullable=True),
        sa.Column("warning_alert_id", sa.String(32), nullable=True),
        sa.Column("breach_alert_id", sa.String(32), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("case_id", "subject_id", "rule_code", name="uq_supervision_clocks_subject_rule"),
    )
    op.create_index("ix_supervision_clocks_case_id", "supervision_clocks", ["case_id"])
    op.create_index(
        "ix_supervision_clocks_division_code",
        "supervision_clocks",
        ["division_code"],
        postgresql_ops={"division_code": "varchar_pattern_ops"},
    )
    op.create_index("ix_supervision_clocks_status_due", "supervision_clocks", ["status", "due_at"])
    op.create_table(
        "supervision_measure_extensions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "clock_id", sa.String(32), sa.ForeignKey("supervision_clocks.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "measure_id", sa.String(32), sa.ForeignKey("supervision_measures.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("limit_code", sa.String(64), nullable=False),
        sa.Column("to_statutory", sa.String(64), nullable=False),
        sa.Column("approver", sa.String(100), nullable=False),
        sa.Column("document_no", sa.String(100), nullable=False),
        sa.Column("article", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_supervision_measure_extensions_clock_id", "supervision_measure_extensions", ["clock_id"])
    op.create_index(
        "ix_supervision_measure_extensions_division_code", "supervision_measure_extensions", ["division_code"]
    )
    op.create_table(
        "supervision_clock_exceptions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "clock_id", sa.String(32), sa.ForeignKey("supervision_clocks.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("approver", sa.String(100), nullable=False),
        sa.Column("document_no", sa.String(100), nullable=False),
        sa.Column("basis", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_supervision_clock_exceptions_clock_id", "supervision_clock_exceptions", ["clock_id"])
    op.create_index("ix_supervision_clock_exceptions_division_code", "supervision_clock_exceptions", ["division_code"])
    op.create_table(
        "supervision_property",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("supervision_cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("measure", sa.String(16), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=True),
        sa.Column("owner_person_name", sa.String(), nullable=True),
        sa.Column("storage_place", sa.String(200), nullable=True),
        sa.Column("label_no", sa.String(64), nullable=True),
        sa.Column("holder", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_changed_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("case_id", "external_id", name="uq_supervision_property_case_external"),
    )
    op.create_index("ix_supervision_property_case_id", "supervision_property", ["case_id"])
    op.create_index("ix_supervision_property_division_code", "supervision_property", ["division_code"])
    op.create_table(
        "supervision_custody_transfers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "property_id", sa.String(32), sa.ForeignKey("supervision_property.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_holder", sa.String(100), nullable=True),
        sa.Column("to_holder", sa.String(100), nullable=True),
        sa.Column("place", sa.String(200), nullable=True),
    )
    op.create_index(
        "ix_supervision_custody_transfers_division_code", "supervision_custody_transfers", ["division_code"]
    )
    op.create_index("ix_supervision_custody_transfers_property_id", "supervision_custody_transfers", ["property_id"])
    op.create_table(
        "supervision_areas",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("unit_id", sa.String(32), sa.ForeignKey("org_units.id"), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.UniqueConstraint("unit_id", "code", name="uq_supervision_areas_unit_code"),
    )
    op.create_index("ix_supervision_areas_division_code", "supervision_areas", ["division_code"])
    op.create_index("ix_supervision_areas_unit_id", "supervision_areas", ["unit_id"])
    op.create_table(
        "supervision_rooms",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("area_id", sa.String(32), sa.ForeignKey("supervision_areas.id", ondelete="CASCADE"), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("room_type", sa.String(32), nullable=True),
        sa.UniqueConstraint("area_id", "code", name="uq_supervision_rooms_area_code"),
    )
    op.create_index("ix_supervision_rooms_area_id", "supervision_rooms", ["area_id"])
    op.create_index("ix_supervision_rooms_division_code", "supervision_rooms", ["division_code"])
    op.create_table(
        "supervision_room_visits",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("area_id", sa.String(32), sa.ForeignKey("supervision_areas.id", ondelete="CASCADE"), nullable=False),
        sa.Column("room_id", sa.String(32), sa.ForeignKey("supervision_rooms.id", ondelete="CASCADE"), nullable=True),
        sa.Column(
            "person_id", sa.String(32), sa.ForeignKey("supervision_persons.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("supervision_cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.Column("left_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_supervision_room_visits_area_id", "supervision_room_visits", ["area_id"])
    op.create_index("ix_supervision_room_visits_case_id", "supervision_room_visits", ["case_id"])
    op.create_index("ix_supervision_room_visits_division_code", "supervision_room_visits", ["division_code"])
    op.create_index("ix_supervision_room_visits_person_id", "supervision_room_visits", ["person_id"])
    op.create_table(
        "supervision_documents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("supervision_cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "measure_id", sa.String(32), sa.ForeignKey("supervision_measures.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("doc_type", sa.String(40), nullable=False),
        sa.Column("document_no", sa.String(100), nullable=True),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_supervision_documents_case_id", "supervision_documents", ["case_id"])
    op.create_index("ix_supervision_documents_division_code", "supervision_documents", ["division_code"])
    op.create_table(
        "supervision_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("event_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("case_id", sa.String(32), nullable=True),
        sa.Column("division_code", sa.String(12), nullable=True),
        sa.UniqueConstraint("sender_id", "event_id", name="uq_supervision_events_sender_event"),
    )
    op.create_index("ix_supervision_events_case_at", "supervision_events", ["case_id", "event_at"])


def downgrade() -> None:
    op.drop_table("supervision_events")
    op.drop_table("supervision_documents")
    op.drop_table("supervision_room_visits")
    op.drop_table("supervision_rooms")
    op.drop_table("supervision_areas")
    op.drop_table("supervision_custody_transfers")
    op.drop_table("supervision_property")
    op.drop_table("supervision_clock_exceptions")
    op.drop_table("supervision_measure_extensions")
    op.drop_table("supervision_clocks")
    op.drop_table("supervision_measures")
    op.drop_table("supervision_persons")
    op.drop_table("supervision_cases")
