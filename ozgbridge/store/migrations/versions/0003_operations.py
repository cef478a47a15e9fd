"""operations: delivery states delivering/cancelled, ladder rung, route state, checks, transitions

Revision ID: 0003_operations
Revises: 0012_sessions
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_operations"
down_revision: str | None = "0012_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Literal on purpose: the planners use a partial index only when a query's condition visibly
# implies the index's (see UNFINISHED_SQL in ozgbridge/store/tables.py).
OLD_UNFINISHED = "state IN ('pending', 'leased')"
NEW_UNFINISHED = "state IN ('pending', 'delivering')"


def _due_index(predicate: str) -> None:
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        unique=False,
        sqlite_where=sa.text(predicate),
        postgresql_where=sa.text(predicate),
    )


def upgrade() -> None:
    op.add_column(
        "deliveries", sa.Column("rung", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column("deliveries", sa.Column("queued_at", sa.DateTime(timezone=True)))
    op.add_column("deliveries", sa.Column("cancelled_at", sa.DateTime(timezone=True)))
    op.add_column("deliveries", sa.Column("cancel_reason", sa.String(length=500)))
    # Until now the ladder position was the attempt count.
    op.execute("UPDATE deliveries SET rung = attempts, queued_at = created_at")
    op.execute("UPDATE deliveries SET state = 'delivering' WHERE state = 'leased'")
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    _due_index(NEW_UNFINISHED)
    op.create_index(
        "ix_deliveries_route_due",
        "deliveries",
        ["tenant_id", "route_id", "next_attempt_at"],
        unique=False,
        sqlite_where=sa.text(NEW_UNFINISHED),
        postgresql_where=sa.text(NEW_UNFINISHED),
    )
    op.create_index("ix_deliveries_state_id", "deliveries", ["state", "id"], unique=False)

    op.create_table(
        "route_states",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("route_id", sa.String(length=64), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "breaker", sa.String(length=16), server_default=sa.text("'closed'"), nullable=False
        ),
        sa.Column(
            "consecutive_failures", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("cooldown", sa.Float(), nullable=True),
        sa.Column("open_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("probe_delivery_id", sa.String(length=26), nullable=True),
        sa.Column("tokens", sa.Float(), nullable=True),
        sa.Column("tokens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "route_id", name=op.f("pk_route_states")),
    )
    op.create_table(
        "route_checks",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("route_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_checks")),
    )
    op.create_index(
        op.f("ix_route_checks_tenant_id_route_id_at"),
        "route_checks",
        ["tenant_id", "route_id", "at"],
        unique=False,
    )
    op.create_table(
        "route_transitions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("route_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_transitions")),
    )
    op.create_index(
        op.f("ix_route_transitions_tenant_id_route_id_at"),
        "route_transitions",
        ["tenant_id", "route_id", "at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_route_transitions_tenant_id_route_id_at"), table_name="route_transitions"
    )
    op.drop_table("route_transitions")
    op.drop_index(op.f("ix_route_checks_tenant_id_route_id_at"), table_name="route_checks")
    op.drop_table("route_checks")
    op.drop_table("route_states")
    op.drop_index("ix_deliveries_state_id", table_name="deliveries")
    op.drop_index("ix_deliveries_route_due", table_name="deliveries")
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    # The older code knows neither name: a cancelled delivery becomes dead (visible, replayable).
    op.execute("UPDATE deliveries SET state = 'leased' WHERE state = 'delivering'")
    op.execute("UPDATE deliveries SET state = 'dead' WHERE state = 'cancelled'")
    _due_index(OLD_UNFINISHED)
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("queued_at")
        batch_op.drop_column("rung")
