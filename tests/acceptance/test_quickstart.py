"""The README's promise: the example deployment runs, takes the example submission, drops files."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import httpx

from tests.acceptance.conftest import REPO_ROOT, Deployment

DEMO_PORTAL_TOKEN = "ozgb_demo_portal_NOT_FOR_PRODUCTION"
EXAMPLE = REPO_ROOT / "config" / "examples" / "gewerbeanmeldung-erkelenz.json"


async def test_example_submission_lands_in_the_town_dropbox(deployment: Deployment) -> None:
    shutil.copytree(REPO_ROOT / "config", deployment.config_dir)
    serve = await deployment.serve("--upgrade")

    submit = await asyncio.to_thread(
        deployment.run,
        "submit",
        str(EXAMPLE),
        "--url",
        deployment.url,
        "--token",
        DEMO_PORTAL_TOKEN,
    )
    assert submit.returncode == 0, submit.stdout + submit.stderr
    answer = json.loads(submit.stdout[submit.stdout.index("{") :])
    assert answer["status"] == "received"
    assert answer["tenant"] == "erkelenz"

    dropbox = Path(deployment.env["OZGBRIDGE_DATA_DIR"]) / "dropbox" / "erkelenz" / answer["id"]
    deadline = time.monotonic() + 2
    while not (dropbox / "envelope.json").exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert (dropbox / "envelope.json").exists(), f"nothing in {dropbox} within 2 s"
    envelope = json.loads((dropbox / "envelope.json").read_text())
    assert envelope["applicationId"] == answer["id"]
    assert envelope["service"]["leikaKey"] == "99050012104000"
    example = json.loads(EXAMPLE.read_text())
    attachment_files = sorted((dropbox / "attachments").iterdir())
    assert len(attachment_files) == len(example["attachments"])

    async with httpx.AsyncClient(base_url=deployment.url, timeout=10) as client:
        status = await client.get(
            f"/v1/applications/{answer['id']}",
            headers={"Authorization": f"Bearer {DEMO_PORTAL_TOKEN}"},
        )
    assert status.json()["status"] == "delivered"
    assert "auth.demo_key" in serve.log()  # a published token in use is never silent

    assert serve.terminate() == 0
    assert deployment.run("audit", "verify").returncode == 0
