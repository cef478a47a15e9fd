"""The delivery worker: claims due deliveries under a lease and hands each to its connector.

One loop claims as many deliveries as there are free slots; each claimed delivery runs as its own
task that keeps its lease alive, calls the connector once (`ozgbridge.delivery_attempt`: the
outcome decides what comes next), and records the outcome. Which routes may be claimed from
(pause, circuit breaker, limits) is decided inside the claim, across all workers. On stop the
loop claims nothing more, lets in-flight attempts finish within a grace period, and hands back the
rest.

The configuration comes from a `LiveConfig`: each claimed delivery takes the configuration that is
current when it is claimed and keeps it (connector, retry schedule, tenant name) until its outcome
is recorded, however often the configuration is reloaded meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import socket
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog

from ozgbridge import metrics
from ozgbridge.claim_loop import ClaimLoop
from ozgbridge.connector import Connector
from ozgbridge.delivery_attempt import attempt_delivery
from ozgbridge.domain import AttemptOutcome, Envelope, utcnow
from ozgbridge.lease_keeper import LeaseKeeper
from ozgbridge.live import LiveConfig
from ozgbridge.outcome_recorder import OutcomeRecorder
from ozgbridge.payload_budget import BATCH_LOAD_MAX, PayloadBudget
from ozgbridge.routing import Router
from ozgbridge.runtime import RouteKey, Runtime
from ozgbridge.settings import Settings
from ozgbridge.store.engine import unavailable
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.records import AttemptResult, ClaimedDelivery
from ozgbridge.store.repository import Repository
from ozgbridge.tenants import Deployment

logger = structlog.get_logger("ozgbridge.worker")

__all__ = ["RouteKey", "Worker", "default_worker_id"]


# With every slot taken, the next claim waits this long at most for half of them to free up:
# a claim costs a transaction and the loading of its envelopes whatever its size.
FULL_CLAIM_WAIT = 0.05


def free_slots(concurrency: int, *, attempting: int, in_flight: int) -> int:
    """Slots for new attempts, with ``in_flight`` tasks of which ``attempting`` still call their
    connector (the others write their outcomes). While any attempt runs, outcome writes keep their
    slots. Once none runs, the next claim need not wait for those writes — its round trips overlap
    theirs, where claim, load and outcome write used to follow one another — as long as no more
    than a round of slots' worth is being written."""
    if attempting:
        return concurrency - in_flight
    return concurrency - max(0, in_flight - concurrency)


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(2)}"


class Worker(ClaimLoop):
    def __init__(
        self,
        *,
        settings: Settings,
        repository: Repository,
        queue: DeliveryQueue,
        live: LiveConfig | None = None,
        deployment: Deployment | None = None,
        connectors: Mapping[RouteKey, Connector[Any]] | None = None,
        worker_id: str | None = None,
    ) -> None:
        """Configured by ``live``, or (fixed for its life) by ``deployment`` and ``connectors``."""
        if live is None:
            if deployment is None:
                raise TypeError("Worker needs live= or deployment=")
            live = LiveConfig(Runtime(deployment, Router(deployment), dict(connectors or {})))
        super().__init__(shutdown_grace=settings.shutdown_grace)
        self.settings = settings
        self.live = live
        self.repository = repository
        self.queue = queue
        self.worker_id = worker_id or default_worker_id()
        self.log = logger.bind(worker=self.worker_id)
        # Of the deliveries in flight, the ones whose connector call still runs. When the last of
        # them ends, its outcome write need not linger for others (see DeliveryQueue.record), and
        # the outcomes being written give up their slots (see `_free_slots`).
        self._attempting: set[str] = set()
        self._payloads = PayloadBudget(repository, settings.worker_payload_budget)
        self._recorder = OutcomeRecorder(
            queue, worker_id=self.worker_id, lease_seconds=settings.lease_seconds
        )
        self._leases = LeaseKeeper(
            self._renew_leases,
            lease_seconds=settings.lease_seconds,
            worker_id=self.worker_id,
        )

    async def run(self) -> None:
        self.log.info("worker.started", concurrency=self.settings.worker_concurrency)
        metrics.WORKER_LAST_CLAIM.set(time.time())
        renewals = asyncio.create_task(self._leases.run(), name="lease-renewal")
        try:
            while not self._stopping.is_set():
                claimed = await self._claim()
                runtime = self.live.runtime  # this batch runs with the configuration of now
                envelopes = await self._load_envelopes(claimed, runtime)
                for delivery in claimed:
                    runtime.acquire()
                    self._attempting.add(delivery.id)
                    self._start(
                        delivery.id,
                        self._attempt(delivery, envelopes.get(delivery.id), runtime),
                        name=f"deliver-{delivery.id}",
                        then=functools.partial(self._finished, delivery.id, runtime),
                    )
                metrics.WORKER_IN_FLIGHT.set(self.in_flight)
                if not claimed or self._free_slots() <= 0:
                    await self._idle(full=self._free_slots() <= 0)
        finally:
            try:
                if self.in_flight:
                    self.log.info("worker.draining", in_flight=self.in_flight)
                await self._drain()  # the attempts still running keep their leases meanwhile
            finally:
                renewals.cancel()
        self.log.info("worker.stopped")

    async def _claim(self) -> list[ClaimedDelivery]:
        free = self._free_slots()
        if free <= 0:
            metrics.WORKER_LAST_CLAIM.set(time.time())  # busy, not stuck
            return []
        try:
            claimed = await self.queue.claim(
                self.worker_id, limit=free, lease_seconds=self.settings.lease_seconds
            )
            metrics.WORKER_LAST_CLAIM.set(time.time())
            metrics.WORKER_CLAIMS.inc(len(claimed))
            return claimed
        except Exception as exc:
            # Database away: nothing is lost (state lives there); try again after a pause.
            self._failed("worker.claim_failed", exc)
            await self._sleep(self.settings.poll_interval * 5)
            return []

    def _failed(self, event: str, exc: Exception) -> None:
        """A database outage is one line per try (its traceback says nothing new, every few
        seconds for as long as it lasts); anything else is logged in full."""
        if unavailable(exc):
            self.log.warning(event, error_type=type(exc).__name__, database="unavailable")
        else:
            self.log.exception(event)

    async def _load_envelopes(
        self, claimed: list[ClaimedDelivery], runtime: Runtime
    ) -> dict[str, Envelope]:
        """Small payloads in one read for the whole batch (see payload_budget.py); the others,
        and all of them if this fails, are loaded by their attempt under the payload budget."""
        if not claimed:
            return {}
        try:
            return await self.repository.load_envelopes(
                claimed, runtime.tenant_names, max_size=BATCH_LOAD_MAX
            )
        except Exception:
            self.log.exception("worker.load_failed", claimed=len(claimed))
            return {}

    async def _idle(self, *, full: bool) -> None:
        """Wait for a free slot, a wake-up hint, or the next due delivery — whichever is first.

        Due work on routes the last claim could not serve (paused, breaker open, at their limit)
        does not count as due: it wakes the worker when its route may open (the claim's hint),
        or at the next poll.
        """
        timeout = self.settings.poll_interval
        if not full:
            hint = self.queue.hint
            try:
                due = await self.queue.next_due_at(exclude=hint.blocked)
            except Exception as exc:
                self._failed("worker.poll_failed", exc)
                due = None
            now = utcnow()
            for moment in (due, hint.wake_at):
                if moment is not None:
                    timeout = min(timeout, max(0.0, (moment - now).total_seconds()))
        events = [self._slot_freed] if full else [self._wakeup, self._slot_freed]
        await self._first_of(*events, within=timeout)
        if full:
            # The queue is deeper than our slots: rather than one claim per finished delivery,
            # let half of the slots free up (briefly) and claim them together.
            wanted = max(1, self.settings.worker_concurrency // 2)
            deadline = asyncio.get_running_loop().time() + FULL_CLAIM_WAIT
            while self._free_slots() < wanted and not self._stopping.is_set():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                await self._first_of(self._slot_freed, within=remaining)
        self._wakeup.clear()

    def _free_slots(self) -> int:
        return free_slots(
            self.settings.worker_concurrency,
            attempting=len(self._attempting),
            in_flight=self.in_flight,
        )

    def _finished(self, delivery_id: str, runtime: Runtime) -> None:
        self._attempting.discard(delivery_id)
        metrics.WORKER_IN_FLIGHT.set(self.in_flight)
        runtime.release()

    async def _attempt(
        self, claimed: ClaimedDelivery, envelope: Envelope | None, runtime: Runtime
    ) -> None:
        log = self.log.bind(
            delivery_id=claimed.id,
            application_id=claimed.application_id,
            tenant_id=claimed.tenant_id,
            route_id=claimed.route_id,
            attempt=claimed.attempt,
            probe=claimed.probe,
        )
        started_at = utcnow()
        self._leases.hold(claimed.id, claimed.lease_expires_at)
        try:
            async with self._payloads.hold(claimed, envelope):
                result = await attempt_delivery(
                    claimed,
                    started_at,
                    envelope,
                    runtime,
                    repository=self.repository,
                    jitter=self.settings.retry_jitter,
                )
        except asyncio.CancelledError:
            result = AttemptResult(
                AttemptOutcome.RETRIABLE,
                started_at,
                error="interrupted: the worker shut down during the attempt",
                retry_at=utcnow(),
                evidence=False,
            )
            await asyncio.shield(self._recorder.record(claimed, result, log))
            raise
        finally:
            self._leases.release(claimed.id)
        self._attempting.discard(claimed.id)
        last = not self._attempting
        if last:
            self._slot_freed.set()
        await self._recorder.record(claimed, result, log, last=last)

    async def _renew_leases(self, delivery_ids: list[str], until: datetime) -> list[str]:
        return await self.queue.renew(delivery_ids, self.worker_id, until=until)
