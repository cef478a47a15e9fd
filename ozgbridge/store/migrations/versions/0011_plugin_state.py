"""plugin_records: state plug-ins keep through the store; fitconnect_submissions moves into it

Revision ID: 0011_plugin_state
Revises: 0010_hardening
Create Date: 2026-12-06 20:00:00

The FIT-Connect plug-in kept its submissions in a table of its own, written with raw SQL. Its rows
become plug-in records of ``fitconnect``, keyed ``in:<submission id>`` (received: what was
answered) and ``out:<submission id>`` (sent: the case log read so far), each sent one tied to the
delivery whose remote reference names it. This migration is the one place in the core that names
the plug-in: it moves that plug-in's data, once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011_plugin_state"
down_revision: str | None = "0010_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PLUGIN = "fitconnect"
_STAMP = sa.DateTime(timezone=True)
_old = sa.table(
    "fitconnect_submissions",
    sa.column("submission_id", sa.String),
    sa.column("direction", sa.String),
    sa.column("application_id", sa.String),
    sa.column("destination_id", sa.String),
    sa.column("case_id", sa.String),
    sa.column("state", sa.String),
    sa.column("events_seen", sa.Integer),
    sa.column("created_at", _STAMP),
    sa.column("updated_at", _STAMP),
)
_new = sa.table(
    "plugin_records",
    sa.column("plugin", sa.String),
    sa.column("key", sa.String),
    sa.column("application_id", sa.String),
    sa.column("delivery_id", sa.String),
    sa.column("state", sa.String),
    sa.column("data", sa.Text),
    sa.column("created_at", _STAMP),
    sa.column("updated_at", _STAMP),
)
_deliveries = sa.table("deliveries", sa.column("id", sa.String), sa.column("remote_reference"))


def upgrade() -> None:
    op.create_table(
        "plugin_records",
        sa.Column("plugin", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("application_id", sa.String(length=26), nullable=True),
        sa.Column("delivery_id", sa.String(length=26), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_plugin_records_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_plugin_records_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plugin", "key", name=op.f("pk_plugin_records")),
    )
    op.create_index(
        op.f("ix_plugin_records_plugin_state"), "plugin_records", ["plugin", "state"], unique=False
    )
    op.create_index(op.f("ix_plugin_records_application_id"), "plugin_records", ["application_id"])
    op.create_index(op.f("ix_plugin_records_delivery_id"), "plugin_records", ["delivery_id"])
    bind = op.get_bind()
    for row in bind.execute(sa.select(_old)).mappings().all():
        bind.execute(_new.insert().values(_record(bind, row)))
    op.drop_index(
        op.f("ix_fitconnect_submissions_application_id"), table_name="fitconnect_submissions"
    )
    op.drop_index(
        op.f("ix_fitconnect_submissions_direction_state"), table_name="fitconnect_submissions"
    )
    op.drop_table("fitconnect_submissions")


def _record(bind: Any, row: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "submission_id": row.submission_id,
        "case_id": row.case_id,
        "destination_id": row.destination_id,
    }
    delivery_id = None
    if row.direction == "out":
        data["events_seen"] = row.events_seen
        delivery_id = bind.execute(
            sa.select(_deliveries.c.id)
            .where(_deliveries.c.remote_reference.like(f"submission:{row.submission_id}/%"))
            .limit(1)
        ).scalar()
    return {
        "plugin": _PLUGIN,
        "key": f"{row.direction}:{row.submission_id}",
        "application_id": row.application_id,
        "delivery_id": delivery_id,
        "state": row.state,
        "data": json.dumps(data, sort_keys=True, separators=(",", ":")),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def downgrade() -> None:
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
    bind = op.get_bind()
    moved: set[str] = set()
    records = sa.select(_new).where(_new.c.plugin == _PLUGIN).order_by(_new.c.key.desc())
    for row in bind.execute(records).mappings().all():
        direction, _, submission_id = str(row.key).partition(":")
        data = json.loads(row.data)
        # One row per submission in the old table: "out" (sorted first) wins over "in".
        if direction not in ("in", "out") or submission_id in moved:
            continue
        moved.add(submission_id)
        bind.execute(
            _old.insert().values(
                submission_id=submission_id,
                direction=direction,
                application_id=row.application_id,
                destination_id=data["destination_id"],
                case_id=data["case_id"],
                state=row.state,
                events_seen=int(data.get("events_seen", 0)),
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
        )
    op.drop_index(op.f("ix_plugin_records_delivery_id"), table_name="plugin_records")
    op.drop_index(op.f("ix_plugin_records_application_id"), table_name="plugin_records")
    op.drop_index(op.f("ix_plugin_records_plugin_state"), table_name="plugin_records")
    op.drop_table("plugin_records")
