"""unmet demand: refusals for want of a responsible authority, per service, region and month

Revision ID: 0005_unmet_demand
Revises: 0008_attempt_response
Create Date: 2026-11-22 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_unmet_demand"
down_revision: str | None = "0008_attempt_response"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unmet_demand",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("leika_key", sa.String(length=14), nullable=False),
        sa.Column("ars", sa.String(length=12), nullable=False),
        sa.Column("refusals", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", "leika_key", "ars", name=op.f("pk_unmet_demand")),
    )


def downgrade() -> None:
    op.drop_table("unmet_demand")
