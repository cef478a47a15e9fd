"""The periodic purge of a worker process, seen from the API: `contentPurgedAt` appears."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from ozgbridge import audit
from ozgbridge.assembly import Service
from ozgbridge.settings import Settings
from ozgbridge.store.tables import audit_events
from tests.integration.dataprotection.support import MARKERS, write_retention_config
from tests.integration.serving import free_port, serving


async def poll(http: aiohttp.ClientSession, url: str, done: Any, timeout: float = 20) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            async with http.get(url, headers={"Authorization": "Bearer portal-token"}) as r:
                view = await r.json()
            if done(view):
                return view
            await asyncio.sleep(0.05)


async def purge_events(service: Service) -> list[Any]:
    async with service.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_events.c.actor, audit_events.c.details).where(
                audit_events.c.action == "retention.purged"
            )
        )
        return list(rows.all())


async def test_worker_purges_delivered_content_of_a_zero_day_route(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=database_url,
        config_dir=write_retention_config(tmp_path / "config"),
        data_dir=tmp_path / "var",
        port=free_port(),
        poll_interval=0.05,
        purge_interval=0.1,
        pg_notify=False,
    )
    document = {
        "service": {"leikaKey": "99115005000000", "name": "Anmeldung einer Wohnung"},
        "region": {"ags": "05370004"},
        "data": {"mimeType": "application/json", "content": {"x": MARKERS["form data"]}},
        "attachments": [
            {
                "filename": "a.pdf",
                "mimeType": "application/pdf",
                "contentBase64": base64.b64encode(b"%PDF").decode(),
            }
        ],
    }
    url = f"http://127.0.0.1:{settings.port}"
    async with serving(settings) as service, aiohttp.ClientSession(base_url=url) as http:
        async with http.post(
            "/v1/applications", json=document, headers={"Authorization": "Bearer portal-token"}
        ) as response:
            assert response.status == 202, await response.text()
            application_id = (await response.json())["id"]
        view = await poll(
            http, f"/v1/applications/{application_id}", lambda v: v["contentPurgedAt"]
        )
        assert view["status"] == "delivered"
        assert view["data"]["size"] == len(
            json.dumps({"x": MARKERS["form data"]}, separators=(",", ":"))
        )
        assert view["attachmentCount"] == 1
        # the run's audit event follows its last batch
        async with asyncio.timeout(20):
            while not (events := await purge_events(service)):
                await asyncio.sleep(0.05)
        assert [e.actor for e in events] == ["system:retention"] * len(events)
        assert sum(json.loads(e.details)["applications"] for e in events) == 1
        assert (await audit.verify(service.engine)).ok
    # delivered before it was purged
    dropped = tmp_path / "var" / "dropbox" / "melde" / application_id / "data.json"
    assert MARKERS["form data"] in dropped.read_text()
