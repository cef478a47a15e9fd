"""A replay of an application whose content retention deleted is refused with 409 — both engines."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from ozgbridge.dataprotection.purge import purge
from ozgbridge.domain import DeliveryState, utcnow
from ozgbridge.settings import Settings
from ozgbridge.store.tables import deliveries
from ozgbridge.tenants import load_deployment
from tests.integration.api.support import StartApi, auth, body, write_config
from tests.integration.dataprotection.support import finish


async def test_replay_of_a_purged_application_is_refused(
    database_url: str, start_api: StartApi, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config")
    api = await start_api(database_url, config_dir=config)
    answers = []
    for _ in range(2):
        response = await api.client.post("/v1/applications", json=body(), headers=auth("portal-a"))
        answers.append((await response.json())["id"])
    purged, kept = answers
    await finish(api.engine, purged, DeliveryState.DEAD, utcnow() - timedelta(days=31))
    await finish(api.engine, kept, DeliveryState.DEAD, utcnow() - timedelta(days=1))
    settings = Settings(database_url=database_url, config_dir=config)
    report = await purge(
        api.engine, load_deployment(config, check_connectors=False), settings, actor="test"
    )
    assert report.purged.applications == 1
    async with api.engine.connect() as conn:
        rows = await conn.execute(select(deliveries.c.application_id, deliveries.c.id))
        ids = dict(rows.tuples().all())

    refused = await api.client.post(
        f"/v1/deliveries/{ids[purged]}/replay", json={}, headers=auth("operator")
    )
    replayed = await api.client.post(
        f"/v1/deliveries/{ids[kept]}/replay", json={}, headers=auth("operator")
    )

    assert refused.status == 409
    problem = await refused.json()
    assert "form data and attachments were deleted at" in problem["detail"]
    assert "(retention)" in problem["detail"]
    assert replayed.status == 202
    view = await api.client.get(f"/v1/applications/{purged}", headers=auth("operator"))
    assert (await view.json())["contentPurgedAt"] is not None
