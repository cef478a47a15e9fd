"""The database schema (SQLAlchemy Core). Alembic migrations must produce exactly this.

Contents (form data, attachments and their file names) live in their own columns, sealed with
AES-256-GCM (see `ozgbridge.dataprotection.sealing`) under the data key named beside them, and are
read only by the worker; every aggregate query (reports, status) stays on the narrow columns.
Status report notes and portal event bodies are sealed the same way. Retention empties the
content columns (notes, event bodies) and sets ``content_purged_at``; the metadata stays.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out — also on SQLite, which stores no zone.

    The audit chain hashes timestamps, so a value must read back exactly as it was written.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use ozgbridge.domain.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id(name: str = "id", *args: Any, **kwargs: Any) -> Column[str]:
    """An id column: ULIDs are 26 characters."""
    return Column(name, String(26), *args, **kwargs)


# Applications whose content retention has not deleted yet (written literally: see UNFINISHED_SQL).
UNPURGED_SQL = "content_purged_at IS NULL"

UNROUTABLE_SQL = "status = 'unroutable'"

# Status entries with a note, portal events with a body (written literally, as above).
NOTED_SQL = "note IS NOT NULL"
WITH_BODY_SQL = "body IS NOT NULL"

applications = Table(
    "applications",
    metadata,
    _id(primary_key=True),
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
    _id(primary_key=True),
    _id("application_id", ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
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
    _id(primary_key=True),
    _id("application_id", ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
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
    _id(primary_key=True),
    _id("delivery_id", ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
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

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(64), nullable=False),
    Column("tenant_id", String(64)),
    _id("application_id"),
    _id("delivery_id"),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # The audit key the hash is an HMAC under; NULL: plain SHA-256 (events from before keys).
    Column("key_id", String(32)),
    Index(None, "application_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("api_key_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    _id("application_id", ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("response_status", Integer, nullable=False),
    Column("response_body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "created_at"),  # retention deletes records past their window
)

# When each API key was last used, written in batches by the API processes (not per request).
api_key_usage = Table(
    "api_key_usage",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("last_used_at", UTCDateTime, nullable=False),
)

# What happened to an application after delivery, as reported back (by a back-end, or read by a
# plug-in from another system). ``detail`` is JSON and non-personal: problem types, event ids.
status_history = Table(
    "status_history",
    metadata,
    _id(primary_key=True),
    _id("application_id", ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("source", String(100), nullable=False),
    Column("status", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    # Text for the applicant: personal data, sealed like the content (under ``note_key_id``;
    # NULL: plaintext) and purged with it. Shown to the keys that may see the application and
    # sent to the portal; never logged or audited.
    Column("note", LargeBinary),
    Column("note_key_id", String(32)),
    # The authority's Aktenzeichen: a case number, metadata like the portal's ``reference``.
    Column("file_reference", String(200)),
    Index(None, "application_id", "at"),
    # The notes retention still has to delete: few rows, so a purge run finds them cheaply.
    Index(
        "ix_status_history_noted",
        "application_id",
        sqlite_where=text(NOTED_SQL),
        postgresql_where=text(NOTED_SQL),
    ),
)

# Every time an application moved to another tenant because the one it was with reported
# not_responsible. The tenants it has been with are ``from_tenant`` of its rows plus its
# current tenant: forwarding never returns to any of them.
forwardings = Table(
    "forwardings",
    metadata,
    _id(primary_key=True),
    _id("application_id", ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("from_tenant", String(64), nullable=False),
    Column("to_tenant", String(64), nullable=False),
    _id("delivery_id", nullable=False),  # the new delivery, to ``to_tenant``
    _id("status_entry_id", nullable=False),  # the not_responsible report that caused it
    Column("at", UTCDateTime, nullable=False),
    Column("by", String(100), nullable=False),  # the reporter (status_history.source)
    Index(None, "application_id", "at"),
    Index(None, "from_tenant", "at"),
)

# The events' own states (ozgbridge.events.model.EventState), not the deliveries'.
PORTAL_EVENTS_UNFINISHED_SQL = "state IN ('pending', 'delivering')"

# The portal events outbox: written in the transaction that makes the news, sent by workers
# under a lease along the retry ladder, like deliveries. ``seq`` orders the events of one
# application (they are sent one after another); ``id`` is the event id (webhook-id).
portal_events = Table(
    "portal_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    _id("id", nullable=False, unique=True),
    _id("application_id", ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("type", String(32), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    # The exact JSON document sent (it may hold the note: personal data, never logged), sealed
    # like the content under ``body_key_id`` (NULL: plaintext). NULL once retention purged it.
    Column("body", LargeBinary),
    Column("body_key_id", String(32)),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_owner", String(64)),
    Column("leased_at", UTCDateTime),
    Column("lease_expires_at", UTCDateTime),
    Column("last_error", String(500)),
    Column("last_status_code", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Index(None, "application_id", "seq"),
    Index(
        "ix_portal_events_due",
        "next_attempt_at",
        sqlite_where=text(PORTAL_EVENTS_UNFINISHED_SQL),
        postgresql_where=text(PORTAL_EVENTS_UNFINISHED_SQL),
    ),
    Index("ix_portal_events_key_state", "key_id", "state", "seq"),
    Index("ix_portal_events_state_seq", "state", "seq"),
    # The bodies retention may still have to delete (see NOTED_SQL).
    Index(
        "ix_portal_events_with_body",
        "application_id",
        sqlite_where=text(WITH_BODY_SQL),
        postgresql_where=text(WITH_BODY_SQL),
    ),
)

# State plug-ins keep (connectors, intakes), only ever through `ozgbridge.store.plugin_state`:
# per plug-in and key, optionally about an application and a delivery, with a short indexed
# ``state`` to list what is still open, and ``data``: non-personal JSON (ids, counters).
plugin_records = Table(
    "plugin_records",
    metadata,
    Column("plugin", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    _id("application_id", ForeignKey("applications.id", ondelete="CASCADE")),
    _id("delivery_id", ForeignKey("deliveries.id", ondelete="CASCADE")),
    Column("state", String(32)),
    Column("data", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "plugin", "state"),
    Index(None, "application_id"),
    Index(None, "delivery_id"),
)

# A route's runtime state, shared by every process: pause, circuit breaker, rate-limit bucket.
# A route without a row is active with a closed breaker. (Its configuration lives in the YAML.)
route_states = Table(
    "route_states",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("route_id", String(64), primary_key=True),
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    Column("breaker", String(16), nullable=False, server_default=text("'closed'")),
    Column("consecutive_failures", Integer, nullable=False, server_default=text("0")),
    Column("cooldown", Float),
    Column("open_until", UTCDateTime),
    _id("probe_delivery_id"),
    Column("tokens", Float),
    Column("tokens_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_failure_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Every route test (ping) and its result. With route_transitions the basis for availability
# figures: keep names and columns stable.
route_checks = Table(
    "route_checks",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("route_id", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("status_code", Integer),
    Column("duration_ms", Integer, nullable=False),
    Column("error", String(500)),
    Column("actor", String(100), nullable=False),
    Index(None, "tenant_id", "route_id", "at"),
)

# Every change of a route's state (active, paused, open, half-open) as operators see it: the
# state at time t is the to_state of the last row before t, or active without one.
route_transitions = Table(
    "route_transitions",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("route_id", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("actor", String(100), nullable=False),
    Index(None, "tenant_id", "route_id", "at"),
)

# Unmet demand: submissions refused because no authority is responsible, counted per service,
# region and month (UTC). Counts only — never who asked or what they sent.
unmet_demand = Table(
    "unmet_demand",
    metadata,
    Column("month", String(7), primary_key=True),  # YYYY-MM
    Column("leika_key", String(14), primary_key=True),
    Column("ars", String(12), primary_key=True),
    Column("refusals", Integer, nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
)

# Dashboard sessions ended by sign-out before their expiry. A session cookie is signed, so every
# API process accepts it until it expires — unless its id is here. Rows are useless once the
# session would have expired anyway and are removed from then on.
ui_revoked_sessions = Table(
    "ui_revoked_sessions",
    metadata,
    _id("session_id", primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
)

# Failed dashboard sign-ins, one row per failure and subject it counts against (the client
# address, the token prefix's hash), for the throttle. Kept for the throttle's window only.
ui_sign_in_failures = Table(
    "ui_sign_in_failures",
    metadata,
    _id(primary_key=True),
    Column("subject", String(80), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "subject", "at"),
    Index(None, "at"),
)
