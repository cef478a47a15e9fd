"""Helpers for API tests: a deployment with known tokens, request bodies, stored row counts."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import (
    applications,
    attachments,
    audit_events,
    deliveries,
    idempotency_keys,
)
from ozgbridge.tenants import token_sha256

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_TENANTS = REPO_ROOT / "config" / "tenants"

# key id -> (role, tenant, token)
KEYS: dict[str, tuple[str, str | None, str]] = {
    "portal-a": ("portal", None, "test-portal-a-token"),
    "portal-b": ("portal", None, "test-portal-b-token"),
    "erkelenz-staff": ("tenant", "erkelenz", "test-erkelenz-token"),
    "gangelt-staff": ("tenant", "gangelt", "test-gangelt-token"),
    "kreis-staff": ("tenant", "kreis-heinsberg", "test-kreis-token"),
    "coordinator": ("coordinator", None, "test-coordinator-token"),
    "operator": ("operator", None, "test-operator-token"),
    "metrics": ("metrics", None, "test-metrics-token"),
    "demo-portal": ("portal", None, "test-demo-portal-token"),
}
ERKELENZ_ARS = "053700004004"
GANGELT_ARS = "053700008008"
GEWERBEANMELDUNG = "99050012104000"
KFZ_ZULASSUNG = "99036008007000"
PDF = b"%PDF-1.4 fictitious test document\n%%EOF\n"


def token(key_id: str) -> str:
    return KEYS[key_id][2]


def auth(key_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(key_id)}"}


def write_config(
    directory: Path, tweak: Callable[[str, dict[str, Any]], None] | None = None
) -> Path:
    """The example tenants (optionally changed by ``tweak(tenant_id, document)``), our own keys."""
    tenants = directory / "tenants"
    shutil.copytree(EXAMPLE_TENANTS, tenants)
    if tweak is not None:
        for path in tenants.glob("*.yaml"):
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
            tweak(document["id"], document)
            path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    keys = []
    for key_id, (role, tenant, secret) in KEYS.items():
        entry: dict[str, Any] = {"id": key_id, "role": role, "sha256": token_sha256(secret)}
        if tenant is not None:
            entry["tenant"] = tenant
        if key_id.startswith("demo-"):
            entry["demo"] = True
        keys.append(entry)
    (directory / "keys.yaml").write_text(yaml.safe_dump({"keys": keys}), encoding="utf-8")
    return directory


def body(
    *,
    leika_key: str = GEWERBEANMELDUNG,
    region: dict[str, str] | None = None,
    content: Any = None,
    attachments: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "service": {"leikaKey": leika_key, "name": "Gewerbeanmeldung"},
        "region": region if region is not None else {"ars": ERKELENZ_ARS},
        "reference": "HS-TEST-1",
        "data": {
            "mimeType": "application/json",
            "schemaUri": "urn:ozgbridge:test:1",
            "content": content if content is not None else {"betrieb": "Testbäckerei"},
        },
        "attachments": attachments if attachments is not None else [attachment()],
    }
    document.update(extra)
    return document


def attachment(filename: str = "nachweis.pdf", content: bytes = PDF) -> dict[str, Any]:
    return {
        "filename": filename,
        "mimeType": "application/pdf",
        "purpose": "attachment",
        "contentBase64": base64.b64encode(content).decode("ascii"),
    }


async def stored_counts(engine: AsyncEngine) -> dict[str, int]:
    counts = {}
    async with engine.connect() as conn:
        for table in (applications, attachments, deliveries, audit_events, idempotency_keys):
            counts[table.name] = (
                await conn.execute(select(func.count()).select_from(table))
            ).scalar_one()
    return counts


NOTHING_STORED = {
    "applications": 0,
    "attachments": 0,
    "deliveries": 0,
    "audit_events": 0,
    "idempotency_keys": 0,
}


@dataclass
class Api:
    """A running app on a real socket, with its database and the wake-ups it gave."""

    client: TestClient[Any, Any]
    engine: AsyncEngine
    repository: Repository
    wakeups: list[None] = field(default_factory=list)

    async def stored(self) -> dict[str, int]:
        return await stored_counts(self.engine)


StartApi = Callable[..., Awaitable[Api]]
