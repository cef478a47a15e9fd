"""The audit log's public names; the log itself (format and SQL) is `ozgbridge.store.audit_log`.

Callers keep writing ``from ozgbridge import audit`` and
``audit.append(conn, audit.AuditEvent(…))``: the names stay here.
"""

from ozgbridge.store.audit_log import (
    GENESIS_HASH,
    AuditEvent,
    VerifyResult,
    append,
    canonical_json,
    chain_hash,
    event_document,
    record,
    verify,
)

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "VerifyResult",
    "append",
    "canonical_json",
    "chain_hash",
    "event_document",
    "record",
    "verify",
]
