"""The worker's payload budget: how much application content its deliveries hold at once.

A worker claims up to ``OZGBRIDGE_WORKER_CONCURRENCY`` deliveries together; loaded all at once,
sixteen 20 MB applications are 320 MB of content before any connector encodes a byte of it. So
only small payloads are loaded together with their claim (at most concurrency × `BATCH_LOAD_MAX`);
every delivery takes its payload's size from ``OZGBRIDGE_WORKER_PAYLOAD_BUDGET`` before its
content is loaded and gives it back when the attempt is over. A delivery that does not fit waits
for others to finish — its lease is renewed meanwhile, as during any slow attempt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ozgbridge.domain import Envelope
from ozgbridge.membudget import ByteBudget
from ozgbridge.store.records import ClaimedDelivery
from ozgbridge.store.repository import Repository

# Payloads up to this size are loaded in one query with the rest of their claim.
BATCH_LOAD_MAX = 256 * 1024


class PayloadBudget:
    def __init__(self, repository: Repository, capacity: int) -> None:
        self.repository = repository
        self.budget = ByteBudget(capacity)

    @asynccontextmanager
    async def hold(
        self, claimed: ClaimedDelivery, envelope: Envelope | None
    ) -> AsyncIterator[None]:
        """The payload's share of the budget, for loading (if ``envelope`` is None) and
        delivering it."""
        if envelope is not None:
            size = envelope.content_size
        else:
            sizes = await self.repository.payload_sizes([claimed.application_id])
            size = sizes.get(claimed.application_id, 0)
        async with self.budget.hold(size):
            yield
