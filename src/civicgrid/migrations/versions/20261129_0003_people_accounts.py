"""people: roles, role permissions, users, login failures, bearer tokens

Written by hand (other domains' models are still moving). The roles shipped in
``civicgrid/people/data/roles.json`` are loaded here so that a freshly migrated database can
be logged into at once; later edits of that file reach existing databases through
``civicgrid db upgrade`` / ``civicgrid roles sync`` (people.service.sync_roles).

Revision ID: 0003_people
Revises: 0002_geo
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0003_people"
down_revision: str | None = "0002_geo"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    roles = op.create_table(
        "roles",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=96), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_roles")),
    )
    role_permissions = op.create_table(
        "role_permissions",
        sa.Column("role_code", sa.String(length=40), nullable=False),
        sa.Column("permission", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["role_code"], ["roles.code"], ondelete="CASCADE",
                                name=op.f("fk_role_permissions_role_code_roles")),
        sa.PrimaryKeyConstraint("role_code", "permission", name=op.f("pk_role_permissions")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("role_code", sa.String(length=40), nullable=False),
        sa.Column("division_code", sa.String(length=15), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("phone_cipher", sa.String(length=255), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["role_code"], ["roles.code"], name=op.f("fk_users_role_code_roles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    # varchar_pattern_ops lets PostgreSQL answer the jurisdiction filter (LIKE 'prefix%') from the index.
    op.create_index(op.f("ix_users_division_code"), "users", ["division_code"],
                    postgresql_ops={"division_code": "varchar_pattern_ops"})
    op.create_index(op.f("ix_users_phone_hash"), "users", ["phone_hash"])
    op.create_index(op.f("ix_users_role_code"), "users", ["role_code"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_login_failures_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_user_id_at"), "login_failures", ["user_id", "at"])
    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_auth_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_tokens_token_hash")),
    )
    op.create_index(op.f("ix_auth_tokens_user_id"), "auth_tokens", ["user_id"])

    # Data step: the shipped roles (the JSON as it is when this runs; see the module docstring).
    from civicgrid.people.roles_data import load_roles

    shipped = load_roles()
    op.bulk_insert(roles, [{"code": r.code, "name_zh": r.name_zh, "name_en": r.name_en,
                            "description": r.description} for r in shipped])
    op.bulk_insert(role_permissions, [{"role_code": r.code, "permission": p}
                                      for r in shipped for p in sorted(r.permissions)])


def downgrade() -> None:
    op.drop_table("auth_tokens")
    op.drop_table("login_failures")
    op.drop_table("users")
    op.drop_table("role_permissions")
    op.drop_table("roles")
