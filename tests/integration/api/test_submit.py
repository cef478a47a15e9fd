"""POST /v1/applications: accepted submissions, what they store, and how they are routed."""

from __future__ import annotations

import base64
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ozgbridge import audit
from ozgbridge.ids import is_id
from ozgbridge.store.tables import applications, attachments, audit_events, deliveries
from tests.integration.api.support import (
    ERKELENZ_ARS,
    GANGELT_ARS,
    GEWERBEANMELDUNG,
    KFZ_ZULASSUNG,
    PDF,
    Api,
    StartApi,
    attachment,
    auth,
    body,
    write_config,
)
from tests.sealed import stored

REPO_ROOT = Path(__file__).resolve().parents[3]


async def test_accepted_application_is_stored_before_the_answer(api_db: Api) -> None:
    response = await api_db.client.post("/v1/applications", json=body(), headers=auth("portal-a"))

    assert response.status == 202
    answer = await response.json()
    assert set(answer) == {"id", "status", "tenant", "links"}
    assert is_id(answer["id"])
    assert (answer["status"], answer["tenant"]) == ("received", "erkelenz")
    self_link = answer["links"]["self"]
    # No OZGBRIDGE_PUBLIC_URL: a relative link, never one built from the request's Host.
    assert self_link == f"/v1/applications/{answer['id']}"
    assert response.headers["Location"] == self_link
    assert response.headers["X-Request-Id"]

    async with api_db.engine.connect() as conn:
        app = (
            await conn.execute(select(applications).where(applications.c.id == answer["id"]))
        ).one()
        [delivery] = (
            await conn.execute(
                select(deliveries).where(deliveries.c.application_id == answer["id"])
            )
        ).all()
        [stored_attachment] = (
            await conn.execute(
                select(attachments).where(attachments.c.application_id == answer["id"])
            )
        ).all()
        actions = (
            (
                await conn.execute(
                    select(audit_events.c.action).where(
                        audit_events.c.application_id == answer["id"]
                    )
                )
            )
            .scalars()
            .all()
        )
    assert (app.tenant_id, app.leika_key, app.ars, app.ags) == (
        "erkelenz",
        GEWERBEANMELDUNG,
        ERKELENZ_ARS,
        "05370004",
    )
    assert (app.submitted_by, app.reference, app.data_schema_uri) == (
        "portal-a",
        "HS-TEST-1",
        "urn:ozgbridge:test:1",
    )
    content = await stored(api_db.engine, api_db.repository.sealer, answer["id"])
    # JSON content is stored compact, UTF-8, not ASCII-escaped — and sealed.
    assert content.data == '{"betrieb":"Testbäckerei"}'.encode()
    assert content.data_key_id == api_db.repository.sealer.key_id is not None
    assert b"Testb" not in app.data
    assert (delivery.route_id, delivery.connector, delivery.state) == (
        "gewerbe",
        "filedrop",
        "pending",
    )
    assert content.attachments == [("nachweis.pdf", PDF)]
    assert b"nachweis" not in stored_attachment.filename
    assert PDF not in stored_attachment.content
    assert sorted(actions) == ["application.received", "application.routed"]
    assert (await audit.verify(api_db.engine)).ok
    assert len(api_db.wakeups) == 1


async def test_base64_form_data_is_stored_byte_for_byte(api: Api) -> None:
    xml = "<antrag>Müller</antrag>".encode("iso-8859-1")
    document = body(attachments=[])
    document["data"] = {
        "mimeType": "application/xml; charset=ISO-8859-1",
        "contentBase64": base64.b64encode(xml).decode(),
    }

    response = await api.client.post("/v1/applications", json=document, headers=auth("portal-a"))

    assert response.status == 202, await response.text()
    answer = await response.json()
    async with api.engine.connect() as conn:
        mime_type = (await conn.execute(select(applications.c.data_mime_type))).scalar_one()
    content = await stored(api.engine, api.repository.sealer, answer["id"])
    assert (content.data, mime_type) == (xml, "application/xml; charset=ISO-8859-1")


@pytest.mark.parametrize(
    ("leika_key", "ars", "tenant", "route", "reason"),
    [
        (GEWERBEANMELDUNG, ERKELENZ_ARS, "erkelenz", "gewerbe", "own"),
        (KFZ_ZULASSUNG, GANGELT_ARS, "kreis-heinsberg", "kfz", "delegated"),
        # Gangelt has no Bauaufsicht of its own; the Kreis is responsible by delegation.
        ("99012008001000", GANGELT_ARS, "kreis-heinsberg", "bauaufsicht", "delegated"),
        ("99012008001000", ERKELENZ_ARS, "erkelenz", "bauaufsicht", "own"),
    ],
)
async def test_routing_through_the_api(
    api: Api, leika_key: str, ars: str, tenant: str, route: str, reason: str
) -> None:
    response = await api.client.post(
        "/v1/applications",
        json=body(leika_key=leika_key, region={"ars": ars}),
        headers=auth("portal-a"),
    )

    assert response.status == 202, await response.text()
    assert (await response.json())["tenant"] == tenant
    async with api.engine.connect() as conn:
        assert (await conn.execute(select(deliveries.c.route_id))).scalar_one() == route
        details = (
            await conn.execute(
                select(audit_events.c.details).where(audit_events.c.action == "application.routed")
            )
        ).scalar_one()
    assert json.loads(details)["reason"] == reason


async def test_region_by_ags_is_stored_with_its_ars(api: Api) -> None:
    response = await api.client.post(
        "/v1/applications", json=body(region={"ags": "05370004"}), headers=auth("portal-a")
    )

    assert response.status == 202
    async with api.engine.connect() as conn:
        row = (await conn.execute(select(applications.c.ars, applications.c.ags))).one()
    assert tuple(row) == (ERKELENZ_ARS, "05370004")


async def test_public_url_makes_the_links(sqlite_url: str, start_api: StartApi) -> None:
    api = await start_api(sqlite_url, public_url="https://ozg.example.org/bridge/")

    response = await api.client.post("/v1/applications", json=body(), headers=auth("portal-a"))

    answer = await response.json()
    expected = f"https://ozg.example.org/bridge/v1/applications/{answer['id']}"
    assert answer["links"]["self"] == expected
    assert response.headers["Location"] == expected


async def test_first_step_of_the_retry_ladder_delays_the_first_attempt(
    sqlite_url: str, start_api: StartApi, tmp_path: Path
) -> None:
    def slow_gewerbe(tenant_id: str, document: dict[str, Any]) -> None:
        if tenant_id == "erkelenz":
            document["routes"][0]["retry_schedule"] = [600, 3600]

    api = await start_api(sqlite_url, config_dir=write_config(tmp_path / "slow", slow_gewerbe))

    response = await api.client.post("/v1/applications", json=body(), headers=auth("portal-a"))

    assert response.status == 202
    async with api.engine.connect() as conn:
        row = (
            await conn.execute(select(deliveries.c.next_attempt_at, deliveries.c.created_at))
        ).one()
    assert row.next_attempt_at - row.created_at == timedelta(seconds=600)


async def test_many_attachments_keep_their_order(api: Api) -> None:
    files = [attachment(f"anlage-{n}.pdf", f"file {n}".encode()) for n in range(5)]

    response = await api.client.post(
        "/v1/applications", json=body(attachments=files), headers=auth("portal-a")
    )

    assert response.status == 202
    content = await stored(api.engine, api.repository.sealer, (await response.json())["id"])
    assert content.attachments == [(f"anlage-{n}.pdf", f"file {n}".encode()) for n in range(5)]


async def test_example_request_with_the_demo_token(sqlite_url: str, start_api: StartApi) -> None:
    """The shipped example config and example body work together, as the README promises."""
    api = await start_api(sqlite_url, config_dir=REPO_ROOT / "config")
    example = (REPO_ROOT / "config" / "examples" / "gewerbeanmeldung-erkelenz.json").read_bytes()

    response = await api.client.post(
        "/v1/applications",
        data=example,
        headers={
            "Authorization": "Bearer ozgb_demo_portal_NOT_FOR_PRODUCTION",
            "Content-Type": "application/json",
        },
    )

    assert response.status == 202, await response.text()
    assert (await response.json())["tenant"] == "erkelenz"


async def test_large_attachment_arrives_intact(api_db: Api) -> None:
    # Over the size at which parsing moves off the event loop.
    content = bytes(range(256)) * 6000
    raw = json.dumps(body(attachments=[attachment("scan.tiff", content)])).encode()
    response = await api_db.client.post(
        "/v1/applications",
        data=io.BytesIO(raw),  # the client warns about large raw bytes
        headers={**auth("portal-a"), "Content-Type": "application/json"},
    )

    assert response.status == 202
    opened = await stored(api_db.engine, api_db.repository.sealer, (await response.json())["id"])
    assert opened.attachments == [("scan.tiff", content)]
