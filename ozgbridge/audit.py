"""The audit log's public names; the log itself (format and SQL) is `ozgbridge.store.audit_log`,
its verification and checkpoints `ozgbridge.audit_verify`, its keys `ozgbridge.audit_keys`.

Callers keep writing ``from ozgbridge import audit`` and
``audit.append(conn, audit.AuditEvent(…))``: the names stay here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.audit_log import (
    GENESIS_HASH,
    AuditEvent,
    append,
    canonical_json,
    chain_hash,
    chaining_keys,
    event_document,
    keyed_document,
    record,
    reset_keys,
    swap_keys,
    use_keys,
)

if TYPE_CHECKING:
    from ozgbridge.audit_verify import VerifyResult

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "append",
    "canonical_json",
    "chain_hash",
    "chaining_keys",
    "event_document",
    "keyed_document",
    "record",
    "reset_keys",
    "swap_keys",
    "use_keys",
    "verify",
]


async def verify(engine: AsyncEngine, **options: Any) -> VerifyResult:
    """Recompute the whole chain: see `ozgbridge.audit_verify.verify`."""
    # Imported here: verification builds on this module.
    from ozgbridge.audit_verify import verify as verify_chain  # noqa: PLC0415

    return await verify_chain(engine, **options)
