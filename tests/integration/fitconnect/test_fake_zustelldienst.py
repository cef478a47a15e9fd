"""The fake Zustelldienst itself refuses what a real one refuses (tests/fakes/README.md), so the
connector's tests cannot pass by agreeing with a lenient fake."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import yaml
from joserfc import jws
from joserfc.jwk import KeySet
from jsonschema import Draft202012Validator

from ozgbridge.testing.factories import make_envelope
from tests.fakes.zustelldienst import CLIENT_ID, CLIENT_SECRET, SUBSCRIBER_ID, SUBSCRIBER_SECRET
from tests.integration.fitconnect.support import (
    GEWERBE,
    REPO_ROOT,
    FitConnectStandIn,
    jwcrypto_encrypt,
)

LEIKA_URN = f"urn:de:fim:leika:leistung:{GEWERBE}"


@pytest.fixture
async def http(standin: FitConnectStandIn) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=standin.zd.url) as client:
        yield client


async def token(http: httpx.AsyncClient, client_id: str, secret: str) -> dict[str, str]:
    answer = await http.post(
        "/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def announce(standin: FitConnectStandIn, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "destinationId": standin.destination.id,
        "announcedAttachments": [str(uuid.uuid4())],
        "publicService": {"identifier": LEIKA_URN, "name": "Gewerbeanmeldung"},
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        # The v1 field name: a v2 Zustelldienst does not know it.
        ({"serviceType": {"identifier": LEIKA_URN, "name": "x"}}, 400),
        ({"publicService": None}, 400),
        (
            {
                "publicService": {
                    "identifier": "urn:de:fim:leika:leistung:99036008007000",
                    "name": "x",
                }
            },
            422,
        ),
        ({"region": "urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:rs:09"}, 422),
        ({"announcedAttachments": ["not-a-uuid"]}, 400),
        ({"announcedAttachments": [str(uuid.uuid4()) for _ in range(101)]}, 413),
    ],
)
async def test_announcements_are_checked(
    standin: FitConnectStandIn, http: httpx.AsyncClient, changes: dict[str, Any], status: int
) -> None:
    sender = await token(http, CLIENT_ID, CLIENT_SECRET)
    body = {k: v for k, v in announce(standin, **changes).items() if v is not None}

    answer = await http.post("/v2/submissions", json=body, headers=sender)

    assert answer.status_code == status, answer.text


async def test_tokens_carry_their_role(standin: FitConnectStandIn, http: httpx.AsyncClient) -> None:
    sender = await token(http, CLIENT_ID, CLIENT_SECRET)
    subscriber = await token(http, SUBSCRIBER_ID, SUBSCRIBER_SECRET)
    case = str(uuid.uuid4())

    listing = await http.get(
        "/v2/submissions", params={"destinationId": standin.destination.id}, headers=sender
    )
    event = await http.post(
        f"/v2/cases/{case}/events",
        content=b"x",
        headers={**sender, "Content-Type": "application/jose"},
    )
    create = await http.post("/v2/submissions", json=announce(standin), headers=subscriber)

    assert (listing.status_code, create.status_code) == (403, 403)
    assert event.status_code in (403, 404)  # unknown case or wrong role: never accepted


async def test_uploads_must_follow_the_jwe_profile_and_size(
    standin: FitConnectStandIn, http: httpx.AsyncClient
) -> None:
    sender = await token(http, CLIENT_ID, CLIENT_SECRET)
    body = announce(standin)
    created = (await http.post("/v2/submissions", json=body, headers=sender)).json()
    url = f"/v2/submissions/{created['submissionId']}/attachments/{body['announcedAttachments'][0]}"
    jose = {**sender, "Content-Type": "application/jose"}

    wrong_key = jwcrypto_encrypt(b"x" * 100, "application/pdf", name="another-destination")
    short = "a.b.c.d.e"
    standin.zd.max_upload_bytes = 1000
    too_big = jwcrypto_encrypt(b"x" * 5000, "application/pdf")

    assert (await http.put(url, content=wrong_key, headers=jose)).status_code == 422
    assert (await http.put(url, content=short, headers=jose)).status_code == 422
    assert (await http.put(url, content=too_big, headers=jose)).status_code == 413
    assert (
        await http.put(url, content=b"{}", headers={**sender, "Content-Type": "application/json"})
    ).status_code == 415


async def test_event_logs_are_paged_and_submit_submission_carries_the_tags(
    standin: FitConnectStandIn, http: httpx.AsyncClient
) -> None:
    await standin.connector().deliver(make_envelope())
    [submission] = standin.zd.submitted()
    sender = await token(http, CLIENT_ID, CLIENT_SECRET)

    first = (
        await http.get(
            f"/v2/cases/{submission.case_id}/events",
            params={"offset": 0, "limit": 1},
            headers=sender,
        )
    ).json()
    second = (
        await http.get(
            f"/v2/cases/{submission.case_id}/events",
            params={"offset": 1, "limit": 1},
            headers=sender,
        )
    ).json()
    too_many = await http.get(
        f"/v2/cases/{submission.case_id}/events", params={"limit": 501}, headers=sender
    )

    assert (first["offset"], first["count"], first["totalCount"]) == (0, 1, 2)
    assert (second["offset"], second["count"]) == (1, 1)
    assert too_many.status_code == 400
    claims = json.loads(jws.extract_compact(second["eventLog"][0].encode()).payload)
    tags = claims["events"]["https://schema.fitko.de/fit-connect/events/submit-submission"]
    assert tags["authenticationTags"]["metadata"] == submission.encrypted_metadata.split(".")[4]
    assert set(tags["authenticationTags"]["attachments"]) == set(submission.announced)


async def test_routing_answers_follow_the_spec_and_are_signed(
    standin: FitConnectStandIn, http: httpx.AsyncClient
) -> None:
    standin.zd.routing.routes[(GEWERBE, "053700004004")] = standin.destination.id

    answer = (
        await http.get("/routing/routes", params={"leikaKey": GEWERBE, "ars": "053700004004"})
    ).json()

    spec = yaml.safe_load((REPO_ROOT / "tests/fakes/spec/routing-api.v2.0.0.yaml").read_text())
    schemas = spec["components"]["schemas"]
    route_result = {**schemas["route-result"], "components": {"schemas": schemas}}
    resolver_doc = json.loads(
        json.dumps(route_result).replace("#/components/schemas/", "#/components/schemas/")
    )
    Draft202012Validator(resolver_doc).validate(answer)
    [route] = answer["routes"]
    keys = KeySet.import_key_set((await http.get("/ssp/.well-known/jwks.json")).json())
    signed = json.loads(
        jws.deserialize_compact(route["destinationSignature"], keys, algorithms=["PS512"]).payload
    )
    assert signed["destinationId"] == standin.destination.id
    assert signed["submissionHost"] == standin.zd.url.removeprefix("http://")
    assert signed["services"][0]["leistungIDs"] == [LEIKA_URN]
