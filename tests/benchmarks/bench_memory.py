"""Memory under concurrent large uploads: 10 applications of 20 MiB each, sent at once.

The figure is how much the service's resident memory (all its processes) rises above what it
held before the uploads: the peak (VmHWM, the kernel's high-water mark, which no sampling can
miss) minus the resident size measured just before. Target: < 384 MiB, whatever the number of
clients — the intake and worker budgets (OZGBRIDGE_INTAKE_MEMORY_BUDGET,
OZGBRIDGE_WORKER_PAYLOAD_BUDGET) decide it. A submission the API cannot take at once is answered
503 with Retry-After, and the client here does what a portal should: waits and sends it again.
Every application must reach the file drop byte for byte.

    ./dev bench --only memory --engines sqlite
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
from pathlib import Path

import aiohttp

from tests.benchmarks.common import (
    TOKEN,
    Ozgbridge,
    Printer,
    application_body,
    free_port,
    fresh_database,
    write_config,
)

MIB = 1024 * 1024
UPLOADS = 10
BODY_BYTES = 20 * MIB
CEILING_MIB = 384.0


def _body(number: int) -> tuple[bytes, str]:
    """A JSON submission of exactly `BODY_BYTES` and the SHA-256 of its attachment."""
    skeleton = {
        "service": {"leikaKey": "99050012104000", "name": "Gewerbeanmeldung"},
        "region": {"ags": "05370004"},
        "reference": f"BENCH-MEM-{number}",
        "data": {"mimeType": "application/json", "content": {"pad": "x" * 900}},
        "attachments": [
            {"filename": "scan.pdf", "mimeType": "application/pdf", "contentBase64": ""}
        ],
    }
    room = BODY_BYTES - len(json.dumps(skeleton).encode())
    content = os.urandom(room // 4 * 3)
    skeleton["attachments"][0]["contentBase64"] = base64.b64encode(content).decode()  # type: ignore[index]
    body = json.dumps(skeleton).encode()
    body += b" " * (BODY_BYTES - len(body))  # JSON allows trailing whitespace
    return body, hashlib.sha256(content).hexdigest()


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    return values


async def _upload(session: aiohttp.ClientSession, url: str, body: bytes, retries: list[int]) -> str:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    for _ in range(600):
        async with session.post(f"{url}/v1/applications", data=body, headers=headers) as answer:
            payload = await answer.json(content_type=None)
            if answer.status == 202:
                return str(payload["id"])
            if answer.status != 503:
                raise RuntimeError(f"HTTP {answer.status}: {payload}")
            retries.append(1)
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
    raise RuntimeError("still 503 after 600 tries")


async def _delivered(drop: Path, ids: list[str], timeout: float) -> dict[str, str]:
    """SHA-256 of each application's delivered attachment, once all of them are in the drop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        folders = [drop / i for i in ids]
        if all((folder / "envelope.json").exists() for folder in folders):
            found = {}
            for application_id, folder in zip(ids, folders, strict=True):
                (attachment,) = (folder / "attachments").iterdir()
                found[application_id] = hashlib.sha256(attachment.read_bytes()).hexdigest()
            return found
        await asyncio.sleep(0.2)
    raise RuntimeError(f"not all {len(ids)} applications were delivered within {timeout:g} s")


async def run(engine: str, workdir: Path, emit: Printer, *, quick: bool) -> None:
    bodies = [_body(n) for n in range(UPLOADS)]
    async with fresh_database(engine, workdir) as database:
        config = write_config(workdir / f"cfg-memory-{engine}", None)
        # OZGBENCH_MEMORY_ENV="OZGBRIDGE_X=1 OZGBRIDGE_Y=2": settings to try budgets with.
        extra = dict(
            item.split("=", 1) for item in os.environ.get("OZGBENCH_MEMORY_ENV", "").split()
        )
        server = Ozgbridge(database, config, workdir, env_extra=extra)
        try:
            if engine == "postgresql":
                url = await server.start("api", free_port())
                await server.start("worker")
            else:
                url = await server.start("serve", free_port())
            assert url is not None
            pids = [process.pid for process in server.processes]
            async with aiohttp.ClientSession() as session:
                # Warm up: every code path of a submission and a delivery has run once.
                headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
                async with session.post(
                    f"{url}/v1/applications", data=application_body(64 * 1024), headers=headers
                ) as answer:
                    assert answer.status == 202, await answer.text()
                await asyncio.sleep(2)
                before = sum(_status(pid)["VmRSS"] for pid in pids)
                retries: list[int] = []
                started = time.perf_counter()
                ids = await asyncio.gather(
                    *(_upload(session, url, body, retries) for body, _ in bodies)
                )
                accepted = time.perf_counter() - started
            delivered = await _delivered(workdir / "var" / "dropbox", list(ids), timeout=600)
            seconds = time.perf_counter() - started
            peak = sum(_status(pid)["VmHWM"] for pid in pids)
        finally:
            server.stop()
    exact = sum(delivered[i] == digest for i, (_, digest) in zip(ids, bodies, strict=True))
    if exact != UPLOADS:
        raise RuntimeError(f"only {exact} of {UPLOADS} attachments arrived byte-exact")
    rise = (peak - before) / MIB
    emit(
        (
            f"{UPLOADS} concurrent uploads of 20 MiB, peak RSS",
            "MiB above idle (all processes)",
            rise,
            f"{len(pids)} process(es), idle {before / MIB:.0f} MiB, peak {peak / MIB:.0f} MiB; "
            f"all {UPLOADS} accepted in {accepted:.1f} s ({len(retries)} 503 retries), "
            f"delivered byte-exact in {seconds:.1f} s; target < {CEILING_MIB:.0f}",
            CEILING_MIB,
            rise / CEILING_MIB,
        )
    )
