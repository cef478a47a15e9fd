"""data protection: sealed content with its key id, purge marks, key usage

Revision ID: 0004_data_protection
Revises: 0003_operations
Create Date: 2026-11-24 08:00:00

Existing content stays as it was (plaintext, key id NULL) and keeps working; `ozgbridge data-keys
rewrap` seals it under the first data key. A downgrade works only while content is plaintext.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_data_protection"
down_revision: str | None = "0003_operations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPURGED_SQL = "content_purged_at IS NULL"


def upgrade() -> None:
    op.add_column("applications", sa.Column("data_key_id", sa.String(length=32), nullable=True))
    op.add_column(
        "applications", sa.Column("content_purged_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_applications_unpurged",
        "applications",
        ["status", "updated_at"],
        unique=False,
        sqlite_where=sa.text(UNPURGED_SQL),
        postgresql_where=sa.text(UNPURGED_SQL),
    )
    # File names become bytes, so they can be sealed like the content (SQLite: table rebuilt).
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
        batch.alter_column(
            "filename",
            existing_type=sa.String(length=255),
            type_=sa.LargeBinary(),
            existing_nullable=False,
            postgresql_using="convert_to(filename, 'UTF8')",
        )
    if op.get_bind().dialect.name == "sqlite":
        # The copy kept the old TEXT values; store them as the BLOBs the column now declares.
        op.execute("UPDATE attachments SET filename = CAST(filename AS BLOB)")
    # A back-end's answer may quote the application: sealed like the content.
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("response_key_id", sa.String(length=32), nullable=True))
        batch.alter_column(
            "response_excerpt",
            existing_type=sa.String(length=1024),
            type_=sa.LargeBinary(),
            existing_nullable=True,
            postgresql_using="convert_to(response_excerpt, 'UTF8')",
        )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE attempts SET response_excerpt = CAST(response_excerpt AS BLOB)")
    op.create_index(
        op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False
    )
    op.create_table(
        "api_key_usage",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_key_usage")),
    )


def downgrade() -> None:
    op.drop_table("api_key_usage")
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    with op.batch_alter_table("attempts") as batch:
        batch.alter_column(
            "response_excerpt",
            existing_type=sa.LargeBinary(),
            type_=sa.String(length=1024),
            existing_nullable=True,
            postgresql_using="convert_from(response_excerpt, 'UTF8')",
        )
        batch.drop_column("response_key_id")
    with op.batch_alter_table("attachments") as batch:
        batch.alter_column(
            "filename",
            existing_type=sa.LargeBinary(),
            type_=sa.String(length=255),
            existing_nullable=False,
            postgresql_using="convert_from(filename, 'UTF8')",
        )
        batch.drop_column("key_id")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE attachments SET filename = CAST(filename AS TEXT)")
    op.drop_index("ix_applications_unpurged", table_name="applications")
    op.drop_column("applications", "content_purged_at")
    op.drop_column("applications", "data_key_id")
