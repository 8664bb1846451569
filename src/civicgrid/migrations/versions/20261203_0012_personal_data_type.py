"""personal data as a type: reporters' names are encrypted at rest like their phone numbers

``matters.reporter_name`` becomes a ``kit.personal.Personal`` column (ciphertext, context
``matters.reporter_name``): the column widens to text and every stored name is encrypted with
the configured cipher (``CIVICGRID_PII_CIPHER``), through the column type itself, in batches.
Users' phones and reporters' phones were already ciphertext (``v1.`` AES-256-GCM, which keeps
decrypting beside the new ``aes-gcm.`` / ``sm4-gcm.`` values), so they are left as they are.
The rewrite is a migration, not an audited write: the chain keeps no personal values anyway.

Revision ID: 0012_personal_data_type
Revises: 0011_org_units
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.kit.personal import Personal

revision: str = "0012_personal_data_type"
down_revision: str | None = "0011_org_units"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
_PREFIXES = ("aes-gcm.", "sm4-gcm.", "v1.")
_CONTEXT = "matters.reporter_name"


def _rewrite(encrypt: bool) -> None:
    """Encrypt the clear names (``encrypt``) or decrypt the encrypted ones, batch by batch."""
    conn = op.get_bind()
    raw = sa.table("matters", sa.column("id", sa.String()), sa.column("reporter_name", sa.Text()))
    typed = sa.table("matters", sa.column("id", sa.String()),
                     sa.column("reporter_name", Personal(_CONTEXT, "name")))
    last = ""
    while True:
        rows = conn.execute(sa.select(raw.c.id, raw.c.reporter_name)
                            .where(raw.c.id > last, raw.c.reporter_name.is_not(None))
                            .order_by(raw.c.id).limit(_BATCH)).all()
        if not rows:
            return
        last = rows[-1][0]
        for row_id, value in rows:
            stored = value.startswith(_PREFIXES)
            if encrypt and not stored:
                conn.execute(typed.update().where(typed.c.id == row_id), {"reporter_name": value})
            elif not encrypt and stored:
                clear = conn.execute(sa.select(typed.c.reporter_name).where(typed.c.id == row_id)).scalar_one()
                conn.execute(raw.update().where(raw.c.id == row_id), {"reporter_name": clear})


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite does not enforce a VARCHAR length
        op.alter_column("matters", "reporter_name", type_=sa.Text(), existing_type=sa.String(64))
    _rewrite(encrypt=True)


def downgrade() -> None:
    _rewrite(encrypt=False)
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("matters", "reporter_name", type_=sa.String(64), existing_type=sa.Text(),
                        postgresql_using="left(reporter_name, 64)")
