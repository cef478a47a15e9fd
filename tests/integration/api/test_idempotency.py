"""Idempotency-Key: a retry gets the first answer again; the key with another body is a 409."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.ids import new_id
from ozgbridge.store.records import IdempotencyRecord, NewApplication
from ozgbridge.store.repository import Repository
from tests.integration.api.support import Api, StartApi, auth, body

URL = "/v1/applications"


def headers(key: str, portal: str = "portal-a") -> dict[str, str]:
    return {**auth(portal), "Idempotency-Key": key}


async def test_same_key_same_body_replays_the_first_answer(api_db: Api) -> None:
    first = await api_db.client.post(URL, json=body(), headers=headers("case-1"))
    again = await api_db.client.post(URL, json=body(), headers=headers("case-1"))

    assert (first.status, again.status) == (202, 202)
    assert await again.json() == await first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    stored = await api_db.stored()
    assert (stored["applications"], stored["deliveries"], stored["idempotency_keys"]) == (1, 1, 1)
    assert len(api_db.wakeups) == 1


async def test_same_key_other_body_is_a_conflict(api_db: Api) -> None:
    first = await api_db.client.post(URL, json=body(), headers=headers("case-2"))
    other = await api_db.client.post(
        URL, json=body(reference="HS-TEST-2"), headers=headers("case-2")
    )

    assert first.status == 202
    assert other.status == 409
    assert other.content_type == "application/problem+json"
    assert "different request body" in (await other.json(content_type=None))["detail"]
    assert (await api_db.stored())["applications"] == 1


async def test_keys_are_per_api_key(api: Api) -> None:
    a = await api.client.post(URL, json=body(), headers=headers("shared", "portal-a"))
    b = await api.client.post(URL, json=body(), headers=headers("shared", "portal-b"))

    assert (a.status, b.status) == (202, 202)
    assert (await a.json())["id"] != (await b.json())["id"]
    assert (await api.stored())["applications"] == 2


async def test_concurrent_twins_store_one_application(api_db: Api) -> None:
    responses = await asyncio.gather(
        *(api_db.client.post(URL, json=body(), headers=headers("burst")) for _ in range(5))
    )

    assert [r.status for r in responses] == [202] * 5
    assert len({(await r.json())["id"] for r in responses}) == 1
    assert (await api_db.stored())["applications"] == 1


class _TwinWinsRepository(Repository):
    """Commits a twin with the same Idempotency-Key just before each accept: the race a retry
    loses when its twin commits between the handler's lookup and its own commit."""

    def __init__(self, engine: AsyncEngine, **options: Any) -> None:
        super().__init__(engine, **options)
        self.twin_body_sha256: str | None = None  # None: the twin sent the same body
        self.twin_ids: list[str] = []

    async def accept(
        self, new: NewApplication, *, idempotency: IdempotencyRecord | None = None
    ) -> None:
        if idempotency is not None:
            twin = replace(new, id=new_id(), delivery_id=new_id(), attachments=())
            answer = {"id": twin.id, "status": "received", "tenant": twin.tenant_id}
            answer["links"] = {"self": f"http://twin.test/v1/applications/{twin.id}"}
            await super().accept(
                twin,
                idempotency=replace(
                    idempotency,
                    request_sha256=self.twin_body_sha256 or idempotency.request_sha256,
                    response_body=json.dumps(answer),
                ),
            )
            self.twin_ids.append(twin.id)
        await super().accept(new, idempotency=idempotency)


async def test_losing_the_race_replays_the_winner(database_url: str, start_api: StartApi) -> None:
    api = await start_api(database_url, repository_class=_TwinWinsRepository)
    repository = api.repository
    assert isinstance(repository, _TwinWinsRepository)

    same = await api.client.post(URL, json=body(), headers=headers("race-1"))
    repository.twin_body_sha256 = "0" * 64
    other = await api.client.post(URL, json=body(), headers=headers("race-2"))

    assert same.status == 202
    assert same.headers["Idempotent-Replayed"] == "true"
    assert (await same.json())["id"] == repository.twin_ids[0]
    assert same.headers["Location"] == f"http://twin.test/v1/applications/{repository.twin_ids[0]}"
    assert other.status == 409
    # Only the twins were stored; the losers stored nothing and woke nobody.
    assert (await api.stored())["applications"] == 2
    assert api.wakeups == []
