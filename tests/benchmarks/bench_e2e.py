"""End to end: time from the 202 answer to the back-end having the application, at steady load."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.benchmarks.common import (
    Backend,
    Ozgbridge,
    Printer,
    api_processes,
    application_body,
    free_port,
    fresh_database,
    percentile,
    submit_load,
    write_config,
)

RATE = 200.0
WORKERS = 1  # on PostgreSQL; on 2 cores a second worker only competes with the API for CPU


async def run(engine: str, workdir: Path, emit: Printer, *, quick: bool) -> None:
    count = int(RATE * (3 if quick else 15))
    backend = Backend()
    await backend.start()
    try:
        async with fresh_database(engine, workdir) as database:
            config = write_config(workdir / f"cfg-e2e-{engine}", backend.url)
            server = Ozgbridge(database, config, workdir)
            try:
                if engine == "postgresql":  # scaled out: API and workers apart, NOTIFY wakes them
                    url = await server.start(
                        "api", free_port(), ("--processes", str(api_processes(engine)))
                    )
                    for _ in range(WORKERS):
                        await server.start("worker")
                else:  # embedded default: one process, in-process wake-up
                    url = await server.start("serve", free_port())
                assert url is not None
                # Warm-up: one application through the whole pipeline, so the measurement
                # starts with every process up (a worker starting takes seconds on 2 cores).
                backend.expected = 1
                await submit_load(url, application_body(), count=1, concurrency=1)
                await asyncio.wait_for(backend.all_arrived.wait(), timeout=60)
                backend.arrivals.clear()
                backend.all_arrived.clear()
                backend.expected = count
                result = await submit_load(
                    url, application_body(), count=count, concurrency=64, pace=RATE
                )
                # Keeping up: what is still undelivered when the load ends
                backlog = count - len(backend.arrivals)
                await asyncio.wait_for(backend.all_arrived.wait(), timeout=120)
            finally:
                server.stop()
    finally:
        await backend.stop()
    delays = [backend.arrivals[i] - accepted for i, accepted in result.ids.items()]
    target = 250 if engine == "postgresql" else 500
    emit(
        (
            f"end-to-end at {RATE:.0f}/s"
            + (f", api + {WORKERS} workers" if engine == "postgresql" else ", serve"),
            "p95 ms (202 -> delivered)",
            percentile(delays, 0.95) * 1000,
            f"p50 {percentile(delays, 0.5) * 1000:.1f} ms, {count} applications, "
            f"{backlog} undelivered when the load ended; target p95 < {target}"
            + (f"; api --processes {api_processes(engine)}" if engine == "postgresql" else ""),
            None,
            None,
        )
    )
