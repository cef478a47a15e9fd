"""A running service whose key files a test rotates by reload: its configuration (with an
operator key for ``POST /v1/admin/reload``), and an application submitted and delivered."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from ozgbridge.tenants import token_sha256
from tests.integration.dataprotection.support import write_retention_config

PORTAL = {"Authorization": "Bearer portal-token"}
OPERATOR = {"Authorization": "Bearer ops-token"}
DOCUMENT = {
    "service": {"leikaKey": "99050012104000", "name": "Gewerbeanmeldung"},
    "region": {"ags": "05370004"},
    "data": {"mimeType": "application/json", "content": {"betrieb": "Testbäckerei"}},
    "attachments": [
        {
            "filename": "nachweis.pdf",
            "mimeType": "application/pdf",
            "contentBase64": base64.b64encode(b"%PDF-1.7").decode(),
        }
    ],
}


def write_reload_config(root: Path) -> Path:
    """The retention tests' configuration, plus the operator key ``ops-token``."""
    config = write_retention_config(root)
    keys_file = config / "keys.yaml"
    document = yaml.safe_load(keys_file.read_text(encoding="utf-8"))
    document["keys"].append({"id": "ops", "role": "operator", "sha256": token_sha256("ops-token")})
    keys_file.write_text(yaml.safe_dump(document), encoding="utf-8")
    return config


async def submit_and_wait_delivered(http: aiohttp.ClientSession) -> str:
    async with http.post("/v1/applications", json=DOCUMENT, headers=PORTAL) as response:
        assert response.status == 202, await response.text()
        application_id: str = (await response.json())["id"]
    async with asyncio.timeout(20):
        while True:
            async with http.get(f"/v1/applications/{application_id}", headers=PORTAL) as r:
                view: dict[str, Any] = await r.json()
            if view["status"] == "delivered":  # the worker opened the content to deliver it
                return application_id
            assert view["status"] != "dead", view
            await asyncio.sleep(0.05)
