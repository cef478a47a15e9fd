"""POST /v1/applications/{id}/status: each rule and role, on both engines."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from tests.integration.api.status_support import NOTE, audit_details, report, submit, view
from tests.integration.api.support import Api, auth


async def test_the_current_tenant_reports_and_everyone_who_sees_it_sees_the_history(
    api_db: Api,
) -> None:
    application_id = await submit(api_db)

    with capture_logs() as logs:
        answer = await report(
            api_db,
            application_id,
            "erkelenz-staff",
            status="information_required",
            note=NOTE,
            fileReference="32-2026-0815",
        )

    assert answer.status == 202, await answer.text()
    accepted = await answer.json()
    assert set(accepted) == {"id", "status", "applicationId", "tenant", "applicationStatus"}
    assert (accepted["status"], accepted["applicationId"], accepted["tenant"]) == (
        "information_required",
        application_id,
        "erkelenz",
    )
    for key in ("portal-a", "erkelenz-staff", "operator"):
        seen = await view(api_db, application_id, key)
        assert seen["processingStatus"] == "information_required"
        [entry] = seen["statusHistory"]
        assert entry["id"] == accepted["id"]
        assert (entry["status"], entry["note"], entry["fileReference"], entry["source"]) == (
            "information_required",
            NOTE,
            "32-2026-0815",
            "key:erkelenz-staff",
        )
        # ozgbridge's own delivery status is a separate thing
        assert seen["status"] == "received"
    # the note is personal data: stored and shown, never logged or audited
    assert "Mustermann" not in repr(logs)
    assert "application.status_reported" in {entry["event"] for entry in logs}
    audited = await audit_details(api_db.engine)
    [(_, details)] = [a for a in audited if a[0] == "application.status"]
    assert json.loads(details)["status"] == "information_required"
    assert json.loads(details)["note_chars"] == len(NOTE)
    assert not any("Mustermann" in d or "32-2026-0815" in d for _, d in audited)


async def test_statuses_follow_one_another(api_db: Api) -> None:
    application_id = await submit(api_db)
    for code in ("confirmed", "in_progress", "information_required", "in_progress", "completed"):
        answer = await report(api_db, application_id, "erkelenz-staff", status=code)
        assert answer.status == 202, await answer.text()

    seen = await view(api_db, application_id)

    assert seen["processingStatus"] == "completed"
    assert [e["status"] for e in seen["statusHistory"]] == [
        "confirmed",
        "in_progress",
        "information_required",
        "in_progress",
        "completed",
    ]


@pytest.mark.parametrize("closed", ["completed", "rejected", "withdrawn"])
async def test_after_a_closing_status_only_an_operator_may_set_another(
    api: Api, closed: str
) -> None:
    application_id = await submit(api)
    assert (await report(api, application_id, "erkelenz-staff", status=closed)).status == 202

    refused = await report(api, application_id, "erkelenz-staff", status="in_progress")
    corrected = await report(
        api, application_id, "operator", status="in_progress", note="Korrektur"
    )

    assert refused.status == 409
    assert refused.content_type == "application/problem+json"
    problem = await refused.json()
    assert problem["type"] == "urn:ozgbridge:problem:status-conflict"
    assert closed in problem["detail"]
    assert "operator" in problem["detail"]
    assert corrected.status == 202
    seen = await view(api, application_id)
    assert [e["status"] for e in seen["statusHistory"]] == [closed, "in_progress"]
    assert seen["statusHistory"][1]["source"] == "key:operator"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"status": "approved"}, "status"),
        ({}, "status"),
        ({"status": "confirmed", "note": "x" * 2001}, "note"),
        ({"status": "confirmed", "note": ""}, "note"),
        ({"status": "confirmed", "note": "bell\x07"}, "note"),
        ({"status": "confirmed", "fileReference": "AZ\n1"}, "fileReference"),
        ({"status": "confirmed", "fileReference": "x" * 201}, "fileReference"),
        ({"status": "in_progress", "forwardTo": {"ags": "05370000"}}, "body"),
        ({"status": "not_responsible", "forwardTo": {"ags": "0537"}}, "forwardTo.ags"),
        ({"status": "not_responsible", "forwardTo": {}}, "forwardTo"),
        ({"status": "confirmed", "comment": "typo"}, "comment"),
    ],
)
async def test_invalid_reports_are_422_and_change_nothing(
    api: Api, document: dict[str, object], field: str
) -> None:
    application_id = await submit(api)

    answer = await report(api, application_id, "erkelenz-staff", **document)

    assert answer.status == 422
    problem = await answer.json()
    assert problem["type"] == "urn:ozgbridge:problem:validation"
    assert field in {error["field"] for error in problem["errors"]}
    seen = await view(api, application_id)
    assert (seen["processingStatus"], seen["statusHistory"]) == (None, [])


async def test_a_note_of_exactly_2000_characters_with_line_breaks_is_taken(api: Api) -> None:
    application_id = await submit(api)
    note = ("Zeile\n" * 400)[:2000]

    answer = await report(api, application_id, "erkelenz-staff", status="confirmed", note=note)

    assert answer.status == 202
    assert (await view(api, application_id))["statusHistory"][0]["note"] == note


async def test_broken_json_and_wrong_media_type(api: Api) -> None:
    application_id = await submit(api)
    url = f"/v1/applications/{application_id}/status"

    broken = await api.client.post(
        url,
        data=b'{"status": ',
        headers={**auth("erkelenz-staff"), "Content-Type": "application/json"},
    )
    text = await api.client.post(
        url,
        data=b"status=confirmed",
        headers={**auth("erkelenz-staff"), "Content-Type": "text/plain"},
    )

    assert (broken.status, text.status) == (400, 415)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("erkelenz-staff", 202),  # the tenant it is with
        ("operator", 202),
        ("gangelt-staff", 404),  # another tenant: as if it did not exist
        ("kreis-staff", 404),  # the Kreis above it is another tenant too
        ("portal-a", 403),  # the portal that submitted it sees it, but reports nothing
        ("portal-b", 403),
        ("coordinator", 403),
    ],
)
async def test_who_may_report(api_db: Api, key: str, expected: int) -> None:
    application_id = await submit(api_db)

    answer = await report(api_db, application_id, key, status="confirmed")

    assert answer.status == expected, await answer.text()
    history = (await view(api_db, application_id))["statusHistory"]
    assert len(history) == (1 if expected == 202 else 0)


async def test_unknown_application_and_no_key(api: Api) -> None:
    unknown = await report(api, "01JD0000000000000000000000", "operator", status="confirmed")
    not_an_id = await report(api, "nonsense", "operator", status="confirmed")
    anonymous = await api.client.post(
        "/v1/applications/01JD0000000000000000000000/status", json={"status": "confirmed"}
    )

    assert (unknown.status, not_an_id.status, anonymous.status) == (404, 404, 401)


async def test_status_codes_are_listed_in_the_openapi_document(api: Api) -> None:
    document = await (await api.client.get("/v1/openapi.json")).json()

    schema = document["components"]["schemas"]["ProcessingStatus"]
    assert schema["enum"] == [
        "confirmed",
        "in_progress",
        "information_required",
        "completed",
        "rejected",
        "withdrawn",
        "not_responsible",
    ]
    operation = document["paths"]["/v1/applications/{id}/status"]["post"]
    assert set(operation["responses"]) >= {"202", "403", "404", "409", "422"}


async def test_a_retried_report_with_an_idempotency_key_is_recorded_once(api_db: Api) -> None:
    application_id = await submit(api_db)
    headers = {**auth("erkelenz-staff"), "Idempotency-Key": "fv-report-0815"}
    url = f"/v1/applications/{application_id}/status"
    document = {"status": "in_progress", "note": NOTE}

    first = await api_db.client.post(url, json=document, headers=headers)
    again = await api_db.client.post(url, json=document, headers=headers)
    other = await api_db.client.post(url, json={"status": "completed"}, headers=headers)

    assert (first.status, again.status) == (202, 202)
    assert await again.json() == await first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert other.status == 409
    assert (await other.json())["type"] == "urn:ozgbridge:problem:idempotency-key-reused"
    history = (await view(api_db, application_id))["statusHistory"]
    assert [e["status"] for e in history] == ["in_progress"]


async def test_the_same_idempotency_key_for_another_application_is_another_request(
    api: Api,
) -> None:
    one, two = await submit(api), await submit(api)
    headers = {**auth("erkelenz-staff"), "Idempotency-Key": "same-key"}

    first = await api.client.post(
        f"/v1/applications/{one}/status", json={"status": "confirmed"}, headers=headers
    )
    second = await api.client.post(
        f"/v1/applications/{two}/status", json={"status": "confirmed"}, headers=headers
    )

    assert (first.status, second.status) == (202, 409)
