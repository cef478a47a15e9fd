"""Looking at a database the way someone with the disk (or a dump) would: raw bytes."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.domain import ApplicationStatus, DeliveryState
from ozgbridge.store.tables import applications, deliveries
from ozgbridge.tenants import token_sha256
from tests.conftest import IN_CI

# Distinctive strings that occur nowhere but in the content a test submits.
MARKERS = {
    "form data": "Zeugin-Qx7K-Formularinhalt",
    "attachment": "Scan-Qx7K-Ausweisinhalt",
    "file name": "Qx7K-Mustermann-Ausweis",
    "status note": "Qx7K-Notiz-an-Frau-Erika",
    "event body": "Qx7K-Ereignis-Hinweistext",
}


def sqlite_files(database_url: str) -> list[Path]:
    """The main file and, when there is one, its write-ahead log."""
    main = Path(str(make_url(database_url).database))
    return [path for path in (main, Path(f"{main}-wal")) if path.exists()]


async def pg_dump(database_url: str) -> bytes:
    """``pg_dump`` of the database (plain SQL: bytea appears hex-encoded)."""
    binary = shutil.which("pg_dump")
    if binary is None:
        message = "pg_dump not installed (apt-get install postgresql-client)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = make_url(database_url)
    uri = f"postgresql://{url.username}@{url.host}:{url.port or 5432}/{url.database}"
    process = await asyncio.create_subprocess_exec(
        binary,
        "--no-owner",
        f"--dbname={uri}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode(errors="replace")
    return out


async def raw_database(database_url: str) -> bytes:
    """Every byte the database holds: SQLite's files, or a dump of the PostgreSQL database."""
    if database_url.startswith("sqlite"):
        files = sqlite_files(database_url)
        assert files, f"no database file for {database_url}"
        return b"".join(path.read_bytes() for path in files)
    return await pg_dump(database_url)


def markers_in(raw: bytes) -> set[str]:
    """Which markers occur in ``raw`` — as text, UTF-16, or hex (PostgreSQL's bytea output)."""
    found = set()
    for what, marker in MARKERS.items():
        encoded = marker.encode()
        forms = (encoded, marker.encode("utf-16-le"), encoded.hex().encode())
        if any(form in raw for form in forms):
            found.add(what)
    return found


def write_retention_config(root: Path) -> Path:
    """erkelenz: route gewerbe (settings' retention), route melde (delivered: 0 days);
    gangelt: dead content kept 1 day, for every route."""
    (root / "tenants").mkdir(parents=True)

    def route(route_id: str, services: list[str], **extra: object) -> dict[str, object]:
        options = {"directory": f"dropbox/{route_id}"}
        return {"id": route_id, "services": services, "connector": "filedrop",
                "options": options, **extra}  # fmt: skip

    tenants = [
        {
            "id": "erkelenz",
            "name": "Stadt Erkelenz",
            "ags": "05370004",
            "routes": [
                route("gewerbe", ["*"]),
                route("melde", ["99115005000000"], retention={"delivered_days": 0}),
            ],
        },
        {
            "id": "gangelt",
            "name": "Gemeinde Gangelt",
            "ags": "05370008",
            "retention": {"dead_days": 1},
            "routes": [route("alles", ["*"])],
        },
    ]
    for tenant in tenants:
        (root / "tenants" / f"{tenant['id']}.yaml").write_text(yaml.safe_dump(tenant))
    keys = {"keys": [{"id": "portal", "role": "portal", "sha256": token_sha256("portal-token")}]}
    (root / "keys.yaml").write_text(yaml.safe_dump(keys))
    return root


async def finish(
    engine: AsyncEngine, application_id: str, state: DeliveryState, at: datetime
) -> None:
    """Leave an application as the worker does when its delivery ends, at time ``at``."""
    status = (
        ApplicationStatus.DELIVERED if state is DeliveryState.DELIVERED else ApplicationStatus.DEAD
    )
    async with engine.begin() as conn:
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.application_id == application_id)
            .values(
                state=state,
                attempts=1,
                updated_at=at,
                delivered_at=at if state is DeliveryState.DELIVERED else None,
            )
        )
        await conn.execute(
            update(applications)
            .where(applications.c.id == application_id)
            .values(status=status, updated_at=at)
        )
