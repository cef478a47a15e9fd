"""status history and FIT-Connect submissions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_history",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("application_id", sa.String(length=26), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_status_history_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_history")),
    )
    op.create_index(
        op.f("ix_status_history_application_id_at"),
        "status_history",
        ["application_id", "at"],
        unique=False,
    )
    op.create_table(
        "fitconnect_submissions",
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("application_id", sa.String(length=26), nullable=True),
        sa.Column("destination_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("events_seen", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_fitconnect_submissions_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_fitconnect_submissions")),
    )
    op.create_index(
        op.f("ix_fitconnect_submissions_direction_state"),
        "fitconnect_submissions",
        ["direction", "state"],
        unique=False,
    )
    op.create_index(
        op.f("ix_fitconnect_submissions_application_id"),
        "fitconnect_submissions",
        ["application_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_fitconnect_submissions_application_id"), table_name="fitconnect_submissions"
    )
    op.drop_index(
        op.f("ix_fitconnect_submissions_direction_state"), table_name="fitconnect_submissions"
    )
    op.drop_table("fitconnect_submissions")
    op.drop_index(op.f("ix_status_history_application_id_at"), table_name="status_history")
    op.drop_table("status_history")
