"""dashboard sessions: revoked sessions and failed sign-ins (for the throttle)

Revision ID: 0012_sessions
Revises: 0009_status_channel
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_sessions"
down_revision: str | None = "0009_status_channel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ui_revoked_sessions",
        sa.Column("session_id", sa.String(length=26), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_ui_revoked_sessions")),
    )
    op.create_index(
        op.f("ix_ui_revoked_sessions_expires_at"), "ui_revoked_sessions", ["expires_at"]
    )
    op.create_table(
        "ui_sign_in_failures",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ui_sign_in_failures")),
    )
    op.create_index(
        op.f("ix_ui_sign_in_failures_subject_at"), "ui_sign_in_failures", ["subject", "at"]
    )
    op.create_index(op.f("ix_ui_sign_in_failures_at"), "ui_sign_in_failures", ["at"])


def downgrade() -> None:
    op.drop_table("ui_sign_in_failures")
    op.drop_table("ui_revoked_sessions")
