"""Taking a status report: the rules, forwarding on ``not_responsible``, and what is written.

Two ways in, one set of rules: `StatusDesk.report` for ``POST /v1/applications/{id}/status``
(its own transaction), and `StatusDesk.apply` inside the transaction that records a delivery
whose back-end answered with a status. Either way the entry, its audit event, a forwarding (new
delivery, new tenant) or the unroutable mark, and the portal's events commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge import forwarding
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import ApplicationStatus, utcnow
from ozgbridge.events.model import EventType, NewEvent
from ozgbridge.ids import new_id
from ozgbridge.routing import Router
from ozgbridge.status import status_event
from ozgbridge.status_rules import ProcessingStatus, Refusal, StatusReport, check_report
from ozgbridge.store import forwardings, outbox, statuses
from ozgbridge.store.forwardings import NewDelivery
from ozgbridge.store.records import IdempotencyRecord
from ozgbridge.store.repository import IdempotencyKeyTaken
from ozgbridge.store.statuses import Case, StatusEntry

logger = structlog.get_logger("ozgbridge.status")


@dataclass(frozen=True)
class Reporter:
    """Who reports: ``source`` names them in the history (``key:<id>``, ``backend:<route>``)."""

    source: str
    tenant: str | None = None  # a tenant key's tenant: the application must be with it now
    operator: bool = False


@dataclass(frozen=True)
class Recorded:
    entry: StatusEntry
    tenant: str  # where the application is now
    application_status: str
    forwarded_to: str | None = None


class StatusDesk:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        sealer: Sealer,
        notify: bool = True,
        on_news: Callable[[], None] | None = None,
    ) -> None:
        """``sealer`` seals notes and portal event bodies at rest (the process's data keys)."""
        self.engine = engine
        self.sealer = sealer
        self.notify = notify
        # Called after a report committed: new deliveries or events may be waiting (wake-up).
        self.on_news = on_news

    async def report(
        self,
        application_id: str,
        report: StatusReport,
        reporter: Reporter,
        router: Router,
        *,
        remember: Callable[[Recorded], IdempotencyRecord] | None = None,
    ) -> Recorded | Refusal | None:
        """Record ``report``; None when the application is not there or not with the reporter.

        ``router`` is the configuration of the moment (it changes on reload): it decides where a
        not_responsible application goes.

        ``remember`` makes the answer to keep for an Idempotency-Key, stored in the same
        transaction; `IdempotencyKeyTaken` when a concurrent request with that key won.
        """
        try:
            async with self.engine.begin() as conn:
                case = await statuses.lock_case(conn, application_id)
                if case is None or (
                    reporter.tenant is not None and case.tenant_id != reporter.tenant
                ):
                    return None
                outcome = await self.apply(conn, case, report, reporter, router)
                if remember is not None and isinstance(outcome, Recorded):
                    await statuses.remember(conn, remember(outcome), case.id, outcome.entry.at)
        except IntegrityError as exc:
            if remember is None:
                raise
            raise IdempotencyKeyTaken() from exc
        if isinstance(outcome, Recorded):
            self._news()
        return outcome

    async def apply(
        self,
        conn: AsyncConnection,
        case: Case,
        report: StatusReport,
        reporter: Reporter,
        router: Router,
    ) -> Recorded | Refusal:
        """Check and record ``report`` on ``case`` (read with `statuses.lock_case`) in ``conn``.

        A refusal writes nothing.
        """
        refusal = check_report(report, case.processing_status, operator=reporter.operator)
        if refusal is not None:
            return refusal
        decision: forwarding.Decision | None = None
        if report.status is ProcessingStatus.NOT_RESPONSIBLE:
            decision = forwarding.decide(
                router,
                leika_key=case.leika_key,
                region=case.region,
                forward_to=report.forward_to,
                visited=await forwardings.visited_tenants(conn, case),
            )
            if isinstance(decision, Refusal):
                return decision
        now = utcnow()
        entry = StatusEntry(
            id=new_id(),
            application_id=case.id,
            at=now,
            source=reporter.source,
            status=str(report.status),
            detail={"forwardTo": report.forward_to.ars} if report.forward_to else {},
            note=report.note,
            file_reference=report.file_reference,
        )
        await statuses.add_entry(conn, entry, tenant_id=case.tenant_id, sealer=self.sealer)
        events = status_event(case, entry)
        recorded = Recorded(entry, case.tenant_id, case.status)
        if isinstance(decision, forwarding.Forward):
            route = decision.resolution.route
            target = NewDelivery(
                tenant_id=decision.resolution.tenant.id,
                route_id=route.id,
                connector=route.connector,
                # The ladder's first step may ask for a pause before the first attempt (as at
                # intake, see NewApplication.routed).
                first_attempt_at=now + timedelta(seconds=route.retry_schedule[0])
                if route.retry_schedule
                else now,
                reason=decision.resolution.reason,
            )
            await forwardings.move(
                conn,
                case,
                target,
                at=now,
                by=reporter.source,
                entry_id=entry.id,
                notify=self.notify,
            )
            events += _forwarded_event(case, target.tenant_id, now)
            recorded = Recorded(
                entry, target.tenant_id, ApplicationStatus.RECEIVED, target.tenant_id
            )
        elif isinstance(decision, forwarding.Unroutable):
            await forwardings.mark_unroutable(
                conn, case, at=now, by=reporter.source, entry_id=entry.id
            )
            recorded = Recorded(entry, case.tenant_id, ApplicationStatus.UNROUTABLE)
        await outbox.enqueue(conn, events, notify=self.notify, sealer=self.sealer)
        logger.info(
            "application.status_reported",
            application_id=case.id,
            tenant_id=case.tenant_id,
            source=reporter.source,
            status=entry.status,
            forwarded_to=recorded.forwarded_to,
            application_status=str(recorded.application_status),
        )
        return recorded

    def _news(self) -> None:
        if self.on_news is None:
            return
        try:
            self.on_news()
        except Exception:
            # Only a wake-up hint: what it points at is committed, and workers poll anyway.
            logger.exception("status.on_news_failed")


def _forwarded_event(case: Case, to_tenant: str, at: datetime) -> list[NewEvent]:
    if not case.portal_events:
        return []
    return [
        NewEvent(
            id=new_id(),
            type=EventType.FORWARDED,
            application_id=case.id,
            key_id=case.submitted_by,
            reference=case.reference,
            occurred_at=at,
            data={"from": case.tenant_id, "to": to_tenant},
        )
    ]
