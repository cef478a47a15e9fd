"""sealed notes: status report notes and portal event bodies sealed like the content

Revision ID: 0013_sealed_notes
Revises: 0011_plugin_state
Create Date: 2026-12-14 08:00:00

``status_history.note`` and ``portal_events.body`` become bytes with the sealing key's id beside
them (``note_key_id``, ``body_key_id``); a purged event body is NULL. Existing values stay as they
were (plaintext, key id NULL) and keep working; `ozgbridge data-keys rewrap` seals them. Two
partial indexes let retention find what it still has to delete. A downgrade works only while
nothing is sealed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_sealed_notes"
down_revision: str | None = "0011_plugin_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTED_SQL = "note IS NOT NULL"
WITH_BODY_SQL = "body IS NOT NULL"
_UNFINISHED = "state IN ('pending', 'delivering')"


def _due_index() -> None:
    op.create_index(
        "ix_portal_events_due",
        "portal_events",
        ["next_attempt_at"],
        sqlite_where=sa.text(_UNFINISHED),
        postgresql_where=sa.text(_UNFINISHED),
    )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("status_history") as batch:
        batch.add_column(sa.Column("note_key_id", sa.String(length=32), nullable=True))
        batch.alter_column(
            "note",
            existing_type=sa.Text(),
            type_=sa.LargeBinary(),
            existing_nullable=True,
            postgresql_using="convert_to(note, 'UTF8')",
        )
    # SQLite rebuilds the table, and a rebuild would not keep this index partial: made again.
    op.drop_index("ix_portal_events_due", table_name="portal_events")
    with op.batch_alter_table("portal_events") as batch:
        batch.add_column(sa.Column("body_key_id", sa.String(length=32), nullable=True))
        batch.alter_column(
            "body",
            existing_type=sa.Text(),
            type_=sa.LargeBinary(),
            existing_nullable=False,
            nullable=True,
            postgresql_using="convert_to(body, 'UTF8')",
        )
    _due_index()
    if sqlite:
        # The copies kept the old TEXT values; store them as the BLOBs the columns now declare.
        op.execute("UPDATE status_history SET note = CAST(note AS BLOB) WHERE note IS NOT NULL")
        op.execute("UPDATE portal_events SET body = CAST(body AS BLOB)")
    op.create_index(
        "ix_status_history_noted",
        "status_history",
        ["application_id"],
        sqlite_where=sa.text(NOTED_SQL),
        postgresql_where=sa.text(NOTED_SQL),
    )
    op.create_index(
        "ix_portal_events_with_body",
        "portal_events",
        ["application_id"],
        sqlite_where=sa.text(WITH_BODY_SQL),
        postgresql_where=sa.text(WITH_BODY_SQL),
    )


def downgrade() -> None:
    bind = op.get_bind()
    sealed = bind.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM status_history WHERE note_key_id IS NOT NULL)"
            " + (SELECT count(*) FROM portal_events WHERE body_key_id IS NOT NULL)"
        )
    ).scalar_one()
    if sealed:
        raise RuntimeError(
            f"{sealed} status notes or portal event bodies are sealed: the schema before "
            "0013_sealed_notes cannot hold them (nothing was changed)"
        )
    op.drop_index("ix_portal_events_with_body", table_name="portal_events")
    op.drop_index("ix_status_history_noted", table_name="status_history")
    # A purged body was NULL; the older schema requires one (an empty event, never sent again).
    op.execute("UPDATE portal_events SET body = '' WHERE body IS NULL")
    op.drop_index("ix_portal_events_due", table_name="portal_events")
    with op.batch_alter_table("portal_events") as batch:
        batch.alter_column(
            "body",
            existing_type=sa.LargeBinary(),
            type_=sa.Text(),
            existing_nullable=True,
            nullable=False,
            postgresql_using="convert_from(body, 'UTF8')",
        )
        batch.drop_column("body_key_id")
    _due_index()
    with op.batch_alter_table("status_history") as batch:
        batch.alter_column(
            "note",
            existing_type=sa.LargeBinary(),
            type_=sa.Text(),
            existing_nullable=True,
            postgresql_using="convert_from(note, 'UTF8')",
        )
        batch.drop_column("note_key_id")
    if bind.dialect.name == "sqlite":
        op.execute("UPDATE status_history SET note = CAST(note AS TEXT) WHERE note IS NOT NULL")
        op.execute("UPDATE portal_events SET body = CAST(body AS TEXT)")
