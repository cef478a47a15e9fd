"""Keeping a worker's leases alive while its attempts run: one renewal loop per worker (one for
its deliveries, one for its portal events).

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
from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from ozgbridge.domain import utcnow

logger = structlog.get_logger("ozgbridge.worker")

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
# Renews these leases until the given moment; returns the keys still ours.
Renew = Callable[[list[K], datetime], Awaitable[Collection[K]]]


def due_for_renewal(held: Mapping[K, datetime], now: datetime, lease_seconds: float) -> list[K]:
    """The held leases that have less than two thirds of a lease left at ``now``."""
    threshold = now + timedelta(seconds=lease_seconds * 2 / 3)
    return [key for key, expires in held.items() if expires < threshold]


class LeaseKeeper(Generic[K]):
    def __init__(
        self,
        renew: Renew[K],
        *,
        lease_seconds: float,
        worker_id: str,
        subject: str = "delivery",
        key_name: str = "delivery_id",
    ) -> None:
        """``subject`` and ``key_name`` name what is leased in log lines
        (``{subject}.lease_lost`` with ``{key_name}=…``)."""
        self._renew = renew
        self.lease_seconds = lease_seconds
        self.worker_id = worker_id
        self.subject = subject
        self.key_name = key_name
        self._held: dict[K, datetime] = {}

    def hold(self, key: K, expires_at: datetime) -> None:
        """Keep this lease alive from now on (its attempt has begun)."""
        self._held[key] = expires_at

    def release(self, key: K) -> None:
        """The attempt is over: its lease needs no more renewing."""
        self._held.pop(key, None)

    @property
    def held(self) -> Mapping[K, datetime]:
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
            logger.exception(
                f"{self.subject}.lease_renew_failed", worker=self.worker_id, leases=len(due)
            )
            return
        for key in due:
            if key not in self._held:
                continue  # its attempt ended while the renewal ran
            if key in ours:
                self._held[key] = expires
            else:
                # Taken over after an expiry: the attempt runs on, but renewing it is pointless.
                logger.warning(
                    f"{self.subject}.lease_lost", worker=self.worker_id, **{self.key_name: key}
                )
                del self._held[key]


async def within_the_lease(write: Callable[[], Awaitable[T]], *, lease_seconds: float) -> T:
    """``write()``, tried again with growing pauses for up to a lease; the last error if it never
    succeeded. For an attempt's outcome: the other side already has its answer, so a database
    blip must not lose the record — and after a lease the item is handed to another worker
    anyway (at least once still holds)."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(Exception),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_after_delay(lease_seconds),
        reraise=True,
    )

    async def attempt() -> T:  # a coroutine function: tenacity awaits only those
        return await write()

    return await retrying(attempt)
