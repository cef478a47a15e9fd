"""Delivery: deliveries per second from a full queue to a back-end that answers at once,
against a bare httpx loop posting the same bodies to the same back-end."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from ozgbridge.domain import RegionRef
from ozgbridge.ids import new_id
from ozgbridge.store.engine import create_engine
from ozgbridge.store.records import NewApplication
from ozgbridge.store.repository import Repository
from tests.benchmarks.common import Backend, Ozgbridge, Printer, fresh_database, write_config

CONCURRENCY = 16  # per worker process (OZGBRIDGE_WORKER_CONCURRENCY)


async def fill_queue(url: str, count: int) -> None:
    engine = create_engine(url)
    repository = Repository(engine, notify=False)
    data = b'{"pad": "' + b"x" * 900 + b'"}'
    await asyncio.gather(
        *(
            repository.accept(
                NewApplication(
                    id=new_id(),
                    delivery_id=new_id(),
                    tenant_id="erkelenz",
                    route_id="alles",
                    connector="http",
                    routing_reason="own",
                    leika_key="99050012104000",
                    service_name="Gewerbeanmeldung",
                    region=RegionRef.of(ags="05370004"),
                    reference=None,
                    submitted_by="bench",
                    data_mime_type="application/json",
                    data_schema_uri=None,
                    data=data,
                )
            )
            for _ in range(count)
        )
    )
    await engine.dispose()


async def bare_httpx_rate(url: str, body: bytes, *, concurrency: int, count: int) -> float:
    numbers = iter(range(count))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def loop() -> None:
            for _ in numbers:
                answer = await client.post(url, content=body)
                answer.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


async def run(engine: str, workdir: Path, emit: Printer, *, quick: bool) -> None:
    count = 600 if quick else 3000
    workers = 1 if engine == "sqlite" else 2
    backend = Backend()
    await backend.start()
    try:
        async with fresh_database(engine, workdir) as database:
            await fill_queue(database.url, count)
            backend.expected = count
            config = write_config(workdir / f"cfg-delivery-{engine}", backend.url)
            server = Ozgbridge(
                database, config, workdir, {"OZGBRIDGE_WORKER_CONCURRENCY": str(CONCURRENCY)}
            )
            started = time.perf_counter()
            try:
                for _ in range(workers):
                    await server.start("worker")
                await asyncio.wait_for(backend.all_arrived.wait(), timeout=300)
                elapsed = time.perf_counter() - started
            finally:
                server.stop()
        # the same bytes the http connector sends for one of these applications
        sample = b'{"applicationId": "' + b"0" * 26 + b'", "pad": "' + b"x" * 1700 + b'"}'
        ceiling = await bare_httpx_rate(
            backend.url.replace("/inbox", "/plain"),
            sample,
            concurrency=CONCURRENCY * workers,
            count=count,
        )
    finally:
        await backend.stop()
    rate = count / elapsed
    emit(
        (
            f"delivery, {workers} worker(s) x {CONCURRENCY}",
            "deliveries/s",
            rate,
            f"{count} queued, incl. worker start-up",
            ceiling,
            rate / ceiling,
        )
    )
