"""`ozgbridge data-keys rewrap`: everything stored re-sealed under the first data key, online.

Content is form data, attachments and file names, back-ends' answers, status notes and portal
event bodies. Content still in plaintext (stored under ``OZGBRIDGE_ALLOW_PLAINTEXT``, or before
this version) is sealed too. An application sealed under a key the file lacks stops the run with
an error that names the key; the batches before it are done, and a rerun continues where it
stopped.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.errors import DataKeyError
from ozgbridge.store import rewrap as store

log = structlog.get_logger("ozgbridge.dataprotection.rewrap")

BYTE_BUDGET = 32 * 1024 * 1024  # content per transaction: keeps the write lock short


async def pending(engine: AsyncEngine, sealer: Sealer) -> int:
    """Applications with content (notes, event bodies) not (all) sealed under the first key."""
    if sealer.key_id is None:
        raise DataKeyError("rewrap needs data keys: set OZGBRIDGE_DATA_KEYS")
    return await store.count_stale(engine, sealer.key_id)


async def rewrap(
    engine: AsyncEngine,
    sealer: Sealer,
    *,
    batch: int,
    actor: str,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Re-seal everything under the first key; returns how many applications were re-sealed."""
    if sealer.key_id is None:
        raise DataKeyError("rewrap needs data keys: set OZGBRIDGE_DATA_KEYS")
    done = 0
    after = ""
    while True:
        result = await store.rewrap_batch(
            engine, sealer, after=after, limit=batch, byte_budget=BYTE_BUDGET
        )
        if result.last_id is None:
            break
        done += result.applications
        after = result.last_id
        if on_batch is not None:
            on_batch(result.applications)
    await audit.record(
        engine,
        audit.AuditEvent(
            actor=actor,
            action="data_keys.rewrapped",
            details={"applications": done, "key_id": sealer.key_id},
        ),
    )
    log.info("data_keys.rewrapped", applications=done, key_id=sealer.key_id)
    return done
