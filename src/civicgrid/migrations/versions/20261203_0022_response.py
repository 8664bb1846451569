"""rapid response: units and members, incidents, assignments, the unit track (telemetry), ring zones

Revision ID: 0022_response
Revises: 0021_apiclients
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0022_response"
down_revision: str | None = "0021_apiclients"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _pattern_index(name: str, table: str, column: str) -> None:
    op.create_index(name, table, [column], postgresql_ops={column: "varchar_pattern_ops"})


def upgrade() -> None:
    op.create_table(
        "response_units",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("call_sign", sa.String(40), nullable=False),
        sa.Column("unit_type", sa.String(24), nullable=False),
        sa.Column("org_unit_id", sa.String(32), sa.ForeignKey("org_units.id"), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_changed_at", UTCDateTime(), nullable=True),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("call_sign", name="uq_response_units_call_sign"),
    )
    _pattern_index("ix_response_units_division_code", "response_units", "division_code")
    op.create_index("ix_response_units_org_unit_id", "response_units", ["org_unit_id"])

    op.create_table(
        "response_unit_members",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("unit_id", sa.String(32), sa.ForeignKey("response_units.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.UniqueConstraint("unit_id", "user_id", name="uq_response_unit_members_unit_id_user_id"),
    )
    op.create_index("ix_response_unit_members_user_id", "response_unit_members", ["user_id"])

    op.create_table(
        "response_incidents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("county_code", sa.String(12), nullable=False),
        sa.Column("station_id", sa.String(32), sa.ForeignKey("org_units.id"), nullable=True),
        sa.Column("urban_class", sa.String(8), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("source_ref", sa.String(64), nullable=True),
        sa.Column("source_clock", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_changed_at", UTCDateTime(), nullable=True),
        sa.Column("call_received_at", UTCDateTime(), nullable=False),
        sa.Column("dispatched_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("first_on_scene_at", UTCDateTime(), nullable=True),
        sa.Column("reinforcement_on_scene_at", UTCDateTime(), nullable=True),
        sa.Column("handled_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("ring_zone", sa.String(16), nullable=False),
        sa.Column("ring_target_seconds", sa.Integer(), nullable=False),
        sa.Column("ring_basis", sa.String(12), nullable=False),
        sa.Column("arrival_seconds", sa.Integer(), nullable=True),
        sa.Column("ring_hit", sa.Boolean(), nullable=True),
        sa.Column("confirmed_nature", sa.String(100), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("case_opened", sa.Boolean(), nullable=True),
        sa.Column("case_number", sa.String(64), nullable=True),
        sa.Column("merged_into_id", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("number", name="uq_response_incidents_number"),
    )
    _pattern_index("ix_response_incidents_division_code", "response_incidents", "division_code")
    op.create_index("ix_response_incidents_county_code", "response_incidents", ["county_code"])
    op.create_index("ix_response_incidents_received", "response_incidents", ["call_received_at"])
    op.create_index("ix_response_incidents_source", "response_incidents", ["source", "source_ref"])

    op.create_table(
        "response_assignments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("incident_id", sa.String(32), sa.ForeignKey("response_incidents.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("unit_id", sa.String(32), sa.ForeignKey("response_units.id"), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_changed_at", UTCDateTime(), nullable=True),
        sa.Column("cross_border", sa.Boolean(), nullable=False),
        sa.Column("eta_seconds", sa.Integer(), nullable=True),
        sa.Column("distance_m", sa.Integer(), nullable=True),
        sa.Column("wave", sa.String(16), nullable=True),
        sa.Column("ordered_by", sa.String(32), nullable=True),
        sa.Column("ordered_at", UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("en_route_at", UTCDateTime(), nullable=True),
        sa.Column("on_scene_at", UTCDateTime(), nullable=True),
        sa.Column("released_at", UTCDateTime(), nullable=True),
        sa.Column("order_item_ids", sa.Text(), nullable=False),
    )
    op.create_index("ix_response_assignments_incident", "response_assignments", ["incident_id"])
    op.create_index("ix_response_assignments_unit_status", "response_assignments", ["unit_id", "status"])
    _pattern_index("ix_response_assignments_division_code", "response_assignments", "division_code")

    op.create_table(
        "response_unit_tracks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("unit_id", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.Column("heading", sa.Float(), nullable=True),
        sa.Column("batch", sa.String(32), nullable=False),
    )
    op.create_index("ix_response_unit_tracks_unit_at", "response_unit_tracks", ["unit_id", "at"])
    op.create_index("ix_response_unit_tracks_at", "response_unit_tracks", ["at"])

    op.create_table(
        "response_ring_zones",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("division_code", sa.String(12), nullable=False),
        sa.Column("polygon", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_response_ring_zones_division_code", "response_ring_zones", ["division_code"])


def downgrade() -> None:
    op.drop_table("response_ring_zones")
    op.drop_table("response_unit_tracks")
    op.drop_table("response_assignments")
    op.drop_table("response_incidents")
    op.drop_table("response_unit_members")
    op.drop_table("response_units")
