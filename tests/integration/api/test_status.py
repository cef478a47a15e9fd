"""GET /v1/applications/{id}: the status view, and who may see which application."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from ozgbridge.dataprotection.sealing import attempt_response_aad
from ozgbridge.domain import utcnow
from ozgbridge.ids import new_id
from ozgbridge.store.tables import attempts, deliveries
from tests.integration.api.support import (
    ERKELENZ_ARS,
    GANGELT_ARS,
    KFZ_ZULASSUNG,
    Api,
    auth,
    body,
)


async def submit(api: Api, portal: str = "portal-a", **changes: Any) -> str:
    response = await api.client.post("/v1/applications", json=body(**changes), headers=auth(portal))
    assert response.status == 202, await response.text()
    application_id: str = (await response.json())["id"]
    return application_id


async def test_status_view_shape_and_no_contents(api_db: Api) -> None:
    application_id = await submit(api_db)

    response = await api_db.client.get(
        f"/v1/applications/{application_id}", headers=auth("portal-a")
    )

    assert response.status == 200
    view = await response.json()
    assert set(view) == {
        "id",
        "status",
        "tenant",
        "service",
        "region",
        "reference",
        "receivedAt",
        "updatedAt",
        "data",
        "attachmentCount",
        "deliveries",
        "processingStatus",
        "statusHistory",
        "contentPurgedAt",
        "forwardedFrom",
    }
    assert view["contentPurgedAt"] is None
    # nothing reported back by the authority yet
    assert (view["processingStatus"], view["statusHistory"], view["forwardedFrom"]) == (
        None,
        [],
        [],
    )
    assert view["id"] == application_id
    assert (view["status"], view["tenant"], view["reference"]) == (
        "received",
        "erkelenz",
        "HS-TEST-1",
    )
    assert view["service"] == {"leikaKey": "99050012104000", "name": "Gewerbeanmeldung"}
    assert view["region"] == {"ars": ERKELENZ_ARS, "ags": "05370004"}
    assert view["data"] == {
        "mimeType": "application/json",
        "size": len('{"betrieb":"Testbäckerei"}'.encode()),
    }
    assert view["attachmentCount"] == 1
    assert datetime.fromisoformat(view["receivedAt"]).tzinfo is not None
    [delivery] = view["deliveries"]
    assert set(delivery) == {
        "id",
        "routeId",
        "connector",
        "state",
        "attempts",
        "nextAttemptAt",
        "lastError",
        "lastStatusCode",
        "remoteReference",
        "deliveredAt",
        "lastResponse",
    }
    assert (delivery["routeId"], delivery["state"], delivery["attempts"]) == (
        "gewerbe",
        "pending",
        0,
    )
    text = await response.text()
    assert "Testbäckerei" not in text
    assert "contentBase64" not in text


async def test_delivery_progress_shows(api: Api) -> None:
    application_id = await submit(api)
    async with api.engine.begin() as conn:
        await conn.execute(
            update(deliveries).values(
                state="delivered",
                attempts=2,
                remote_reference="FV-4711",
                last_status_code=201,
                delivered_at=utcnow(),
            )
        )

    view = await (
        await api.client.get(f"/v1/applications/{application_id}", headers=auth("operator"))
    ).json()

    [delivery] = view["deliveries"]
    assert (delivery["state"], delivery["attempts"], delivery["remoteReference"]) == (
        "delivered",
        2,
        "FV-4711",
    )
    assert delivery["nextAttemptAt"] is None
    assert delivery["deliveredAt"] is not None


async def test_last_response_is_the_excerpt_of_the_last_attempt(api_db: Api) -> None:
    application_id = await submit(api_db)
    sealer = api_db.repository.sealer
    async with api_db.engine.begin() as conn:
        delivery_id = (
            await conn.execute(
                select(deliveries.c.id).where(deliveries.c.application_id == application_id)
            )
        ).scalar_one()
        now = utcnow()
        await conn.execute(
            insert(attempts),
            [
                {"id": new_id(), "delivery_id": delivery_id, "number": number, "worker": "w1",
                 "started_at": now, "finished_at": now, "outcome": "retriable",
                 "status_code": 500, "error": "HTTP 500 from http://fv.example:80/in",
                 "response_excerpt": sealer.seal(
                     excerpt.encode(), attempt_response_aad(delivery_id, number)
                 ),
                 "response_key_id": sealer.key_id}
                for number, excerpt in [(2, "Datenbank voll – Antrag Schmidt"), (1, "first")]
            ],
        )  # fmt: skip
        await conn.execute(update(deliveries).values(attempts=2, last_status_code=500))

    for key in ("portal-a", "erkelenz-staff", "operator"):
        response = await api_db.client.get(f"/v1/applications/{application_id}", headers=auth(key))
        [delivery] = (await response.json())["deliveries"]
        assert delivery["lastResponse"] == "Datenbank voll – Antrag Schmidt"
    for key in ("portal-b", "gangelt-staff"):
        response = await api_db.client.get(f"/v1/applications/{application_id}", headers=auth(key))
        assert response.status == 404


async def test_visibility(api_db: Api) -> None:
    erkelenz_by_a = await submit(api_db, "portal-a")
    gangelt_kfz_by_b = await submit(
        api_db, "portal-b", leika_key=KFZ_ZULASSUNG, region={"ars": GANGELT_ARS}
    )

    async def status(application_id: str, key: str) -> int:
        response = await api_db.client.get(f"/v1/applications/{application_id}", headers=auth(key))
        return response.status

    assert await status(erkelenz_by_a, "portal-a") == 200
    assert await status(erkelenz_by_a, "portal-b") == 404
    assert await status(gangelt_kfz_by_b, "portal-b") == 200
    assert await status(gangelt_kfz_by_b, "portal-a") == 404
    assert await status(erkelenz_by_a, "erkelenz-staff") == 200
    assert await status(erkelenz_by_a, "gangelt-staff") == 404
    # The Kfz application from Gangelt belongs to the Kreis (delegated), not to Gangelt.
    assert await status(gangelt_kfz_by_b, "kreis-staff") == 200
    assert await status(gangelt_kfz_by_b, "gangelt-staff") == 404
    assert await status(erkelenz_by_a, "operator") == 200
    assert await status(gangelt_kfz_by_b, "operator") == 200


async def test_hidden_and_missing_look_the_same(api: Api) -> None:
    hidden = await submit(api, "portal-a")

    not_yours = await api.client.get(f"/v1/applications/{hidden}", headers=auth("portal-b"))
    missing = await api.client.get(
        "/v1/applications/01ARZ3NDEKTSV4RRFFQ69G5FAV", headers=auth("portal-b")
    )
    malformed = await api.client.get("/v1/applications/..%2Fetc", headers=auth("portal-b"))

    for response in (not_yours, missing, malformed):
        assert response.status == 404
        assert response.content_type == "application/problem+json"
    assert (await not_yours.json(content_type=None))["detail"] == (
        await missing.json(content_type=None)
    )["detail"]


async def test_coordinators_see_aggregates_only(api: Api) -> None:
    application_id = await submit(api)

    response = await api.client.get(
        f"/v1/applications/{application_id}", headers=auth("coordinator")
    )

    assert response.status == 403
    assert (await response.json(content_type=None))["detail"] == "coordinators see aggregates only"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
async def test_status_needs_a_key(api: Api, headers: dict[str, str]) -> None:
    application_id = await submit(api)

    response = await api.client.get(f"/v1/applications/{application_id}", headers=headers)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
