"""Keeping a worker's leases alive while its attempts run: one renewal loop per worker.

A claimed delivery's lease must outlast its attempt, or another worker would start a second one.
A task per delivery that slept and renewed its own lease cost a task, a timer and, for slow
attempts, a statement each; under load that was a measurable part of every delivery. Here one
loop ticks every quarter of a lease and renews, in one statement, every held lease with less than
two thirds of its time left. So the first renewal comes at most 1/3 + 1/4 of a lease after the
claim, with 5/12 of the lease still to run — the same margin a lone task had, for any number of
deliveries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime, timedelta

import structlog

from ozgbridge.domain import utcnow

logger = structlog.get_logger("ozgbridge.worker")

# Renews the leases of these deliveries until the given moment; returns the ids still ours.
Renew = Callable[[list[str], datetime], Awaitable[Collection[str]]]


def due_for_renewal(held: Mapping[str, datetime], now: datetime, lease_seconds: float) -> list[str]:
    """The held leases that have less than two thirds of a lease left at ``now``."""
    threshold = now + timedelta(seconds=lease_seconds * 2 / 3)
    return [delivery_id for delivery_id, expires in held.items() if expires < threshold]


class LeaseKeeper:
    def __init__(self, renew: Renew, *, lease_seconds: float, worker_id: str) -> None:
        self._renew = renew
        self.lease_seconds = lease_seconds
        self.worker_id = worker_id
        self._held: dict[str, datetime] = {}

    def hold(self, delivery_id: str, expires_at: datetime) -> None:
        """Keep this lease alive from now on (its attempt has begun)."""
        self._held[delivery_id] = expires_at

    def release(self, delivery_id: str) -> None:
        """The attempt is over: its lease needs no more renewing."""
        self._held.pop(delivery_id, None)

    @property
    def held(self) -> Mapping[str, datetime]:
        return self._held

    async def run(self) -> None:
        """Renew for ever (the worker cancels this once its last attempt is over)."""
        while True:
            await asyncio.sleep(self.lease_seconds / 4)
            await self.renew_due()

    async def renew_due(self) -> None:
        now = utcnow()
        due = due_for_renewal(self._held, now, self.lease_seconds)
        if not due:
            return
        expires = now + timedelta(seconds=self.lease_seconds)
        try:
            ours = set(await self._renew(due, expires))
        except Exception:
            # Database away: try again at the next tick, while the leases still run.
            logger.exception("delivery.lease_renew_failed", worker=self.worker_id, leases=len(due))
            return
        for delivery_id in due:
            if delivery_id not in self._held:
                continue  # its attempt ended while the renewal ran
            if delivery_id in ours:
                self._held[delivery_id] = expires
            else:
                # Taken over after an expiry: the attempt runs on, but renewing it is pointless.
                logger.warning(
                    "delivery.lease_lost", worker=self.worker_id, delivery_id=delivery_id
                )
                del self._held[delivery_id]
