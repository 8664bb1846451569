"""accounts: forced password change, TOTP second factor, limited sessions, lock-out per address

- ``users.must_change_password``: set for accounts created with a password someone else chose
  (an administrator, the install, the demo); the first login may only change it.
- ``users.totp_secret`` (AES-GCM ciphertext, context ``users.totp_secret``), ``totp_confirmed_at``,
  ``totp_last_step`` (RFC 6238 §5.2: a code is accepted once).
- ``auth_tokens.scope``: NULL for a full session; ``password_change`` or ``totp_enrolment`` for a
  session limited to that step.
- ``login_failures`` is keyed by the name typed and the client address (unknown names count and
  lock like known ones; a stranger's failures lock only the stranger's address); ``login_locks``
  holds the locks. ``users.locked_until`` is no longer written (kept for the downgrade).

Revision ID: 0017_accounts_second_factor
Revises: 0016_audit_hardening
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0017_accounts_second_factor"
down_revision: str | None = "0016_audit_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("users", sa.Column("totp_secret", sa.String(length=255), nullable=True))
    op.add_column("users", sa.Column("totp_confirmed_at", UTCDateTime(), nullable=True))
    op.add_column("users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.add_column("auth_tokens", sa.Column("scope", sa.String(length=16), nullable=True))

    # Pure bookkeeping (counts inside a window): the old rows are dropped with the old shape.
    op.drop_index(op.f("ix_login_failures_user_id_at"), table_name="login_failures")
    op.drop_table("login_failures")
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_username_ip_at"), "login_failures", ["username", "ip", "at"])
    op.create_index(op.f("ix_login_failures_ip_at"), "login_failures", ["ip", "at"])
    op.create_table(
        "login_locks",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("locked_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("username", "ip", name=op.f("pk_login_locks")),
    )


def downgrade() -> None:
    op.drop_table("login_locks")
    op.drop_index(op.f("ix_login_failures_ip_at"), table_name="login_failures")
    op.drop_index(op.f("ix_login_failures_username_ip_at"), table_name="login_failures")
    op.drop_table("login_failures")
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
    with op.batch_alter_table("auth_tokens") as batch:
        batch.drop_column("scope")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_confirmed_at")
        batch.drop_column("totp_secret")
        batch.drop_column("must_change_password")
