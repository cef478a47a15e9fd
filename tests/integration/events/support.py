"""A whole ozgbridge process (`run_service`: API, worker, event sender) for the status channel.

The example deployment (Kreis Heinsberg), with Erkelenz's Gewerbe route going to a real local
HTTP back-end that answers with a status document, and a portal key whose events go to a real
local receiver (`PortalReceiver`).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from ozgbridge.assembly import Service
from ozgbridge.settings import Settings
from ozgbridge.tenants import token_sha256
from tests.integration.serving import free_port, serving

REPO_ROOT = Path(__file__).resolve().parents[3]
PORTAL_SECRET = "whsec_cG9ydGFsLWV2ZW50cy1zZWNyZXQtZm9yLXRlc3Rz"
BACKEND_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ENV = {"PORTAL_EVENTS_SECRET": PORTAL_SECRET, "ERKELENZ_SECRET": BACKEND_SECRET}
TOKENS = {
    "portal": "events-portal-token",
    "quiet-portal": "events-quiet-portal-token",
    "operator": "events-operator-token",
    "erkelenz-staff": "events-erkelenz-token",
    "gangelt-staff": "events-gangelt-token",
    "kreis-staff": "events-kreis-token",
}
GEWERBE = "99050012104000"
ERKELENZ_AGS = "05370004"
GANGELT_AGS = "05370008"


class Backend:
    """Erkelenz's Fachverfahren: answers each delivery with the next scripted answer."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.received = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/inbox", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/inbox"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.received += 1
        status, document = self.answers.pop(0) if self.answers else (200, {"id": "FV-1"})
        return web.json_response(document, status=status)


def write_config(
    root: Path, *, backend_url: str, portal_url: str, events: dict[str, Any] | None = None
) -> Path:
    config = root / "config"
    shutil.copytree(REPO_ROOT / "config" / "tenants", config / "tenants")
    path = config / "tenants" / "erkelenz.yaml"
    tenant = yaml.safe_load(path.read_text(encoding="utf-8"))
    for route in tenant["routes"]:
        if route["id"] == "gewerbe":
            route["connector"] = "http"
            route["options"] = {"url": backend_url, "signing_secret": "${env:ERKELENZ_SECRET}"}
            route["retry_schedule"] = [0, 0.2]
    path.write_text(yaml.safe_dump(tenant, allow_unicode=True), encoding="utf-8")
    portal_events = {
        "url": portal_url,
        "signing_secret": "${env:PORTAL_EVENTS_SECRET}",
        "retry_schedule": [0, 0.2, 0.2, 0.2],
        **(events or {}),
    }
    tenants = {"erkelenz-staff": "erkelenz", "gangelt-staff": "gangelt",
               "kreis-staff": "kreis-heinsberg"}  # fmt: skip
    keys: list[dict[str, Any]] = []
    for key_id, token in TOKENS.items():
        entry: dict[str, Any] = {"id": key_id, "sha256": token_sha256(token)}
        if key_id in tenants:
            entry |= {"role": "tenant", "tenant": tenants[key_id]}
        elif key_id == "operator":
            entry["role"] = "operator"
        else:
            entry["role"] = "portal"
        if key_id == "portal":
            entry["events"] = portal_events
        keys.append(entry)
    (config / "keys.yaml").write_text(yaml.safe_dump({"keys": keys}), encoding="utf-8")
    return config


class Bridge:
    def __init__(self, service: Service, http: aiohttp.ClientSession) -> None:
        self.service = service
        self.http = http

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[key]}"}

    async def submit(
        self, key: str = "portal", ags: str = ERKELENZ_AGS, reference: str = "PORTAL-4711"
    ) -> str:
        document = {
            "service": {"leikaKey": GEWERBE, "name": "Gewerbeanmeldung"},
            "region": {"ags": ags},
            "reference": reference,
            "data": {"mimeType": "application/json", "content": {"betrieb": "Bäckerei"}},
        }
        async with self.http.post(
            "/v1/applications", json=document, headers=self.auth(key)
        ) as response:
            assert response.status == 202, await response.text()
            return str((await response.json())["id"])

    async def report(self, application_id: str, key: str, **document: Any) -> dict[str, Any]:
        async with self.http.post(
            f"/v1/applications/{application_id}/status", json=document, headers=self.auth(key)
        ) as response:
            assert response.status == 202, await response.text()
            return dict(await response.json())

    async def get(self, path: str, key: str = "operator", **params: str) -> tuple[int, Any]:
        async with self.http.get(path, headers=self.auth(key), params=params) as response:
            return response.status, await response.json()

    async def post(self, path: str, key: str = "operator") -> tuple[int, Any]:
        async with self.http.post(path, headers=self.auth(key)) as response:
            return response.status, await response.json()

    async def listed_until(
        self, path: str, key: str, check: Any, timeout: float = 20, **params: str
    ) -> dict[str, Any]:
        """Poll a list endpoint until ``check(page)`` holds: the portal may hear an event a
        moment before the outbox records it as delivered."""
        async with asyncio.timeout(timeout):
            while True:
                status, page = await self.get(path, key, **params)
                assert status == 200, page
                if check(page):
                    return dict(page)
                await asyncio.sleep(0.05)

    async def until(self, application_id: str, check: Any, timeout: float = 20) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                status, view = await self.get(f"/v1/applications/{application_id}")
                assert status == 200, view
                if check(view):
                    return dict(view)
                await asyncio.sleep(0.05)


@asynccontextmanager
async def running(config: Path, database_url: str, data_dir: Path) -> AsyncIterator[Bridge]:
    settings = Settings(
        database_url=database_url,
        config_dir=config,
        data_dir=data_dir,
        port=free_port(),
        poll_interval=0.05,
        retry_jitter=0,
        delivery_timeout=3,
        lease_seconds=10,
        pg_notify=False,
    )
    async with (
        serving(settings) as service,
        aiohttp.ClientSession(base_url=f"http://127.0.0.1:{settings.port}") as http,
    ):
        yield Bridge(service, http)
