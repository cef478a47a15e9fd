"""The schema of what follows delivery: status reports, forwardings, the portal events outbox.

One area of the schema (gathered in `ozgbridge.store.tables`), kept apart because these tables
record an application's life after its delivery — what the authority reported, where the
application went next, what the portal is told — each row belonging to one application.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    text,
)

from ozgbridge.store.tables_common import UTCDateTime, id_column, metadata

# Status entries with a note, portal events with a body (written literally: see
# ozgbridge.store.tables_applications.UNFINISHED_SQL).
NOTED_SQL = "note IS NOT NULL"
WITH_BODY_SQL = "body IS NOT NULL"

# What happened to an application after delivery, as reported back (by a back-end, or read by a
# plug-in from another system). ``detail`` is JSON and non-personal: problem types, event ids.
status_history = Table(
    "status_history",
    metadata,
    id_column(primary_key=True),
    id_column("application_id", ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
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
    id_column(primary_key=True),
    id_column("application_id", ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("from_tenant", String(64), nullable=False),
    Column("to_tenant", String(64), nullable=False),
    id_column("delivery_id", nullable=False),  # the new delivery, to ``to_tenant``
    id_column("status_entry_id", nullable=False),  # the not_responsible report that caused it
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
    id_column("id", nullable=False, unique=True),
    id_column("application_id", ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
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
