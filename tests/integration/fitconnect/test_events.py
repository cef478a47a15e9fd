"""Reading a case's event log: which Security Event Tokens are believed."""

from __future__ import annotations

import uuid

import pytest

from connectors.fitconnect import events
from connectors.fitconnect.client import FitConnectClient
from connectors.fitconnect.events import EventVerifier
from ozgbridge.testing.factories import make_envelope
from tests.fakes.zustelldienst import (
    CLIENT_ID,
    CLIENT_SECRET,
    encryption_jwk,
    rsa_key,
    signature_jwk,
)
from tests.integration.fitconnect.support import FitConnectStandIn


async def read_log(standin: FitConnectStandIn) -> tuple[list[str], list[str]]:
    [submission] = standin.zd.submitted()
    client = FitConnectClient(
        api_url=standin.zd.url,
        token_url=f"{standin.zd.url}/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        timeout=5,
    )
    try:
        log, length = await EventVerifier(client).read(
            case_id=submission.case_id,
            submission_id=submission.id,
            destination_id=submission.destination_id,
        )
    finally:
        await client.aclose()
    assert length == len(log.verified) + len(log.refused)
    return [e.name for e in log.verified], [r.reason for r in log.refused]


async def test_service_and_destination_events_verify_with_their_own_keys(
    standin: FitConnectStandIn,
) -> None:
    await standin.connector().deliver(make_envelope())
    [submission] = standin.zd.submitted()
    destination_key = rsa_key("destination-signature")
    token = standin.zd.sign_event(submission, "accept-submission", {}, destination_key)
    standin.zd.log_event(submission, token)

    verified, refused = await read_log(standin)

    assert verified == ["create-submission", "submit-submission", "accept-submission"]
    assert refused == []


async def test_forged_misdirected_and_unknown_key_events_are_refused(
    standin: FitConnectStandIn,
) -> None:
    await standin.connector().deliver(make_envelope())
    await standin.connector().deliver(make_envelope())
    first, second = standin.zd.submitted()
    destination_key = rsa_key("destination-signature")
    # Properly signed, but about another submission: replayed into this case's log.
    standin.zd.log_event(
        first, standin.zd.sign_event(second, "accept-submission", {}, destination_key)
    )
    # Signed by a key the destination never published (a kid nobody knows).
    standin.zd.log_event(first, standin.zd.sign_event(first, "reject-submission", {}, rsa_key("x")))
    # The Zustelldienst's issuer, but not its key.
    impostor = rsa_key("impostor")
    forged = standin.zd.sign_event(
        first, "submit-submission", {}, impostor, issuer="https://api.fitko.de/fit-connect/"
    )
    standin.zd.log_event(first, forged)
    # Signed by a real destination's key, but not this case's destination.
    standin.zd.log_event(
        first,
        standin.zd.sign_event(
            first, "accept-submission", {}, destination_key, issuer=str(uuid.uuid4())
        ),
    )
    standin.zd.submissions.pop(second.id)

    verified, refused = await read_log(standin)

    assert verified == ["create-submission", "submit-submission"]
    assert len(refused) == 4
    assert "another submission" in refused[0]
    assert "another destination" in refused[3]


async def test_reply_events_of_the_case_are_genuine_but_decide_nothing(
    standin: FitConnectStandIn,
) -> None:
    await standin.connector().deliver(make_envelope())
    [submission] = standin.zd.submitted()
    reply = f"reply:{uuid.uuid4()}"
    destination_key = rsa_key("destination-signature")
    standin.zd.log_event(
        submission,
        standin.zd.sign_event(submission, "accept-submission", {}, destination_key, subject=reply),
    )
    # The replying side's own destination may sign events about its reply.
    replier = standin.zd.add_destination(
        encryption_key=encryption_jwk(rsa_key("replier-encryption")),
        public_services=[],
        signature_keys=[signature_jwk(rsa_key("replier-signature"))],
    )
    standin.zd.log_event(
        submission,
        standin.zd.sign_event(
            submission,
            "submit-reply",
            {},
            rsa_key("replier-signature"),
            issuer=replier.id,
            subject=reply,
        ),
    )

    verified, refused = await read_log(standin)

    assert verified == [
        "create-submission",
        "submit-submission",
        "accept-submission",
        "submit-reply",
    ]
    assert refused == []


async def test_long_logs_are_read_page_by_page(
    standin: FitConnectStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "PAGE_LIMIT", 2)
    await standin.connector().deliver(make_envelope())
    [submission] = standin.zd.submitted()
    for _ in range(3):
        standin.zd.log_event(
            submission, standin.zd.sign_event(submission, "notify-submission", {}, standin.zd.key)
        )

    verified, refused = await read_log(standin)

    assert len(verified) == 5
    assert refused == []
    reads = [
        r for r in standin.zd.requests if r == ("GET", f"/v2/cases/{submission.case_id}/events")
    ]
    assert len(reads) == 3
