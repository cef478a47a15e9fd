"""The intake memory budget on a served instance, with concurrent real uploads: over the budget a
submission waits, or gets 503 with Retry-After — and is then neither stored nor lost."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from ozgbridge import audit
from ozgbridge.store.tables import applications
from tests.integration.api.support import auth, body
from tests.integration.hardening.served import served

MIB = 1024 * 1024


def large_submission(size: int) -> tuple[bytes, bytes]:
    content = os.urandom(size)
    document = body(
        attachments=[
            {
                "filename": "scan.pdf",
                "mimeType": "application/pdf",
                "contentBase64": base64.b64encode(content).decode(),
            }
        ]
    )
    return json.dumps(document).encode(), content


async def post(session: aiohttp.ClientSession, url: str, raw: bytes) -> tuple[int, Any, Any]:
    headers = {**auth("portal-a"), "Content-Type": "application/json"}
    # A stream, not bytes: aiohttp warns that a large body given as bytes may block its loop.
    body = io.BytesIO(raw)
    async with session.post(f"{url}/v1/applications", data=body, headers=headers) as answer:
        return answer.status, dict(answer.headers), await answer.json(content_type=None)


async def delivered(drop: Path, application_id: str) -> bytes:
    for _ in range(600):
        folder = drop / application_id
        if (folder / "envelope.json").exists():
            (attachment,) = (folder / "attachments").iterdir()
            return attachment.read_bytes()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{application_id} was not delivered")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_over_the_budget_a_submission_gets_503_and_nothing_is_stored(
    tmp_path: Path, database_url: str
) -> None:
    submissions = [large_submission(2 * MIB) for _ in range(6)]
    limits = {
        "max_body_bytes": 4 * MIB,
        "intake_memory_budget": 4 * MIB,  # one ~2.7 MB body counts twice: one at a time
        "intake_budget_wait": 0,
    }
    async with served(tmp_path, database_url, **limits) as instance:
        async with aiohttp.ClientSession() as session:
            with capture_logs() as logs:
                answers = await asyncio.gather(
                    *(post(session, instance.url, raw) for raw, _ in submissions)
                )
            accepted = [a for a in answers if a[0] == 202]
            refused = [a for a in answers if a[0] == 503]
            assert len(accepted) + len(refused) == len(submissions)
            assert accepted
            assert refused
            for _status, headers, problem in refused:
                assert headers["Retry-After"] == "1"
                assert headers["Content-Type"] == "application/problem+json"
                assert problem["type"] == "urn:ozgbridge:problem:busy"
                assert "nothing was stored" in problem["detail"]
            assert [e for e in logs if e["event"] == "intake.busy"]

            # Only what was answered 202 is stored.
            async with instance.service.engine.connect() as conn:
                count = select(func.count()).select_from(applications)
                assert (await conn.execute(count)).scalar_one() == len(accepted)

            # Sent again after Retry-After, as a portal does, everything gets in.
            ids = {}
            for number, ((raw, _content), answer) in enumerate(
                zip(submissions, answers, strict=True)
            ):
                status, _headers, document = answer
                while status == 503:
                    await asyncio.sleep(1)
                    status, _headers, document = await post(session, instance.url, raw)
                assert status == 202, document
                ids[number] = document["id"]

        drop = tmp_path / "var" / "dropbox" / "erkelenz"
        for number, (_raw, content) in enumerate(submissions):
            arrived = await delivered(drop, ids[number])
            assert hashlib.sha256(arrived).digest() == hashlib.sha256(content).digest()
        async with instance.service.engine.connect() as conn:
            count = select(func.count()).select_from(applications)
            assert (await conn.execute(count)).scalar_one() == len(submissions)
        assert (await audit.verify(instance.service.engine)).ok


async def test_within_the_wait_a_submission_waits_for_its_turn(
    tmp_path: Path, database_url: str
) -> None:
    submissions = [large_submission(MIB) for _ in range(5)]
    limits = {"max_body_bytes": 2 * MIB, "intake_memory_budget": 2 * MIB, "intake_budget_wait": 60}
    async with served(tmp_path, database_url, **limits) as instance:
        async with aiohttp.ClientSession() as session:
            answers = await asyncio.gather(
                *(post(session, instance.url, raw) for raw, _ in submissions)
            )
        assert [status for status, _, _ in answers] == [202] * len(submissions)
        drop = tmp_path / "var" / "dropbox" / "erkelenz"
        for (_status, _headers, document), (_raw, content) in zip(
            answers, submissions, strict=True
        ):
            assert await delivered(drop, document["id"]) == content
