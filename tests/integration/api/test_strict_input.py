"""Stricter input: a JSON key twice is refused (400), and a region key must exist — all twelve
digits of an ARS, the Gemeindeverband part included (422 naming the field). Nothing is stored."""

from __future__ import annotations

import json

import pytest

from tests.integration.api.status_support import submit, view
from tests.integration.api.support import NOTHING_STORED, Api, auth, body
from tests.integration.api.test_rejections import fields, post, problem


async def post_raw(api: Api, text: str) -> object:
    return await api.client.post(
        "/v1/applications",
        data=text.encode(),
        headers={**auth("portal-a"), "Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # The region twice: which one a parser keeps decides who gets the application.
        (json.dumps(body())[:-1] + ', "region": {"ars": "053700008008"}}', "region"),
        (json.dumps(body()).replace('"ars": ', '"ars": "053700008008", "ars": ', 1), "ars"),
        # Inside the form content too, and with the key written with an escape.
        (json.dumps(body(content={"betrag": 1})).replace('{"betrag": 1}', '{"betrag": 1, '
                                                          '"betr\\u0061g": 2}'), "betrag"),
    ],
)  # fmt: skip
async def test_a_key_twice_is_refused_naming_it(api_db: Api, text: str, key: str) -> None:
    response = await post_raw(api_db, text)

    document = await problem(response, 400)
    assert document["type"] == "urn:ozgbridge:problem:duplicate-key"
    assert f'"{key}" twice' in document["detail"]
    assert fields(document) == {key: "duplicate key"}
    assert await api_db.stored() == NOTHING_STORED


async def test_the_same_body_without_the_duplicate_is_accepted(api: Api) -> None:
    response = await post_raw(api, json.dumps(body()))
    assert response.status == 202  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("region", "field", "says"),
    [
        ({"ars": "053700099004"}, "region.ars", "053700004004"),  # made-up Verband part
        ({"ars": "053700000004"}, "region.ars", "053700004004"),
        ({"ars": "053709999999"}, "region.ars", "no municipality, Kreis or Land"),
        ({"ars": "064340099001"}, "region.ars", "Hessen has no Gemeindeverbände"),
        ({"ars": "990000000000"}, "region.ars", "names no Land"),
        ({"ags": "05370999"}, "region.ags", "no municipality, Kreis or Land has AGS 05370999"),
    ],
)
async def test_regions_that_do_not_exist_are_refused(
    api_db: Api, region: dict[str, str], field: str, says: str
) -> None:
    response = await post(api_db, body(region=region))

    document = await problem(response, 422)
    assert document["type"] == "urn:ozgbridge:problem:validation"
    assert says in fields(document)[field]
    assert await api_db.stored() == NOTHING_STORED


async def test_uncheckable_regions_pass_to_routing(api: Api) -> None:
    # Bayern has Gemeindeverbände and is not in the shipped directory: accepted as sent, so the
    # answer is about routing (nobody in this deployment serves München), not about the key.
    response = await post(api, body(region={"ars": "091620000000"}))

    document = await problem(response, 422)
    assert document["type"] == "urn:ozgbridge:problem:unroutable"


async def test_an_ags_gets_the_directory_s_ars(api: Api) -> None:
    response = await post(api, body(region={"ags": "05370004"}))
    assert response.status == 202
    application_id = (await response.json())["id"]
    read = await api.client.get(f"/v1/applications/{application_id}", headers=auth("operator"))
    application = await read.json()
    assert application["region"] == {"ars": "053700004004", "ags": "05370004"}


async def test_a_status_report_with_a_key_twice_is_refused(api: Api) -> None:
    application_id = await submit(api)

    response = await api.client.post(
        f"/v1/applications/{application_id}/status",
        data=b'{"status": "confirmed", "status": "rejected"}',
        headers={**auth("erkelenz-staff"), "Content-Type": "application/json"},
    )

    document = await problem(response, 400)
    assert fields(document) == {"status": "duplicate key"}
    assert (await view(api, application_id))["statusHistory"] == []


def _snake(document: dict[str, object], path: tuple[str, ...], snake: str) -> None:
    """Rename the last key of ``path`` in ``document`` to ``snake``."""
    *parents, last = path
    target: dict[str, object] = document
    for part in parents:
        value = target[part]
        target = value[0] if isinstance(value, list) else value  # type: ignore[assignment]
    target[snake] = target.pop(last)


@pytest.mark.parametrize(
    ("path", "snake", "field"),
    [
        (("service", "leikaKey"), "leika_key", "service.leika_key"),
        (("data", "mimeType"), "mime_type", "data.mime_type"),
        (("attachments", "contentBase64"), "content_base64", "attachments[0].content_base64"),
    ],
)
@pytest.mark.parametrize("size", ["small", "spooled"])
async def test_snake_case_names_are_refused(
    api_db: Api, path: tuple[str, ...], snake: str, field: str, size: str
) -> None:
    # The API is camelCase (the OpenAPI document); the models' Python names are not a second
    # spelling a portal could come to rely on. Both parsers: in memory and spooled to disk.
    document = body(content={"bemerkung": "x" * (100_000 if size == "spooled" else 10)})
    _snake(document, path, snake)

    response = await post(api_db, document)

    problem_document = await problem(response, 422)
    assert fields(problem_document)[field] == (f"unknown field; fields are camelCase ({path[-1]})")
    assert await api_db.stored() == NOTHING_STORED


async def test_a_status_report_with_a_snake_case_name_is_refused(api: Api) -> None:
    application_id = await submit(api)

    response = await api.client.post(
        f"/v1/applications/{application_id}/status",
        json={"status": "in_progress", "file_reference": "AZ 1"},
        headers=auth("erkelenz-staff"),
    )

    document = await problem(response, 422)
    assert fields(document) == {
        "file_reference": "unknown field; fields are camelCase (fileReference)"
    }
    assert (await view(api, application_id))["statusHistory"] == []


async def test_an_operations_body_with_a_snake_case_name_is_refused(api: Api) -> None:
    response = await api.client.post(
        "/v1/deliveries/replay",
        json={"filter": {"state": "dead"}, "dry_run": True},
        headers=auth("operator"),
    )

    document = await problem(response, 422)
    assert fields(document) == {"dry_run": "unknown field; fields are camelCase (dryRun)"}
