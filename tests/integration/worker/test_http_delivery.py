"""Worker + the real `http` connector + a real HTTP server on loopback, on both engines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from connectors._signing import verify_signature
from connectors.http import HttpConnector
from ozgbridge.connector import Connector, ConnectorContext
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import ApplicationStatus
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import audit_events
from tests.factories import new_application
from tests.integration.worker.support import MakeWorker, attempt_rows, settled
from tests.sealed import excerpt

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NEXT_SECRET = "whsec_bmV4dC1zZWNyZXQtZm9yLXJvdGF0aW9uLXRlc3Q="


LEAKY_ANSWER = {"error": "Nachname Mustermann passt nicht zum Ausweis", "field": "nachname"}


class Backend:
    """Answers each request with the next scripted status (then 200) and keeps what it saw.

    Failures answer with `LEAKY_ANSWER`, as a back-end that echoes form data would.
    """

    def __init__(self) -> None:
        self.script: list[int | str] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((dict(request.headers), body))
        step = self.script.pop(0) if self.script else 200
        if step == "hang":
            await asyncio.sleep(30)
            step = 200
        if int(step) >= 300:
            return web.json_response(LEAKY_ANSWER, status=int(step))
        return web.json_response({"id": f"REF-{len(self.requests)}"}, status=int(step))


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    server = Backend()
    app = web.Application()
    app.router.add_post("/inbox", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/inbox"
    yield server
    await runner.cleanup()


async def audit_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(audit_events))).all())


def http_connector(url: str, *, timeout: float = 5, secrets: Any = SECRET) -> Connector[Any]:
    return HttpConnector.from_config(
        {"url": url, "signing_secret": secrets},
        context=ConnectorContext("erkelenz", "gewerbe", Path(".")),
        timeout=timeout,
    )


async def test_failing_three_times_then_ok_is_delivered_on_attempt_four(
    engine: AsyncEngine, backend: Backend, start_worker: MakeWorker
) -> None:
    backend.script = [503, 502, 500]
    repo = Repository(engine)
    new = new_application()
    await repo.accept(new)
    await start_worker(http_connector(backend.url, secrets=[SECRET, NEXT_SECRET]))

    view = await settled(repo, new.id)

    assert (view.status, view.deliveries[0].attempts) == (ApplicationStatus.DELIVERED, 4)
    assert view.deliveries[0].remote_reference == "REF-4"
    rows = await attempt_rows(engine)
    assert [(r.number, r.outcome, r.status_code) for r in rows] == [
        (1, "retriable", 503),
        (2, "retriable", 502),
        (3, "retriable", 500),
        (4, "delivered", 200),
    ]
    assert {headers["webhook-id"] for headers, _ in backend.requests} == {new.delivery_id}
    for headers, body in backend.requests:
        # both rotated secrets sign every request; a receiver holding either one accepts it
        assert len(headers["webhook-signature"].split(" ")) == 2
        assert verify_signature(SECRET, headers, body)
        assert verify_signature(NEXT_SECRET, headers, body)
        assert not verify_signature(SECRET, headers, body + b" ")
    sent = json.loads(backend.requests[-1][1])
    assert (sent["deliveryId"], sent["attempt"]) == (new.delivery_id, 4)


async def test_400_is_dead_at_once_and_keeps_the_answer_out_of_logs_and_audit(
    engine: AsyncEngine, backend: Backend, start_worker: MakeWorker, sealer: Sealer
) -> None:
    backend.script = [400]
    repo = Repository(engine, sealer=sealer)
    new = new_application()
    await repo.accept(new)
    with capture_logs() as logs:
        await start_worker(http_connector(backend.url))
        view = await settled(repo, new.id)

    [delivery] = view.deliveries
    assert (view.status, delivery.attempts) == (ApplicationStatus.DEAD, 1)
    assert delivery.last_status_code == 400
    assert delivery.last_error == f"HTTP 400 from {backend.url}"
    assert delivery.last_response == json.dumps(LEAKY_ANSWER)
    [row] = await attempt_rows(engine)
    assert excerpt(sealer, row) == json.dumps(LEAKY_ANSWER)
    assert b"Mustermann" not in row.response_excerpt  # sealed at rest, like the content
    assert len(backend.requests) == 1
    # it may be personal data: shown to those who may see the application, nowhere else
    assert "delivery.dead" in {entry["event"] for entry in logs}
    assert "Mustermann" not in repr(logs)
    events = await audit_rows(engine)
    assert {"delivery.attempt", "delivery.dead"} <= {e.action for e in events}
    assert not any("Mustermann" in e.details for e in events)


async def test_the_last_attempt_decides_what_the_view_shows(
    engine: AsyncEngine, backend: Backend, start_worker: MakeWorker, sealer: Sealer
) -> None:
    backend.script = [503]
    repo = Repository(engine, sealer=sealer)
    new = new_application()
    await repo.accept(new)
    await start_worker(http_connector(backend.url))

    view = await settled(repo, new.id)

    [delivery] = view.deliveries
    assert (view.status, delivery.attempts) == (ApplicationStatus.DELIVERED, 2)
    assert (delivery.last_error, delivery.last_response) == (None, None)
    first, second = await attempt_rows(engine)
    assert (first.status_code, excerpt(sealer, first)) == (503, json.dumps(LEAKY_ANSWER))
    assert (second.status_code, excerpt(sealer, second)) == (200, None)


async def test_exhausted_ladder_is_dead(
    engine: AsyncEngine, backend: Backend, start_worker: MakeWorker
) -> None:
    backend.script = [503] * 10
    repo = Repository(engine)
    new = new_application()
    await repo.accept(new)
    await start_worker(http_connector(backend.url), retry_schedule=[0, 0.05, 0.05])

    view = await settled(repo, new.id)

    assert (view.status, view.deliveries[0].attempts) == (ApplicationStatus.DEAD, 3)
    assert len(backend.requests) == 3
    assert "gave up after 3 attempts" in (view.deliveries[0].last_error or "")


async def test_hanging_back_end_times_out_and_is_retried(
    engine: AsyncEngine, backend: Backend, start_worker: MakeWorker
) -> None:
    backend.script = ["hang"]
    repo = Repository(engine)
    new = new_application()
    await repo.accept(new)
    await start_worker(http_connector(backend.url, timeout=0.3))

    view = await settled(repo, new.id)

    assert (view.status, view.deliveries[0].attempts) == (ApplicationStatus.DELIVERED, 2)
    first = (await attempt_rows(engine))[0]
    assert first.outcome == "retriable"
    assert first.error == f"no answer from {backend.url} within 0.3 s"
    assert first.response_excerpt is None


async def test_connection_refused_is_retried(engine: AsyncEngine, start_worker: MakeWorker) -> None:
    repo = Repository(engine)
    new = new_application()
    await repo.accept(new)
    await start_worker(
        http_connector("http://127.0.0.1:9/nothing-listens"), retry_schedule=[0, 0.05]
    )

    view = await settled(repo, new.id)

    assert (view.status, view.deliveries[0].attempts) == (ApplicationStatus.DEAD, 2)
    rows = await attempt_rows(engine)
    assert [r.outcome for r in rows] == ["retriable", "retriable"]
    assert rows[0].error == "connection refused by http://127.0.0.1:9/nothing-listens"
    assert view.deliveries[0].last_error == (
        "connection refused by http://127.0.0.1:9/nothing-listens (gave up after 2 attempts)"
    )
