"""The schema of operations: audit log, key usage, plug-in state, routes, demand, UI sessions.

One area of the schema (gathered in `ozgbridge.store.tables`), kept apart because these tables
serve running and watching the service rather than carrying applications: the audit chain, when
keys were last used, what plug-ins keep, each route's runtime state, tests and transitions (the
basis of availability figures), unmet demand, and the dashboard's sign-outs and failed sign-ins.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from ozgbridge.store.tables_common import UTCDateTime, id_column, metadata

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
    id_column("application_id"),
    id_column("delivery_id"),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # The audit key the hash is an HMAC under; NULL: plain SHA-256 (events from before keys).
    Column("key_id", String(32)),
    Index(None, "application_id"),
)

# When each API key was last used, written in batches by the API processes (not per request).
api_key_usage = Table(
    "api_key_usage",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("last_used_at", UTCDateTime, nullable=False),
)

# State plug-ins keep (connectors, intakes), only ever through `ozgbridge.store.plugin_state`:
# per plug-in and key, optionally about an application and a delivery, with a short indexed
# ``state`` to list what is still open, and ``data``: non-personal JSON (ids, counters).
plugin_records = Table(
    "plugin_records",
    metadata,
    Column("plugin", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    id_column("application_id", ForeignKey("applications.id", ondelete="CASCADE")),
    id_column("delivery_id", ForeignKey("deliveries.id", ondelete="CASCADE")),
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
    id_column("probe_delivery_id"),
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
    id_column(primary_key=True),
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
    id_column(primary_key=True),
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
    id_column("session_id", primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
)

# Failed dashboard sign-ins, one row per failure and subject it counts against (the client
# address, the token prefix's hash), for the throttle. Kept for the throttle's window only.
ui_sign_in_failures = Table(
    "ui_sign_in_failures",
    metadata,
    id_column(primary_key=True),
    Column("subject", String(80), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "subject", "at"),
    Index(None, "at"),
)
