"""Forwarding while the old tenant's delivery is in flight: the late outcome is recorded for
that delivery, but says nothing about the application any more — both engines."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.connector import Connector, ConnectorContext, ConnectorOptions, Receipt
from ozgbridge.delivery_news import DeliveryNews
from ozgbridge.domain import Envelope
from ozgbridge.routing import Router
from ozgbridge.settings import Settings
from ozgbridge.status_desk import Reporter, StatusDesk
from ozgbridge.status_rules import ProcessingStatus, StatusReport
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import deliveries, portal_events
from ozgbridge.tenants import load_deployment
from ozgbridge.worker import Worker
from tests.factories import new_application

CONFIG = Path(__file__).resolve().parents[3] / "config"


class _Held(Connector[ConnectorOptions]):
    """Delivers once released; tells when an attempt has started."""

    kind = "held"
    Options = ConnectorOptions

    def __init__(self) -> None:
        super().__init__(
            ConnectorOptions(),
            context=ConnectorContext("erkelenz", "gewerbe", Path(".")),
            timeout=10,
        )
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, envelope: Envelope) -> Receipt:
        self.started.set()
        await self.release.wait()
        return Receipt(status_code=200, remote_reference="FV-late")


BAUANTRAG = "99012008001000"


async def late_success(
    engine: AsyncEngine, *, leika_key: str, route_id: str
) -> tuple[Any, list[str]]:
    """Accept an application, hold its delivery in flight, report not_responsible, then let
    the held attempt succeed; the application's view and its portal events' types."""
    deployment = load_deployment(CONFIG, check_connectors=False)
    repository = Repository(engine)
    desk = StatusDesk(engine, sealer=repository.sealer, notify=False)
    router = Router(deployment)
    new = new_application(
        portal_events=True, submitted_by="portal-a", leika_key=leika_key, route_id=route_id
    )
    await repository.accept(new)
    held, kreis = _Held(), _Held()
    kreis.release.set()
    worker = Worker(
        settings=Settings(poll_interval=0.05, retry_jitter=0, delivery_timeout=5, lease_seconds=10),
        deployment=deployment,
        repository=repository,
        queue=DeliveryQueue(engine, after_outcomes=DeliveryNews(desk, lambda: router)),
        connectors={("erkelenz", route_id): held, ("kreis-heinsberg", "bauaufsicht"): kreis},
        worker_id="w1",
    )
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(10):
            await held.started.wait()
        reported = await desk.report(
            new.id,
            StatusReport(ProcessingStatus.NOT_RESPONSIBLE),
            Reporter(source="key:erkelenz-staff", tenant="erkelenz"),
            router,
        )
        assert reported is not None
        held.release.set()
        async with asyncio.timeout(10):
            while await _state(engine, new.delivery_id) != "delivered":
                await asyncio.sleep(0.02)
            if leika_key == BAUANTRAG:  # and the Kreis got its own delivery
                while (await _application_status(repository, new.id)) != "delivered":
                    await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await task
    async with engine.connect() as conn:
        types = list(
            (
                await conn.execute(select(portal_events.c.type).order_by(portal_events.c.seq))
            ).scalars()
        )
    return await repository.get_application(new.id), types


async def _application_status(repository: Repository, application_id: str) -> str | None:
    view = await repository.get_application(application_id)
    return None if view is None else str(view.status)


async def _state(engine: AsyncEngine, delivery_id: str) -> str:
    async with engine.connect() as conn:
        state: str = (
            await conn.execute(select(deliveries.c.state).where(deliveries.c.id == delivery_id))
        ).scalar_one()
    return state


async def test_a_late_success_after_forwarding_speaks_only_for_the_old_delivery(
    engine: AsyncEngine,
) -> None:
    view, types = await late_success(engine, leika_key=BAUANTRAG, route_id="bauaufsicht")

    assert (view.tenant_id, view.status) == ("kreis-heinsberg", "delivered")
    old, new = view.deliveries
    # the back-end has it whatever happened meanwhile: recorded as such, for that delivery
    assert (old.state, old.remote_reference) == ("delivered", "FV-late")
    assert new.state == "delivered"
    # the portal hears of the Kreis's delivery, never of the one that no longer counts
    assert types == ["application.status", "application.forwarded", "application.delivered"]


async def test_a_late_success_never_undoes_unroutable(engine: AsyncEngine) -> None:
    # Gewerbe is Erkelenz's alone: with Erkelenz passed over nobody routes it
    view, types = await late_success(engine, leika_key="99050012104000", route_id="gewerbe")

    assert (view.tenant_id, view.status) == ("erkelenz", "unroutable")
    assert (view.deliveries[0].state, view.deliveries[0].remote_reference) == (
        "delivered",
        "FV-late",
    )
    assert types == ["application.status"]
