"""Peak memory of `ozgbridge serve` under concurrent large uploads follows its budgets, not the
number of clients — the ``./dev bench --only memory`` scenario, scaled down for the test run."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
from pathlib import Path

import aiohttp
import yaml

from ozgbridge.tenants import token_sha256
from tests.acceptance.conftest import Deployment

MIB = 1024 * 1024
TOKEN = "memory-portal-token"
UPLOADS = 16
CONTENT_BYTES = 6 * MIB  # an 8 MiB body each


def write_config(root: Path) -> None:
    (root / "tenants").mkdir(parents=True)
    tenant = {
        "id": "erkelenz",
        "name": "Stadt Erkelenz",
        "ags": "05370004",
        "routes": [
            {
                "id": "alles",
                "services": ["*"],
                "connector": "filedrop",
                "options": {"directory": "dropbox"},
            }
        ],
    }
    (root / "tenants" / "erkelenz.yaml").write_text(yaml.safe_dump(tenant))
    keys = {"keys": [{"id": "portal", "role": "portal", "sha256": token_sha256(TOKEN)}]}
    (root / "keys.yaml").write_text(yaml.safe_dump(keys))


def submission(content: bytes) -> bytes:
    return json.dumps(
        {
            "service": {"leikaKey": "99050012104000"},
            "region": {"ags": "05370004"},
            "data": {"mimeType": "application/json", "content": {"a": 1}},
            "attachments": [
                {
                    "filename": "scan.pdf",
                    "mimeType": "application/pdf",
                    "contentBase64": base64.b64encode(content).decode(),
                }
            ],
        }
    ).encode()


def memory(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    return values


async def upload(session: aiohttp.ClientSession, url: str, raw: bytes) -> str:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    while True:
        # A fresh stream per try (aiohttp warns that a large body given as bytes may block its
        # loop); BytesIO shares the bytes until written to, so the client holds them once.
        body = io.BytesIO(raw)
        async with session.post(f"{url}/v1/applications", data=body, headers=headers) as answer:
            document = await answer.json(content_type=None)
            if answer.status == 202:
                return str(document["id"])
            assert answer.status == 503, document
            await asyncio.sleep(float(answer.headers["Retry-After"]))


async def test_concurrent_large_uploads_raise_memory_by_the_budgets_only(
    deployment: Deployment,
) -> None:
    write_config(deployment.config_dir)
    budgets = {
        "OZGBRIDGE_MAX_BODY_BYTES": str(10 * MIB),
        "OZGBRIDGE_INTAKE_MEMORY_BUDGET": str(20 * MIB),  # one 8 MiB body at a time
        "OZGBRIDGE_WORKER_PAYLOAD_BUDGET": str(12 * MIB),  # two 6 MiB payloads at a time
        "OZGBRIDGE_LOG_LEVEL": "WARNING",
    }
    deployment.env.update(budgets)
    process = await deployment.serve("--upgrade")
    assert process.popen is not None
    pid = process.popen.pid
    contents = [os.urandom(CONTENT_BYTES) for _ in range(UPLOADS)]
    bodies = [submission(content) for content in contents]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        # Warm up: one submission and its delivery have run through every code path once.
        warm = await upload(session, deployment.url, submission(b"warm"))
        drop = deployment.root / "var" / "dropbox"
        for _ in range(200):
            if (drop / warm / "envelope.json").exists():
                break
            await asyncio.sleep(0.05)
        idle = memory(pid)["VmRSS"]
        ids = await asyncio.gather(*(upload(session, deployment.url, raw) for raw in bodies))

    for application_id, content in zip(ids, contents, strict=True):
        folder = drop / application_id
        for _ in range(1200):
            if (folder / "envelope.json").exists():
                break
            await asyncio.sleep(0.05)
        (attachment,) = (folder / "attachments").iterdir()
        assert hashlib.sha256(attachment.read_bytes()).digest() == hashlib.sha256(content).digest()
    rise = memory(pid)["VmHWM"] - idle
    # 128 MiB of bodies arrive at once. Held at once under the budgets: one submission being
    # parsed and stored (its content and the database driver's copies, ~3 × 6 MiB) and two
    # deliveries (a payload and the database's copy while it is read, ~2 × 6 MiB each), plus
    # buffers: measured ~60 MiB. With budgets too large to matter, ~115 MiB.
    assert rise < 90 * MIB, f"peak rose by {rise / MIB:.0f} MiB"
    assert process.terminate() == 0
