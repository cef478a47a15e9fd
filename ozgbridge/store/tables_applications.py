"""The schema of intake and delivery: applications, attachments, deliveries, attempts.

With them the idempotency keys, which give a repeated submission the first one's answer. One area
of the schema, gathered in `ozgbridge.store.tables` (which says how content is sealed); kept apart
because these tables carry every application through intake, claims and delivery, with partial
indexes whose predicates queries must repeat literally (the ``*_SQL`` constants here).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from ozgbridge.store.tables_common import UTCDateTime, id_column, metadata

# Applications whose content retention has not deleted yet (written literally: see UNFINISHED_SQL).
UNPURGED_SQL = "content_purged_at IS NULL"

UNROUTABLE_SQL = "status = 'unroutable'"

applications = Table(
    "applications",
    metadata,
    id_column(primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("leika_key", String(14), nullable=False),
    Column("service_name", String(500)),
    Column("ars", String(12), nullable=False),
    Column("ags", String(8), nullable=False),
    Column("reference", String(200)),
    Column("submitted_by", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("data_mime_type", String(200), nullable=False),
    Column("data_schema_uri", String(500)),
    Column("data_sha256", String(64), nullable=False),
    Column("data_size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    # The data key that sealed ``data``; NULL: stored in plaintext (OZGBRIDGE_ALLOW_PLAINTEXT),
    # or purged.
    Column("data_key_id", String(32)),
    Column("received_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("content_purged_at", UTCDateTime),
    # The authority's latest processing status (ozgbridge.status_rules.ProcessingStatus), beside
    # ozgbridge's own delivery ``status``; its history is in status_history.
    Column("processing_status", String(32)),
    # The submitting portal key had `events` configured: status changes go to its outbox.
    Column("portal_events", Boolean, nullable=False, server_default=text("false")),
    Index(None, "tenant_id", "received_at"),
    Index(None, "received_at"),
    # Purge looks only at applications that still hold content; finished ones pile up forever as
    # metadata, so the index covers only the rest (the predicate literal, as for deliveries).
    Index(
        "ix_applications_unpurged",
        "status",
        "updated_at",
        sqlite_where=text(UNPURGED_SQL),
        postgresql_where=text(UNPURGED_SQL),
    ),
    # Operators list the unroutable ones; a partial index keeps that cheap (and free for intake).
    Index(
        "ix_applications_unroutable",
        "id",
        sqlite_where=text(UNROUTABLE_SQL),
        postgresql_where=text(UNROUTABLE_SQL),
    ),
)

attachments = Table(
    "attachments",
    metadata,
    id_column(primary_key=True),
    id_column("application_id", ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    # A file name can name a person ("Personalausweis_Mustermann.pdf"): sealed like the content.
    Column("filename", LargeBinary, nullable=False),
    Column("mime_type", String(200), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    # The data key that sealed ``filename`` and ``content``; NULL: plaintext, or purged.
    Column("key_id", String(32)),
    UniqueConstraint("application_id", "position"),
)

# Written out literally, in the index and in every query that should use it: a planner (SQLite's
# in particular) can only use a partial index when the query's condition visibly implies the
# index's, which a bound parameter like "state IN (?, ?)" does not.
UNFINISHED_SQL = "state IN ('pending', 'delivering')"

deliveries = Table(
    "deliveries",
    metadata,
    id_column(primary_key=True),
    id_column("application_id", ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("route_id", String(64), nullable=False),
    Column("connector", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    # Attempt numbers run on across replays; ``rung`` is the position on the retry ladder, which
    # a replay restarts and which waiting on a paused or open route never advances.
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("rung", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    # While delivering (leased), next_attempt_at == lease_expires_at: one partial index then finds
    # both due pending deliveries and expired leases.
    Column("lease_owner", String(64)),
    Column("leased_at", UTCDateTime),
    Column("lease_expires_at", UTCDateTime),
    Column("last_error", String(500)),
    Column("last_status_code", Integer),
    Column("remote_reference", String(500)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # When the current ladder began: creation, or the last replay ("oldest pending" counts here).
    Column("queued_at", UTCDateTime),
    Column("delivered_at", UTCDateTime),
    Column("cancelled_at", UTCDateTime),
    Column("cancel_reason", String(500)),
    Index(None, "application_id"),
    # Claims only ever look at unfinished deliveries; a partial index keeps claim cost flat
    # however many finished deliveries accumulate.
    Index(
        "ix_deliveries_due",
        "next_attempt_at",
        sqlite_where=text(UNFINISHED_SQL),
        postgresql_where=text(UNFINISHED_SQL),
    ),
    Index("ix_deliveries_tenant_state", "tenant_id", "state"),
    # Claims of routes with limits (max_in_flight, rate_limit, breaker probes) look per route.
    Index(
        "ix_deliveries_route_due",
        "tenant_id",
        "route_id",
        "next_attempt_at",
        sqlite_where=text(UNFINISHED_SQL),
        postgresql_where=text(UNFINISHED_SQL),
    ),
    # Listings (newest first = highest ULID first) and bulk replays by state.
    Index("ix_deliveries_state_id", "state", "id"),
)

attempts = Table(
    "attempts",
    metadata,
    id_column(primary_key=True),
    id_column("delivery_id", ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("worker", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status_code", Integer),
    Column("error", String(500)),
    Column("retry_at", UTCDateTime),
    # The start (1 KB) of the back-end's answer to a failed attempt, for the people who fix it.
    # It may hold personal data: shown through the API to those who may see the application,
    # never logged or audited.
    # The start of the back-end's answer to a failed attempt: it may quote the application, so it
    # is sealed like the content (under ``response_key_id``) and purged with it.
    Column("response_excerpt", LargeBinary),
    Column("response_key_id", String(32)),
    UniqueConstraint("delivery_id", "number"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("api_key_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    id_column("application_id", ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("response_status", Integer, nullable=False),
    Column("response_body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "created_at"),  # retention deletes records past their window
)
