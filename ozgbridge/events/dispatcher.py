"""The portal event sender: runs in every worker process beside the delivery worker.

The outbox's rules are the delivery queue's (`ozgbridge.store.outbox`): claims under a lease
(renewed while a slow send runs, by one loop for all sends: `ozgbridge.lease_keeper`), the retry
ladder (the key's ``retry_schedule`` or the Standard Webhooks default) with the same jitter, dead
when it is exhausted or the portal refuses permanently. On stop nothing more is claimed; sends in
flight get the grace period, and what is cut short is handed back for the next worker.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import structlog

from ozgbridge.claim_loop import ClaimLoop
from ozgbridge.domain import AttemptOutcome, utcnow
from ozgbridge.errors import DeliveryError, PermanentDeliveryError
from ozgbridge.events.sender import PortalSender
from ozgbridge.lease_keeper import LeaseKeeper, within_the_lease
from ozgbridge.retry import DEFAULT_SCHEDULE, next_delay
from ozgbridge.settings import Settings
from ozgbridge.store.outbox import ClaimedEvent, EventOutbox, EventResult

logger = structlog.get_logger("ozgbridge.events")


class EventDispatcher(ClaimLoop):
    def __init__(
        self, *, settings: Settings, outbox: EventOutbox, sender: PortalSender, worker_id: str
    ) -> None:
        super().__init__(shutdown_grace=settings.shutdown_grace)
        self.settings = settings
        self.outbox = outbox
        self.sender = sender
        self.worker_id = worker_id
        self.log = logger.bind(worker=worker_id)
        self._leases: LeaseKeeper[int] = LeaseKeeper(
            self._renew_leases,
            lease_seconds=settings.lease_seconds,
            worker_id=worker_id,
            subject="portal_event",
            key_name="event_seq",
        )

    async def run(self) -> None:
        renewals = asyncio.create_task(self._leases.run(), name="event-lease-renewal")
        try:
            while not self._stopping.is_set():
                free = self.settings.worker_concurrency - self.in_flight
                # Before the claim: its leases run at least a lease from this moment on.
                leased_until = utcnow() + timedelta(seconds=self.settings.lease_seconds)
                claimed = await self._claim(free) if free > 0 else []
                for event in claimed:
                    self._leases.hold(event.seq, leased_until)
                    self._start(event.id, self._send(event), name=f"event-{event.id}")
                if not claimed or self.in_flight >= self.settings.worker_concurrency:
                    await self._idle()
        finally:
            try:
                await self._drain()  # the sends still running keep their leases meanwhile
            finally:
                renewals.cancel()

    async def _claim(self, free: int) -> list[ClaimedEvent]:
        try:
            return await self.outbox.claim(
                self.worker_id, limit=free, lease_seconds=self.settings.lease_seconds
            )
        except Exception:
            self.log.exception("portal_event.claim_failed")
            await self._sleep(self.settings.poll_interval * 5)
            return []

    async def _idle(self) -> None:
        timeout = self.settings.poll_interval
        if self.in_flight < self.settings.worker_concurrency:
            try:
                due = await self.outbox.next_due_at()
            except Exception:
                self.log.exception("portal_event.poll_failed")
                due = None
            if due is not None:
                timeout = min(timeout, max(0.0, (due - utcnow()).total_seconds()))
        await self._first_of(self._wakeup, self._slot_freed, within=timeout)
        self._wakeup.clear()

    async def _send(self, event: ClaimedEvent) -> None:
        log = self.log.bind(
            event_id=event.id,
            application_id=event.application_id,
            key_id=event.key_id,
            type=event.type,
            attempt=event.attempt,
        )
        try:
            try:
                receipt = await self.sender.send(event)
            except DeliveryError as error:
                result = self._failure(event, error)
            else:
                result = EventResult(AttemptOutcome.DELIVERED, status_code=receipt.status_code)
        except asyncio.CancelledError:
            interrupted = EventResult(
                AttemptOutcome.RETRIABLE,
                error="interrupted: the worker shut down while sending",
                retry_at=utcnow(),
            )
            await asyncio.shield(self._record(event, interrupted, log))
            raise
        finally:
            self._leases.release(event.seq)
        await self._record(event, result, log)

    def _failure(self, event: ClaimedEvent, error: DeliveryError) -> EventResult:
        detail = error.detail[:500]
        if isinstance(error, PermanentDeliveryError):
            return EventResult(AttemptOutcome.PERMANENT, error.status_code, detail)
        delay = next_delay(
            self.sender.schedule(event.key_id) or DEFAULT_SCHEDULE,
            event.attempt,
            retry_after=getattr(error, "retry_after", None),
            jitter=self.settings.retry_jitter,
        )
        if delay is None:
            detail = f"{detail} (gave up after {event.attempt} attempts)"[:500]
        return EventResult(
            AttemptOutcome.RETRIABLE,
            error.status_code,
            detail,
            retry_at=None if delay is None else utcnow() + timedelta(seconds=delay),
        )

    async def _renew_leases(self, seqs: list[int], until: datetime) -> list[int]:
        return await self.outbox.renew(seqs, self.worker_id, until=until)

    async def _record(self, event: ClaimedEvent, result: EventResult, log: Any) -> None:
        try:
            ours = await within_the_lease(
                lambda: self.outbox.record(event, self.worker_id, result),
                lease_seconds=self.settings.lease_seconds,
            )
        except Exception:
            # The lease runs out and the event is sent again: at least once still holds.
            log.exception("portal_event.record_failed", outcome=str(result.outcome))
            return
        if not ours:
            log.warning("portal_event.attempt", outcome=str(result.outcome), lease="lost")
        elif result.outcome == AttemptOutcome.DELIVERED:
            log.info("portal_event.sent", status_code=result.status_code)
        elif result.retry_at is None:
            log.warning("portal_event.dead", status_code=result.status_code, error=result.error)
        else:
            log.info(
                "portal_event.retry_scheduled",
                status_code=result.status_code,
                error=result.error,
                retry_at=result.retry_at.isoformat(),
            )
