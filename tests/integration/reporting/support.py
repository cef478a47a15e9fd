"""A small hand-built deployment and data set whose report figures are worked out by hand.

Rows go straight into the tables (no API, no worker) so that receipt and delivery times, states
and attempt counts are exactly what the expected figures assume.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.api.app import create_app
from ozgbridge.reporting.period import Period
from ozgbridge.routing import Router
from ozgbridge.settings import Settings
from ozgbridge.store.engine import create_engine
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import applications, attachments, deliveries, unmet_demand
from ozgbridge.tenants import Deployment, load_deployment, token_sha256

GEWERBE = "99050012104000"
HUND = "99102013002000"
KFZ = "99036008007000"
PARKEN = "99108001001000"  # Bewohnerparkausweis: only town-a offers it
UNKNOWN = "99999999999999"  # a well-formed key the catalogue does not know
OCTOBER = Period(datetime(2026, 10, 1).date(), datetime(2026, 10, 31).date())
# A marker that only ever stands in application content: no report may contain it.
CONTENT_MARKER = "Musterfrau-GEHEIM-4711"

TENANTS: list[dict[str, Any]] = [
    {
        "id": "kreis",
        "name": "Kreis Beispiel",
        "ags": "05370000",
        "routes": [
            {
                "id": "kfz",
                "services": [KFZ],
                "connector": "filedrop",
                "maturity": {"model": "1.1", "level": 3},
            },
            {"id": "rest", "services": ["*"], "connector": "filedrop"},
        ],
        "responsible_for": [{"services": [KFZ], "regions": "children"}],
    },
    {
        "id": "town-a",
        "name": "Stadt A",
        "ags": "05370004",
        "parent": "kreis",
        "routes": [
            {
                "id": "gewerbe",
                "services": [GEWERBE],
                "connector": "http",
                "maturity": {"model": "2.0", "level": 3},
            },
            {
                "id": "hund",
                "services": [HUND],
                "connector": "filedrop",
                "maturity": {"model": "1.1", "level": 2},
            },
            {
                "id": "parken",
                "services": [PARKEN],
                "connector": "http",
                "maturity": {"model": "2.0", "level": 2},
            },
        ],
    },
    {
        "id": "town-b",
        "name": "Gemeinde B",
        "ags": "05370008",
        "parent": "kreis",
        "routes": [
            {
                "id": "gewerbe",
                "services": [GEWERBE],
                "connector": "filedrop",
                "maturity": {"model": "2.0", "level": 1},
            }
        ],
    },
]

# key id -> (role, tenant, token)
KEYS: dict[str, tuple[str, str | None, str]] = {
    "coordinator": ("coordinator", None, "rep-coordinator-token"),
    "operator": ("operator", None, "rep-operator-token"),
    "portal": ("portal", None, "rep-portal-token"),
    "town-a-staff": ("tenant", "town-a", "rep-town-a-token"),
    "town-b-staff": ("tenant", "town-b", "rep-town-b-token"),
}


def route_of(tenant_id: str, leika_key: str) -> str:
    """The route of TENANTS that takes the key: the one naming it, else the catch-all, else
    one that is not configured (rows made up for a figure need not be routable)."""
    routes = next((t["routes"] for t in TENANTS if t["id"] == tenant_id), [])
    named = [r["id"] for r in routes if leika_key in r["services"]]
    catch_all = [r["id"] for r in routes if r["services"] == ["*"]]
    return (named or catch_all or ["unconfigured"])[0]


def token(key_id: str) -> str:
    return KEYS[key_id][2]


def write_config(directory: Path) -> Path:
    (directory / "tenants").mkdir(parents=True, exist_ok=True)
    for tenant in TENANTS:
        path = directory / "tenants" / f"{tenant['id']}.yaml"
        path.write_text(yaml.safe_dump(tenant), encoding="utf-8")
    keys = []
    for key_id, (role, tenant_id, secret) in KEYS.items():
        entry: dict[str, Any] = {"id": key_id, "role": role, "sha256": token_sha256(secret)}
        if tenant_id is not None:
            entry["tenant"] = tenant_id
        keys.append(entry)
    (directory / "keys.yaml").write_text(yaml.safe_dump({"keys": keys}), encoding="utf-8")
    return directory


def deployment(directory: Path) -> Deployment:
    return load_deployment(write_config(directory), check_connectors=False)


@dataclass(frozen=True)
class App:
    """One application as the report sees it. ``latency`` None: not delivered."""

    tenant: str
    leika_key: str
    received_at: datetime
    state: str  # delivery state: delivered, dead, pending, delivering
    latency: float | None = None
    attempts: int = 1
    data_size: int = 100
    attachment_sizes: tuple[int, ...] = ()


_STATUS = {
    "delivered": "delivered",
    "dead": "dead",
    "pending": "received",
    "delivering": "delivering",
}
_ids = itertools.count(1)


def oct_(day: int, hour: int = 12, second: float = 0) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC) + timedelta(seconds=second)


# The hand-built set. Expected figures are in test_report_figures.py.
DATA: list[App] = [
    # town-a Gewerbe: latencies 10, 20, 30, 40 s; attempts 1, 1, 2, 3; one dead after 10.
    App("town-a", GEWERBE, oct_(1, 0, 0), "delivered", 10, 1, attachment_sizes=(1000,)),
    App("town-a", GEWERBE, oct_(2), "delivered", 20, 1, attachment_sizes=(1000,)),
    App("town-a", GEWERBE, oct_(3), "delivered", 30, 2, attachment_sizes=(1000,)),
    App("town-a", GEWERBE, oct_(31, 23, 3599.5), "delivered", 40, 3, attachment_sizes=(1000,)),
    App("town-a", GEWERBE, oct_(5), "dead", None, 10, attachment_sizes=(500,)),
    # town-a Hundesteuer: one delivered after 60 s, one still pending.
    App("town-a", HUND, oct_(6), "delivered", 60, 1),
    App("town-a", HUND, oct_(7), "pending", None, 0),
    # town-b Gewerbe: latencies 5, 5, 100; one being delivered right now.
    App("town-b", GEWERBE, oct_(8), "delivered", 5, 1, data_size=250),
    App("town-b", GEWERBE, oct_(9), "delivered", 5, 1, data_size=250),
    App("town-b", GEWERBE, oct_(10), "delivered", 100, 1, data_size=250),
    App("town-b", GEWERBE, oct_(11), "delivering", None, 1, data_size=250),
    # Kreis: Kfz 1.5 s and 2.5 s (attempts 1 and 2) and one dead; a Hundesteuer through the
    # catch-all route (this makes Hundesteuer online for town-b); an uncatalogued key, pending.
    App("kreis", KFZ, oct_(12), "delivered", 1.5, 1),
    App("kreis", KFZ, oct_(13), "delivered", 2.5, 2),
    App("kreis", KFZ, oct_(14), "dead", None, 10),
    App("kreis", HUND, oct_(15), "delivered", 7, 1),
    App("kreis", UNKNOWN, oct_(16), "pending", None, 0),
    # Outside October by one second each way: in no October figure, in the Sep–Nov trend.
    App("town-a", GEWERBE, oct_(1, 0, -1), "delivered", 1, 1),
    App("town-a", GEWERBE, datetime(2026, 11, 1, tzinfo=UTC), "delivered", 1, 1),
]

TOWN_A_ARS, TOWN_B_ARS = "053700004004", "053700008008"
ELSEWHERE_ARS = "051110000000"  # Düsseldorf: no tenant of this deployment
WOHNGELD = "99107023000000"  # a service no tenant routes explicitly
# Refusals for want of a responsible authority: (month, LeiKa key, ARS, count).
DEMAND: list[tuple[str, str, str, int]] = [
    ("2026-10", PARKEN, TOWN_B_ARS, 3),
    ("2026-10", WOHNGELD, TOWN_A_ARS, 2),
    ("2026-10", WOHNGELD, ELSEWHERE_ARS, 1),
    ("2026-09", PARKEN, TOWN_B_ARS, 1),
    ("2026-11", PARKEN, TOWN_B_ARS, 5),
]


async def seed(
    engine: AsyncEngine,
    data: list[App] = DATA,
    demand: list[tuple[str, str, str, int]] = DEMAND,
) -> None:
    app_rows, delivery_rows, attachment_rows = [], [], []
    for item in data:
        app_id = f"APP{next(_ids):023d}"
        content = (CONTENT_MARKER * (item.data_size // len(CONTENT_MARKER) + 1))[: item.data_size]
        app_rows.append(
            {
                "id": app_id,
                "tenant_id": item.tenant,
                "leika_key": item.leika_key,
                "service_name": f"Antrag von {CONTENT_MARKER}",
                "ars": "053700004004",
                "ags": "05370004",
                "reference": CONTENT_MARKER,
                "submitted_by": "portal",
                "status": _STATUS[item.state],
                "data_mime_type": "application/json",
                "data_sha256": "0" * 64,
                "data_size": item.data_size,
                "data": content.encode("ascii"),
                "received_at": item.received_at,
                "updated_at": item.received_at,
            }
        )
        delivered_at = (
            item.received_at + timedelta(seconds=item.latency) if item.latency is not None else None
        )
        delivery_rows.append(
            {
                "id": f"DLV{app_id[3:]}",
                "application_id": app_id,
                "tenant_id": item.tenant,
                "route_id": route_of(item.tenant, item.leika_key),
                "connector": "filedrop",
                "state": item.state,
                "attempts": item.attempts,
                "next_attempt_at": item.received_at,
                "created_at": item.received_at,
                "updated_at": delivered_at or item.received_at,
                "delivered_at": delivered_at,
            }
        )
        for position, size in enumerate(item.attachment_sizes):
            attachment_rows.append(
                {
                    "id": f"ATT{app_id[5:]}{position:02d}",
                    "application_id": app_id,
                    "position": position,
                    "filename": f"{CONTENT_MARKER}.pdf".encode(),
                    "mime_type": "application/pdf",
                    "purpose": "attachment",
                    "sha256": "0" * 64,
                    "size": size,
                    "content": b"\0" * size,
                }
            )
    async with engine.begin() as conn:
        await conn.execute(applications.insert(), app_rows)
        await conn.execute(deliveries.insert(), delivery_rows)
        if attachment_rows:
            await conn.execute(attachments.insert(), attachment_rows)
        if demand:
            await conn.execute(
                unmet_demand.insert(),
                [
                    {
                        "month": month,
                        "leika_key": key,
                        "ars": ars,
                        "refusals": count,
                        "last_at": datetime.fromisoformat(f"{month}-15T12:00:00+00:00"),
                    }
                    for month, key, ars, count in demand
                ],
            )


@dataclass
class Running:
    """The real app on a real socket (127.0.0.1, free port) over a seeded database."""

    client: TestClient[Any, Any]
    engine: AsyncEngine
    config_dir: Path

    @property
    def base_url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")


@asynccontextmanager
async def running_app(
    database_url: str, config_dir: Path, **settings: Any
) -> AsyncIterator[Running]:
    deployment = load_deployment(write_config(config_dir), check_connectors=False)
    engine = create_engine(database_url)
    await seed(engine)
    app = create_app(
        settings=Settings(
            database_url=database_url,
            config_dir=config_dir,
            ui_session_secret="test-secret-" + "x" * 32,
            **settings,
        ),
        deployment=deployment,
        repository=Repository(engine),
        router=Router(deployment),
    )
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield Running(client, engine, config_dir)
    finally:
        await client.close()
        await engine.dispose()


def bearer(key_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(key_id)}"}
