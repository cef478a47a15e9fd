"""The database schema (SQLAlchemy Core). Alembic migrations must produce exactly this.

Contents (form data, attachments and their file names) live in their own columns, sealed with
AES-256-GCM (see `ozgbridge.dataprotection.sealing`) under the data key named beside them, and are
read only by the worker; every aggregate query (reports, status) stays on the narrow columns.
Status report notes and portal event bodies are sealed the same way. Retention empties the
content columns (notes, event bodies) and sets ``content_purged_at``; the metadata stays.

The tables are defined by area — `tables_applications` (intake and delivery), `tables_status`
(what follows delivery), `tables_operations` — on the one `metadata` of `tables_common`. A table
joins `metadata` only when its module is imported, and Alembic (``migrations/env.py``), the
inventory and the test comparing migrations with the models all work from `metadata`: so this
module imports every area and is the one place to import the schema from. Importing it gives a
complete `metadata`; a new area module must be imported here.
"""

from __future__ import annotations

from ozgbridge.store.tables_applications import (
    UNFINISHED_SQL,
    UNPURGED_SQL,
    UNROUTABLE_SQL,
    applications,
    attachments,
    attempts,
    deliveries,
    idempotency_keys,
)
from ozgbridge.store.tables_common import UTCDateTime, metadata
from ozgbridge.store.tables_operations import (
    api_key_usage,
    audit_events,
    plugin_records,
    route_checks,
    route_states,
    route_transitions,
    ui_revoked_sessions,
    ui_sign_in_failures,
    unmet_demand,
)
from ozgbridge.store.tables_status import (
    NOTED_SQL,
    PORTAL_EVENTS_UNFINISHED_SQL,
    WITH_BODY_SQL,
    forwardings,
    portal_events,
    status_history,
)

__all__ = [
    "NOTED_SQL",
    "PORTAL_EVENTS_UNFINISHED_SQL",
    "UNFINISHED_SQL",
    "UNPURGED_SQL",
    "UNROUTABLE_SQL",
    "WITH_BODY_SQL",
    "UTCDateTime",
    "api_key_usage",
    "applications",
    "attachments",
    "attempts",
    "audit_events",
    "deliveries",
    "forwardings",
    "idempotency_keys",
    "metadata",
    "plugin_records",
    "portal_events",
    "route_checks",
    "route_states",
    "route_transitions",
    "status_history",
    "ui_revoked_sessions",
    "ui_sign_in_failures",
    "unmet_demand",
]
