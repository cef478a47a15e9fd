"""Helpers for the worker tests: a tmp deployment and ways to wait for outcomes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.domain import ApplicationStatus
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import attempts
from ozgbridge.tenants import token_sha256
from ozgbridge.worker import Worker

FAST = [0, 0.05, 0.05, 0.05, 0.05]


def write_config(root: Path, retry_schedule: list[float]) -> Path:
    (root / "tenants").mkdir(parents=True)
    tenant = {
        "id": "erkelenz",
        "name": "Stadt Erkelenz",
        "ags": "05370004",
        "routes": [
            {
                "id": "gewerbe",
                "services": ["*"],
                "connector": "filedrop",
                "options": {"directory": "dropbox/erkelenz"},
                "retry_schedule": retry_schedule,
            }
        ],
    }
    (root / "tenants" / "erkelenz.yaml").write_text(yaml.safe_dump(tenant))
    digest = token_sha256("test-token")
    keys = {"keys": [{"id": "portal-test", "role": "portal", "sha256": digest}]}
    (root / "keys.yaml").write_text(yaml.safe_dump(keys))
    return root


MakeWorker = Callable[..., Awaitable[Worker]]


async def settled(repo: Repository, application_id: str, timeout: float = 10) -> Any:
    """The application's view once its delivery is final (delivered or dead)."""
    async with asyncio.timeout(timeout):
        while True:
            view = await repo.get_application(application_id)
            if view.status in (ApplicationStatus.DELIVERED, ApplicationStatus.DEAD):
                return view
            await asyncio.sleep(0.02)


async def attempt_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(attempts).order_by(attempts.c.number))).all())
