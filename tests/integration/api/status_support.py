"""Helpers for the status back-channel's API tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.tables import audit_events, deliveries
from tests.integration.api.support import Api, auth, body

BAUANTRAG = "99012008001000"
ERKELENZ_AGS = "05370004"
GANGELT_AGS = "05370008"
KREIS_AGS = "05370000"
NOTE = "Sehr geehrte Frau Mustermann, bitte reichen Sie den Lageplan nach."


async def submit(api: Api, portal: str = "portal-a", **changes: Any) -> str:
    response = await api.client.post("/v1/applications", json=body(**changes), headers=auth(portal))
    assert response.status == 202, await response.text()
    application_id: str = (await response.json())["id"]
    return application_id


async def bauantrag(api: Api, ags: str = ERKELENZ_AGS) -> str:
    return await submit(
        api,
        leika_key=BAUANTRAG,
        region={"ags": ags},
        service={"leikaKey": BAUANTRAG, "name": "Baugenehmigung"},
    )


async def report(api: Api, application_id: str, key: str, **document: Any) -> Any:
    return await api.client.post(
        f"/v1/applications/{application_id}/status", json=document, headers=auth(key)
    )


async def view(api: Api, application_id: str, key: str = "operator") -> dict[str, Any]:
    response = await api.client.get(f"/v1/applications/{application_id}", headers=auth(key))
    assert response.status == 200, await response.text()
    document: dict[str, Any] = await response.json()
    return document


async def audit_details(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(audit_events.c.action, audit_events.c.details))).all()
    return [(row.action, row.details) for row in rows]


async def delivery_rows(engine: AsyncEngine, application_id: str) -> list[Any]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(deliveries)
                    .where(deliveries.c.application_id == application_id)
                    .order_by(deliveries.c.created_at)
                )
            ).all()
        )
