"""attempts.response_excerpt: the start of the back-end's error answer

Revision ID: 0008_attempt_response
Revises: 0002
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_attempt_response"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("response_excerpt", sa.String(length=1024), nullable=True))


def downgrade() -> None:
    # batch: SQLite before 3.35 cannot drop a column in place
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("response_excerpt")
