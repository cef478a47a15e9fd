"""Portal → ozgbridge → FIT-Connect, and back: the destination's verdict in the status history.

A real process (`run_service`: API, worker, intakes) on a real database talks to the fake
Zustelldienst on a real socket. The submission is decrypted with jwcrypto (the product uses
joserfc) and its metadata validated against the official schema file.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ozgbridge import audit
from ozgbridge.store.engine import create_engine
from ozgbridge.store.tables import audit_events
from tests.fakes.zustelldienst import callback_signature, rsa_key
from tests.integration.fitconnect.bridge import (
    CALLBACK_SECRET,
    ENV,
    ERKELENZ_ARS,
    GEWERBE,
    SCHEMA_URI,
    Bridge,
    running,
    write_config,
)
from tests.integration.fitconnect.support import (
    FitConnectStandIn,
    official_validator,
    open_submission,
)

FORM = json.dumps({"betrieb": {"bezeichnung": "Bäckerei Mustermann"}}, ensure_ascii=False).encode()
PDF = b"%PDF-1.7\n" + bytes(range(256)) + b"\n%%EOF\n"


@pytest.fixture(autouse=True)
def secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def portal_body() -> dict[str, Any]:
    return {
        "service": {"leikaKey": GEWERBE, "name": "Gewerbeanmeldung"},
        "region": {"ars": ERKELENZ_ARS},
        "reference": "HS-FC-1",
        "data": {
            "mimeType": "application/json",
            "schemaUri": SCHEMA_URI,
            "contentBase64": base64.b64encode(FORM).decode(),
        },
        "attachments": [
            {
                "filename": "nachweis.pdf",
                "mimeType": "application/pdf",
                "purpose": "attachment",
                "contentBase64": base64.b64encode(PDF).decode(),
            },
            {
                "filename": "antrag.pdf",
                "mimeType": "application/pdf",
                "purpose": "form",
                "contentBase64": base64.b64encode(b"%PDF form").decode(),
            },
        ],
    }


async def delivered_submission(
    bridge: Bridge, standin: FitConnectStandIn
) -> tuple[str, dict[str, Any]]:
    application_id = await bridge.submit(portal_body())
    view = await bridge.until(application_id, lambda v: v["status"] == "delivered")
    return application_id, view


async def test_portal_application_arrives_complete_at_the_destination(
    database_url: str, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    config = write_config(tmp_path, standin.zd, sender_destination=standin.destination.id)

    async with running(config, database_url, tmp_path / "var") as bridge:
        application_id, view = await delivered_submission(bridge, standin)

    [submission] = standin.zd.submitted()
    [delivery] = view["deliveries"]
    assert delivery["connector"] == "fitconnect"
    assert delivery["remoteReference"].startswith(f"submission:{submission.id}/")
    opened = open_submission(submission)
    assert opened.data == FORM
    assert [c for _, c, _ in opened.attachments] == [PDF, b"%PDF form"]
    assert [e["purpose"] for e, _, _ in opened.attachments] == ["attachment", "form"]
    official_validator(opened.metadata).validate(opened.metadata)
    reference = opened.metadata["additionalReferenceInfo"]["senderReference"]
    assert reference == f"{application_id}/{delivery['id']}"
    assert submission.callback == {
        "url": "https://bridge.example/v1/fitconnect/callbacks",
        "secret": CALLBACK_SECRET,
    }


def _signed_by_destination(standin: FitConnectStandIn, name: str, payload: dict[str, Any]) -> None:
    [submission] = standin.zd.submitted()
    token = standin.zd.sign_event(submission, name, payload, rsa_key("destination-signature"))
    standin.zd.log_event(submission, token)


async def test_accept_and_reject_become_status_history(
    database_url: str, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    config = write_config(tmp_path, standin.zd, sender_destination=standin.destination.id)

    async with running(config, database_url, tmp_path / "var") as bridge:
        application_id, _ = await delivered_submission(bridge, standin)
        problem = {
            "type": "https://schema.fitko.de/fit-connect/events/problems/missing-data",
            "title": "Fachdaten fehlen",
            "detail": "free text the destination wrote",
            "instance": "data",
        }
        _signed_by_destination(standin, "reject-submission", {"problems": [problem]})
        await _callback(bridge, {"type": "new-events", "caseIds": ["x"]})
        view = await bridge.until(application_id, lambda v: v["statusHistory"])

    [entry] = view["statusHistory"]
    assert (view["status"], view["processingStatus"]) == ("delivered", "rejected")
    assert entry["status"] == "rejected"
    assert entry["source"] == f"fitconnect:{standin.destination.id}"
    assert entry["detail"]["problems"] == [{k: problem[k] for k in ("type", "title", "instance")}]


async def _callback(
    bridge: Bridge, document: dict[str, Any], *, secret: str = CALLBACK_SECRET, age: int = 0
) -> int:
    raw = json.dumps(document).encode()
    timestamp = str(int(time.time()) - age)
    headers = {
        "callback-authentication": callback_signature(secret, timestamp, raw),
        "callback-timestamp": timestamp,
        "Content-Type": "application/json",
    }
    async with bridge.http.post("/v1/fitconnect/callbacks", data=raw, headers=headers) as answer:
        return answer.status


async def test_accept_by_the_destination(
    database_url: str, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    config = write_config(tmp_path, standin.zd, sender_destination=standin.destination.id)

    async with running(config, database_url, tmp_path / "var") as bridge:
        application_id, _ = await delivered_submission(bridge, standin)
        _signed_by_destination(standin, "accept-submission", {"authenticationTags": {}})
        view = await bridge.until(application_id, lambda v: v["statusHistory"])

    assert [e["status"] for e in view["statusHistory"]] == ["confirmed"]
    assert (view["status"], view["processingStatus"]) == ("delivered", "confirmed")


async def test_event_with_a_bad_signature_is_refused_and_audited(
    database_url: str, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    config = write_config(tmp_path, standin.zd, sender_destination=standin.destination.id)

    async with running(config, database_url, tmp_path / "var") as bridge:
        application_id, _ = await delivered_submission(bridge, standin)
        [submission] = standin.zd.submitted()
        forged = standin.zd.sign_event(
            submission, "accept-submission", {}, rsa_key("destination-signature")
        )
        head, payload, _ = forged.split(".")
        # Another valid-looking signature: made by a key the destination never published.
        impostor = standin.zd.sign_event(submission, "accept-submission", {}, rsa_key("impostor"))
        standin.zd.log_event(submission, f"{head}.{payload}.{impostor.split('.')[2]}")
        await _callback(bridge, {"type": "new-events"})
        engine = create_engine(database_url)
        try:
            async with asyncio.timeout(10):
                while not await _refusals(engine):
                    await asyncio.sleep(0.05)
            refusals = await _refusals(engine)
            view = await bridge.application(application_id)
            assert (await audit.verify(engine)).ok
        finally:
            await engine.dispose()

    assert view["statusHistory"] == []
    [refusal] = refusals
    assert refusal["case_id"] == submission.case_id
    assert "signature" in refusal["reason"]


async def _refusals(engine: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_events.c.details).where(
                    audit_events.c.action == "fitconnect.event_refused"
                )
            )
        ).all()
    return [json.loads(row.details) for row in rows]


async def test_callbacks_must_be_authentic_and_fresh(
    database_url: str, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    config = write_config(tmp_path, standin.zd, sender_destination=standin.destination.id)

    async with running(config, database_url, tmp_path / "var") as bridge:
        good = await _callback(bridge, {"type": "new-events"})
        wrong_secret = await _callback(bridge, {"type": "new-events"}, secret="guessed")
        old = await _callback(bridge, {"type": "new-events"}, age=301)
        async with bridge.http.post("/v1/fitconnect/callbacks", data=b"{}") as unsigned:
            missing = unsigned.status

    assert (good, wrong_secret, old, missing) == (202, 401, 401, 401)


async def test_busy_zustelldienst_is_retried_and_inactive_destination_goes_dead(
    database_url: str, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    config = write_config(tmp_path, standin.zd, sender_destination=standin.destination.id)

    async with running(config, database_url, tmp_path / "var") as bridge:
        standin.zd.fail_next(429)
        standin.zd.fail_next(503)
        busy = await bridge.submit(portal_body())
        retried = await bridge.until(busy, lambda v: v["status"] in ("delivered", "dead"))
        standin.destination.status = "inactive"
        hopeless = await bridge.submit(portal_body())
        dead = await bridge.until(hopeless, lambda v: v["status"] in ("delivered", "dead"))

    assert retried["status"] == "delivered"
    assert retried["deliveries"][0]["attempts"] == 3
    assert dead["status"] == "dead"
    assert dead["deliveries"][0]["attempts"] == 1
    assert "inactive" in dead["deliveries"][0]["lastError"]
