"""inbox: what must reach a person (notifications, orders, call-outs), read and acknowledged

Revision ID: 0018_inbox
Revises: 0017_accounts_second_factor
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0018_inbox"
down_revision: str | None = "0017_accounts_second_factor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_items",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("recipient_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("recipient_division_code", sa.String(15), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title_zh", sa.String(200), nullable=False),
        sa.Column("title_en", sa.String(200), nullable=False),
        sa.Column("body_zh", sa.Text(), nullable=False, server_default=""),
        sa.Column("body_en", sa.Text(), nullable=False, server_default=""),
        sa.Column("link_type", sa.String(40), nullable=True),
        sa.Column("link_id", sa.String(64), nullable=True),
        sa.Column("division_code", sa.String(15), nullable=True),
        sa.Column("needs_ack", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("sender_id", sa.String(32), nullable=True),
        sa.Column("source_item_id", sa.String(32), nullable=True),
        sa.Column("escalation", sa.String(16), nullable=False, server_default="none"),
        sa.Column("repushes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("raised_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_inbox_items_recipient_id_id", "inbox_items", ["recipient_id", "id"])
    op.create_index("ix_inbox_items_recipient_unread", "inbox_items", ["recipient_id", "read_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_items_recipient_unread", table_name="inbox_items")
    op.drop_index("ix_inbox_items_recipient_id_id", table_name="inbox_items")
    op.drop_table("inbox_items")
