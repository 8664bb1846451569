"""apiclients: the platform's API clients (Open311 clients moved in), idempotency receipts, and
the external record a matter may be (the 12345 hotline's ticket number, its request type)

Revision ID: 0021_apiclients
Revises: 0020_files_store
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0021_apiclients"
down_revision: str | None = "0020_files_store"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN311_KINDS = '["open311_request"]'


def _requests_table(client_table: str) -> sa.Table:
    """``open311_requests`` as it stands with its client key pointing at ``client_table``: SQLite's
    batch mode copies from it instead of reflecting (reflection needs an initialised dialect)."""
    return sa.Table(
        "open311_requests",
        sa.MetaData(),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("matter_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["matter_id"], ["matters.id"], name="fk_open311_requests_matter_id_matters"),
        sa.ForeignKeyConstraint(
            ["client_id"], [f"{client_table}.id"], name=f"fk_open311_requests_client_id_{client_table}"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_open311_requests"),
        sa.UniqueConstraint("matter_id", name="uq_open311_requests_matter_id"),
        sa.UniqueConstraint("client_id", "token", name="uq_open311_requests_client_id_token"),
        sa.Index("ix_open311_requests_grid_code", "grid_code"),
    )


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("system_kind", sa.String(32), nullable=False),
        sa.Column("org_unit_id", sa.String(32), nullable=True),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("record_kinds", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(12), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("rotated_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_unit_id"], ["org_units.id"], name=op.f("fk_api_clients_org_unit_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_clients_key_hash")),
    )
    op.create_index(op.f("ix_api_clients_division_code"), "api_clients", ["division_code"])
    op.create_table(
        "api_receipts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("result_type", sa.String(40), nullable=True),
        sa.Column("result_id", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"], name=op.f("fk_api_receipts_client_id_api_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_receipts")),
        sa.UniqueConstraint("client_id", "kind", "sender_id", name=op.f("uq_api_receipts_client_id_kind_sender_id")),
    )

    # The Open311 clients become platform API clients of kind open311: same ids, same key hashes
    # (the platform hashes o311_ keys under the Open311 derivation), so every issued key works on.
    op.execute(
        sa.text(
            "INSERT INTO api_clients (id, name, contact, system_kind, org_unit_id, division_code, record_kinds, "
            "key_hash, key_prefix, active, created_at, created_by, revoked_at, rotated_at, last_used_at) "
            "SELECT id, name, contact, 'open311', NULL, division_code, :kinds, key_hash, key_prefix, active, "
            "created_at, created_by, revoked_at, NULL, NULL FROM open311_clients"
        ).bindparams(kinds=_OPEN311_KINDS)
    )
    with op.batch_alter_table("open311_requests", copy_from=_requests_table("open311_clients")) as batch:
        batch.drop_constraint("fk_open311_requests_client_id_open311_clients", type_="foreignkey")
        batch.create_foreign_key("fk_open311_requests_client_id_api_clients", "api_clients", ["client_id"], ["id"])
    op.drop_index(op.f("ix_open311_clients_division_code"), table_name="open311_clients")
    op.drop_table("open311_clients")

    with op.batch_alter_table("matters") as batch:
        batch.add_column(sa.Column("external_system", sa.String(32), nullable=True))
        batch.add_column(sa.Column("external_ref", sa.String(64), nullable=True))
        batch.add_column(sa.Column("request_type", sa.String(16), nullable=True))
    op.create_index(
        "ix_matters_external_system_external_ref", "matters", ["external_system", "external_ref"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_matters_external_system_external_ref", table_name="matters")
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35, PostgreSQL): batch mode would copy the table
    # and needs reflection, which the migration connection's dialect cannot do.
    for column in ("request_type", "external_ref", "external_system"):
        op.execute(f"ALTER TABLE matters DROP COLUMN {column}")
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
    op.execute(
        sa.text(
            "INSERT INTO open311_clients (id, name, contact, division_code, key_hash, key_prefix, active, "
            "created_at, created_by, revoked_at) SELECT id, name, contact, division_code, key_hash, key_prefix, "
            "active, created_at, created_by, revoked_at FROM api_clients WHERE system_kind = 'open311'"
        )
    )
    with op.batch_alter_table("open311_requests", copy_from=_requests_table("api_clients")) as batch:
        batch.drop_constraint("fk_open311_requests_client_id_api_clients", type_="foreignkey")
        batch.create_foreign_key(
            "fk_open311_requests_client_id_open311_clients", "open311_clients", ["client_id"], ["id"]
        )
    op.drop_table("api_receipts")
    op.drop_index(op.f("ix_api_clients_division_code"), table_name="api_clients")
    op.drop_table("api_clients")
