"""What a recorded delivery outcome tells others, written in the same transaction as the outcome.

- The portal that submitted the application hears ``application.delivered`` or
  ``application.dead`` (if its key has ``events`` configured).
- A back-end that answered the delivery with a status document made its first status report:
  it goes through the status desk's rules like one posted to the API (a refused one is logged and
  dropped — the delivery stands).

Outcomes of deliveries to a tenant the application was forwarded away from say nothing about the
application any more, and are passed over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from ozgbridge.domain import ApplicationStatus, AttemptOutcome, utcnow
from ozgbridge.events.model import EventType, NewEvent
from ozgbridge.ids import new_id
from ozgbridge.routing import Router
from ozgbridge.status_desk import Reporter, StatusDesk
from ozgbridge.status_rules import Refusal
from ozgbridge.store import outbox, statuses
from ozgbridge.store.records import AttemptResult, ClaimedDelivery
from ozgbridge.store.statuses import Case

logger = structlog.get_logger("ozgbridge.delivery_news")

_Record = tuple[ClaimedDelivery, str, AttemptResult]


def _final(result: AttemptResult) -> EventType | None:
    if result.outcome == AttemptOutcome.DELIVERED:
        return EventType.DELIVERED
    return EventType.DEAD if result.retry_at is None else None


def delivery_event(case: Case, claimed: ClaimedDelivery, kind: EventType) -> NewEvent:
    now = utcnow()
    data: dict[str, object] = {"tenant": claimed.tenant_id, "deliveryId": claimed.id}
    if kind is EventType.DELIVERED:
        data["deliveredAt"] = now.isoformat()
    else:
        data["attempts"] = claimed.attempt
    return NewEvent(
        id=new_id(),
        type=kind,
        application_id=case.id,
        key_id=case.submitted_by,
        reference=case.reference,
        occurred_at=now,
        data=data,
    )


class DeliveryNews:
    """The `DeliveryQueue` hook (``after_outcomes``)."""

    def __init__(
        self,
        desk: StatusDesk,
        router: Callable[[], Router],
        *,
        on_news: Callable[[], None] | None = None,
    ) -> None:
        self.desk = desk
        # The routing of the moment (the configuration may be reloaded while the worker runs).
        self.router = router
        # Wakes the portal event sender in this process (a hint; it polls anyway).
        self.on_news = on_news

    async def __call__(
        self, conn: AsyncConnection, items: Sequence[_Record], owned: Sequence[bool]
    ) -> None:
        finals = [
            (claimed, result, kind)
            for (claimed, _worker, result), ours in zip(items, owned, strict=True)
            if ours and (kind := _final(result)) is not None
        ]
        if not finals:
            return
        cases = await statuses.lock_cases(conn, [claimed.application_id for claimed, *_ in finals])
        news = False
        for claimed, result, kind in finals:
            case = cases.get(claimed.application_id)
            if (
                case is None
                or case.tenant_id != claimed.tenant_id
                or case.status == ApplicationStatus.UNROUTABLE
            ):
                continue  # forwarded away or disclaimed meanwhile: not its delivery any more
            if case.portal_events:
                await outbox.enqueue(
                    conn,
                    [delivery_event(case, claimed, kind)],
                    notify=self.desk.notify,
                    sealer=self.desk.sealer,
                )
                news = True
            if kind is EventType.DELIVERED and result.status_report is not None:
                news |= await self._first_report(conn, claimed, result)
        if news and self.on_news is not None:
            self.on_news()

    async def _first_report(
        self, conn: AsyncConnection, claimed: ClaimedDelivery, result: AttemptResult
    ) -> bool:
        assert result.status_report is not None
        # Read again (its lock is held already): the outcome just changed its status.
        case = (await statuses.lock_cases(conn, [claimed.application_id])).get(
            claimed.application_id
        )
        if case is None:
            return False
        source = f"backend:{claimed.tenant_id}/{claimed.route_id}"
        outcome = await self.desk.apply(
            conn, case, result.status_report, Reporter(source=source), self.router()
        )
        if isinstance(outcome, Refusal):
            logger.warning(
                "status.answer_refused",
                application_id=claimed.application_id,
                delivery_id=claimed.id,
                status=str(result.status_report.status),
                http_status=outcome.status,
                reason=outcome.detail,
            )
            return False
        return True
