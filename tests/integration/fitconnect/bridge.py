"""A whole ozgbridge process (API + worker + intakes, `run_service`) for FIT-Connect tests.

Configurations are the example deployment (Kreis Heinsberg, filedrop routes) with changes: a
``fitconnect`` route for a tenant, a ``fitconnect.yaml`` for the intake. Secrets are written as
references, the way an operator must write them.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from ozgbridge.assembly import Service
from ozgbridge.settings import Settings
from ozgbridge.tenants import token_sha256
from tests.fakes.zustelldienst import (
    CLIENT_ID,
    SUBSCRIBER_ID,
    Zustelldienst,
    rsa_key,
)
from tests.integration.serving import free_port, serving

REPO_ROOT = Path(__file__).resolve().parents[3]
PORTAL_TOKEN = "test-fitconnect-portal-token"
OPERATOR_TOKEN = "test-fitconnect-operator-token"
CALLBACK_SECRET = "callback-secret-for-tests"
ERKELENZ_ARS = "053700004004"
GEWERBE = "99050012104000"
SCHEMA_URI = "urn:xoev-de:example:gewerbeanmeldung:1.0"
ENV = {
    "FC_SENDER_SECRET": "sender-secret-not-real",
    "FC_SUBSCRIBER_SECRET": "subscriber-secret-not-real",
    "FC_CALLBACK_SECRET": CALLBACK_SECRET,
}


def write_config(
    root: Path,
    zd: Zustelldienst,
    *,
    sender_destination: str | None = None,
    intake_destination: str | None = None,
    pem_keys: bool = False,
) -> Path:
    """The example deployment; Erkelenz's Gewerbe route goes to FIT-Connect if a sender
    destination is given, and ``fitconnect.yaml`` subscribes to an intake destination."""
    config = root / "config"
    shutil.copytree(REPO_ROOT / "config" / "tenants", config / "tenants")
    keys = [
        {"id": "portal-fc", "role": "portal", "sha256": token_sha256(PORTAL_TOKEN)},
        {"id": "operator-fc", "role": "operator", "sha256": token_sha256(OPERATOR_TOKEN)},
    ]
    (config / "keys.yaml").write_text(yaml.safe_dump({"keys": keys}), encoding="utf-8")
    if sender_destination is not None:
        path = config / "tenants" / "erkelenz.yaml"
        tenant = yaml.safe_load(path.read_text(encoding="utf-8"))
        for route in tenant["routes"]:
            if route["id"] == "gewerbe":
                route["connector"] = "fitconnect"
                route["retry_schedule"] = [0, 0.2, 0.2, 0.2]
                route["options"] = {
                    "submission_api_url": zd.url,
                    "token_url": f"{zd.url}/token",
                    "client_id": CLIENT_ID,
                    "client_secret": "${env:FC_SENDER_SECRET}",
                    "destination_id": sender_destination,
                    "callback_url": "https://bridge.example/v1/fitconnect/callbacks",
                    "callback_secret": "${env:FC_CALLBACK_SECRET}",
                    "status_poll_interval": 0.2,
                }
        path.write_text(yaml.safe_dump(tenant, allow_unicode=True), encoding="utf-8")
    if intake_destination is not None:
        secrets = config / "secrets"
        secrets.mkdir()
        decrypt = rsa_key("destination-encryption").as_dict(private=True)
        sign = rsa_key("destination-signature").as_dict(private=True)
        (secrets / "decrypt.jwk").write_text(json.dumps(decrypt), encoding="utf-8")
        (secrets / "sign.jwk").write_text(json.dumps(sign), encoding="utf-8")
        keys_given: dict[str, str] = {
            "decryption_key": "${file:secrets/decrypt.jwk}",
            "signing_key": "${file:secrets/sign.jwk}",
        }
        if pem_keys:  # PEM files know no kid: the registered kids come from the configuration
            for name, field in (
                ("destination-encryption", "decryption"),
                ("destination-signature", "signing"),
            ):
                pem = rsa_key(name).as_pem(private=True).decode()
                (secrets / f"{field}.pem").write_text(pem, encoding="utf-8")
                keys_given[f"{field}_key"] = f"${{file:secrets/{field}.pem}}"
                keys_given[f"{field}_key_kid"] = str(rsa_key(name).kid)
        intake = {
            "submission_api_url": zd.url,
            "token_url": f"{zd.url}/token",
            "poll_interval": 0.2,
            "callback_secret": "${env:FC_CALLBACK_SECRET}",
            "destinations": [
                {
                    "id": intake_destination,
                    "client_id": SUBSCRIBER_ID,
                    "client_secret": "${env:FC_SUBSCRIBER_SECRET}",
                    **keys_given,
                    "default_region": {"ars": ERKELENZ_ARS},
                }
            ],
        }
        (config / "fitconnect.yaml").write_text(yaml.safe_dump(intake), encoding="utf-8")
    return config


@asynccontextmanager
async def running(config: Path, database_url: str, data_dir: Path) -> AsyncIterator[Bridge]:
    settings = Settings(
        database_url=database_url,
        config_dir=config,
        data_dir=data_dir,
        port=free_port(),
        poll_interval=0.05,
        retry_jitter=0,
        delivery_timeout=5,
        lease_seconds=10,
        pg_notify=False,
    )
    url = f"http://127.0.0.1:{settings.port}"
    async with serving(settings) as service, aiohttp.ClientSession(base_url=url) as http:
        yield Bridge(service, http, url)


class Bridge:
    def __init__(self, service: Service, http: aiohttp.ClientSession, url: str) -> None:
        self.service = service
        self.http = http
        self.url = url

    async def submit(self, document: dict[str, Any]) -> str:
        async with self.http.post(
            "/v1/applications",
            json=document,
            headers={"Authorization": f"Bearer {PORTAL_TOKEN}"},
        ) as response:
            assert response.status == 202, await response.text()
            return str((await response.json())["id"])

    async def application(self, application_id: str) -> dict[str, Any]:
        async with self.http.get(
            f"/v1/applications/{application_id}",
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        ) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())

    async def until(self, application_id: str, check: Any, timeout: float = 10) -> dict[str, Any]:
        """The application's status view once ``check(view)`` holds."""
        async with asyncio.timeout(timeout):
            while True:
                view = await self.application(application_id)
                if check(view):
                    return view
                await asyncio.sleep(0.05)
