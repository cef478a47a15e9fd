"""The subscriber's checks against submissions other senders could leave at the Zustelldienst:
unknown metadata schemas, an event log without submit-submission, no data, PEM keys, paging,
fragmented attachments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.fitconnect import events, intake, limits, metadata
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.store.tables import applications, attachments
from ozgbridge.testing.factories import make_envelope
from tests.integration.fitconnect.bridge import ENV, running, write_config
from tests.integration.fitconnect.support import (
    SCHEMA_URI,
    FitConnectStandIn,
    inject,
    jwcrypto_decrypt,
)
from tests.integration.fitconnect.test_intake import answered, engine_for, rows
from tests.sealed import stored

__all__ = ["engine_for"]  # the fixture, shared with test_intake
PROBLEMS = "https://schema.fitko.de/fit-connect/events/problems/"
REJECT = "https://schema.fitko.de/fit-connect/events/reject-submission"


@pytest.fixture(autouse=True)
def secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def document(version: str = "2.1.0", *, data: bytes | None = b"{}") -> dict[str, Any]:
    structure: dict[str, Any] = {"attachments": []}
    if data is not None:
        structure["data"] = {
            "hash": {"type": "sha512", "content": metadata.sha512_hex(data)},
            "submissionSchema": {"schemaUri": SCHEMA_URI, "mimeType": "application/json"},
        }
    return {"$schema": metadata.schema_uri(version), "contentStructure": structure}


def problem_of(standin: FitConnectStandIn, case_id: str) -> dict[str, Any]:
    claims = standin.zd.event_claims(case_id, "reject-submission")
    [problem] = claims["events"][REJECT]["problems"]
    return dict(problem)


@pytest.mark.parametrize(
    ("change", "name", "instance"),
    [
        ({"$schema": metadata.schema_uri("9.0.0")}, "unsupported-metadata-schema", "metadata"),
        ({"contentStructure": {"attachments": "x"}}, "schema-violation", "metadata"),
    ],
)
async def test_metadata_is_checked_against_the_schema_it_names(
    database_url: str,
    standin: FitConnectStandIn,
    tmp_path: Path,
    change: dict[str, Any],
    name: str,
    instance: str,
) -> None:
    config = write_config(tmp_path, standin.zd, intake_destination=standin.destination.id)
    submission = inject(
        standin.zd, standin.destination, document={**document(), **change}, data=b"{}"
    )

    async with running(config, database_url, tmp_path / "var"):
        assert await answered(standin.zd, submission) == "reject-submission"

    problem = problem_of(standin, submission.case_id)
    assert (problem["type"], problem["instance"]) == (PROBLEMS + name, instance)


async def test_without_a_submit_submission_event_nothing_is_believed(
    database_url: str, engine_for: AsyncEngine, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    config = write_config(tmp_path, standin.zd, intake_destination=standin.destination.id)
    submission = inject(
        standin.zd, standin.destination, document=document(), data=b"{}", submit_event=False
    )

    async with running(config, database_url, tmp_path / "var"):
        assert await answered(standin.zd, submission) == "reject-submission"

    problem = problem_of(standin, submission.case_id)
    assert (problem["type"], problem["instance"]) == (PROBLEMS + "invalid-event-log", "submission")
    assert await rows(engine_for, select(applications)) == []


async def test_metadata_1_allows_a_submission_without_data(
    database_url: str, engine_for: AsyncEngine, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    config = write_config(tmp_path, standin.zd, intake_destination=standin.destination.id)
    pdf = b"%PDF-1.7 only an attachment " * 40
    attachment_id = "0b5e4a6c-1d2e-4f3a-8b9c-0d1e2f3a4b5c"
    meta = document("1.0.0", data=None)
    meta["contentStructure"]["attachments"] = [
        {
            "attachmentId": attachment_id,
            "hash": {"type": "sha512", "content": metadata.sha512_hex(pdf)},
            "purpose": "form",
            "mimeType": "application/pdf",
        }
    ]
    submission = inject(
        standin.zd, standin.destination, document=meta, data=None, attachments={attachment_id: pdf}
    )

    async with running(config, database_url, tmp_path / "var"):
        assert await answered(standin.zd, submission) == "accept-submission"

    [app] = await rows(engine_for, select(applications))
    assert app.data_mime_type == "application/octet-stream"
    [stored] = await rows(engine_for, select(attachments))
    assert stored.purpose == "form"
    accepted = standin.zd.event_claims(submission.case_id, "accept-submission")
    tags = accepted["events"]["https://schema.fitko.de/fit-connect/events/accept-submission"]
    assert "data" not in tags["authenticationTags"]


async def test_pem_keys_with_configured_kids_decrypt_and_sign_accepted_events(
    database_url: str, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, standin.zd, intake_destination=standin.destination.id, pem_keys=True
    )
    await standin.connector().deliver(make_envelope())
    [submission] = standin.zd.submitted()

    async with running(config, database_url, tmp_path / "var"):
        # The fake refuses a SET whose kid is not a signature key of the destination.
        assert await answered(standin.zd, submission) == "accept-submission"

    assert not [r for r in standin.zd.refusals if r[0].endswith("/events")]


async def test_submission_lists_and_event_logs_are_read_page_by_page(
    database_url: str,
    standin: FitConnectStandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(intake, "_PAGE_LIMIT", 1)
    monkeypatch.setattr(events, "PAGE_LIMIT", 1)
    config = write_config(tmp_path, standin.zd, intake_destination=standin.destination.id)
    for _ in range(3):
        await standin.connector().deliver(make_envelope())

    async with running(config, database_url, tmp_path / "var"):
        for submission in standin.zd.submitted():
            assert await answered(standin.zd, submission) == "accept-submission"

    event_reads = [r for r in standin.zd.requests if r[1].endswith("/events") and r[0] == "GET"]
    # Each log (create, submit) takes two pages of one event, plus the empty end.
    assert len(event_reads) >= 3 * 2


async def test_fragmented_attachments_travel_and_are_reassembled(
    database_url: str,
    engine_for: AsyncEngine,
    standin: FitConnectStandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sealer: Sealer,
) -> None:
    # FIT-Connect's 200 MB upload limit, shrunk: the envelope's 200 kB photo needs 4 fragments.
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", 64 * 1024)
    monkeypatch.setattr(limits, "FRAGMENT_BYTES", 60 * 1024)
    standin.zd.max_upload_bytes = 64 * 1024
    envelope = make_envelope()
    await standin.connector().deliver(envelope)
    [submission] = standin.zd.submitted()
    config = write_config(tmp_path, standin.zd, intake_destination=standin.destination.id)

    assert submission.encrypted_metadata is not None
    meta = json.loads(jwcrypto_decrypt(submission.encrypted_metadata)[0])
    fragmented = [e for e in meta["contentStructure"]["attachments"] if "fragments" in e]
    assert [len(e["fragments"]) for e in fragmented] == [4]
    assert len(submission.announced) == 1 + 4

    async with running(config, database_url, tmp_path / "var"):
        assert await answered(standin.zd, submission) == "accept-submission"

    [app] = await rows(engine_for, select(applications))
    opened = await stored(engine_for, sealer, app.id)  # sealed at rest: open to compare
    assert sorted(content for _, content in opened.attachments) == sorted(
        a.content for a in envelope.attachments
    )
