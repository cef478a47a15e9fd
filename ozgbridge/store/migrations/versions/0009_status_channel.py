"""status back-channel: processing status, notes, forwardings, portal events outbox

Revision ID: 0009_status_channel
Revises: 0005_unmet_demand
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_status_channel"
down_revision: str | None = "0005_unmet_demand"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNFINISHED = "state IN ('pending', 'delivering')"


def upgrade() -> None:
    op.add_column("applications", sa.Column("processing_status", sa.String(32), nullable=True))
    op.add_column(
        "applications",
        sa.Column("portal_events", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_index(
        "ix_applications_unroutable",
        "applications",
        ["id"],
        sqlite_where=sa.text("status = 'unroutable'"),
        postgresql_where=sa.text("status = 'unroutable'"),
    )
    op.add_column("status_history", sa.Column("note", sa.Text(), nullable=True))
    op.add_column("status_history", sa.Column("file_reference", sa.String(200), nullable=True))
    # FIT-Connect's accept-submission was recorded as "accepted"; the code for it is confirmed.
    op.execute("UPDATE status_history SET status = 'confirmed' WHERE status = 'accepted'")
    op.execute(
        "UPDATE applications SET processing_status = ("
        " SELECT h.status FROM status_history h WHERE h.application_id = applications.id"
        " ORDER BY h.at DESC, h.id DESC LIMIT 1)"
    )

    op.create_table(
        "forwardings",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("application_id", sa.String(26), nullable=False),
        sa.Column("from_tenant", sa.String(64), nullable=False),
        sa.Column("to_tenant", sa.String(64), nullable=False),
        sa.Column("delivery_id", sa.String(26), nullable=False),
        sa.Column("status_entry_id", sa.String(26), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_forwardings_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forwardings")),
    )
    op.create_index(
        op.f("ix_forwardings_application_id_at"), "forwardings", ["application_id", "at"]
    )
    op.create_index(op.f("ix_forwardings_from_tenant_at"), "forwardings", ["from_tenant", "at"])

    op.create_table(
        "portal_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("application_id", sa.String(26), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("leased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_portal_events_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_portal_events")),
        sa.UniqueConstraint("id", name=op.f("uq_portal_events_id")),
    )
    op.create_index(
        op.f("ix_portal_events_application_id_seq"), "portal_events", ["application_id", "seq"]
    )
    op.create_index(
        "ix_portal_events_due",
        "portal_events",
        ["next_attempt_at"],
        sqlite_where=sa.text(_UNFINISHED),
        postgresql_where=sa.text(_UNFINISHED),
    )
    op.create_index("ix_portal_events_key_state", "portal_events", ["key_id", "state", "seq"])
    op.create_index("ix_portal_events_state_seq", "portal_events", ["state", "seq"])


def downgrade() -> None:
    op.drop_index("ix_portal_events_state_seq", table_name="portal_events")
    op.drop_index("ix_portal_events_key_state", table_name="portal_events")
    op.drop_index("ix_portal_events_due", table_name="portal_events")
    op.drop_index(op.f("ix_portal_events_application_id_seq"), table_name="portal_events")
    op.drop_table("portal_events")
    op.drop_index(op.f("ix_forwardings_from_tenant_at"), table_name="forwardings")
    op.drop_index(op.f("ix_forwardings_application_id_at"), table_name="forwardings")
    op.drop_table("forwardings")
    op.execute(
        "UPDATE status_history SET status = 'accepted'"
        " WHERE status = 'confirmed' AND source LIKE 'fitconnect:%'"
    )
    # batch: SQLite before 3.35 cannot drop a column in place
    with op.batch_alter_table("status_history") as batch:
        batch.drop_column("file_reference")
        batch.drop_column("note")
    op.drop_index("ix_applications_unroutable", table_name="applications")
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("portal_events")
        batch.drop_column("processing_status")
