"""open311: registered GeoReport v2 clients (API keys stored as keyed hashes) and their requests

Revision ID: 0009_open311
Revises: 0008_matter_figures
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0009_open311"
down_revision: str | None = "0008_matter_figures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open311_clients",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(12), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_clients")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_clients_key_hash")),
    )
    op.create_index(op.f("ix_open311_clients_division_code"), "open311_clients", ["division_code"])
    op.create_table(
        "open311_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("matter_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["matter_id"], ["matters.id"], name=op.f("fk_open311_requests_matter_id_matters")),
        sa.ForeignKeyConstraint(["client_id"], ["open311_clients.id"],
                                name=op.f("fk_open311_requests_client_id_open311_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_requests")),
        sa.UniqueConstraint("matter_id", name=op.f("uq_open311_requests_matter_id")),
        sa.UniqueConstraint("client_id", "token", name=op.f("uq_open311_requests_client_id_token")),
    )
    op.create_index(op.f("ix_open311_requests_grid_code"), "open311_requests", ["grid_code"])


def downgrade() -> None:
    op.drop_index(op.f("ix_open311_requests_grid_code"), table_name="open311_requests")
    op.drop_table("open311_requests")
    op.drop_index(op.f("ix_open311_clients_division_code"), table_name="open311_clients")
    op.drop_table("open311_clients")
