"""audit_events.key_id: the audit key an event's hash is an HMAC under (NULL: plain SHA-256)

Revision ID: 0010_hardening
Revises: 0004_data_protection
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_hardening"
down_revision: str | None = "0004_data_protection"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing events keep NULL: they were chained with plain SHA-256 and verify as before.
    op.add_column("audit_events", sa.Column("key_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # batch: SQLite before 3.35 cannot drop a column in place
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("key_id")
