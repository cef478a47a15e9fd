"""The fitconnect intake: submissions to a configured destination become routed applications.

The sending side is the product's own fitconnect connector pointed at the destination, as
another installation's portal would send; the intake runs inside a real ozgbridge process.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jwcrypto import jwe as jw_jwe
from jwcrypto import jwk as jw_jwk
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.dataprotection.purge import purge
from ozgbridge.domain import utcnow
from ozgbridge.settings import Settings
from ozgbridge.store.engine import create_engine
from ozgbridge.store.tables import applications, audit_events, deliveries, idempotency_keys
from ozgbridge.tenants import load_deployment
from ozgbridge.testing.factories import PERSONAL_DATA, make_envelope
from tests.fakes.zd_rules import authentication_tags
from tests.fakes.zustelldienst import FakeSubmission, Zustelldienst, rsa_key
from tests.integration.fitconnect.bridge import ENV, running, write_config
from tests.integration.fitconnect.support import FitConnectStandIn, service


@pytest.fixture(autouse=True)
def secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
async def engine_for(database_url: str) -> Any:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def answered(zd: Zustelldienst, submission: FakeSubmission, timeout: float = 10) -> str:
    async with asyncio.timeout(timeout):
        while True:
            names = zd.event_names(submission.case_id)
            for name in ("accept-submission", "reject-submission"):
                if name in names:
                    return name
            await asyncio.sleep(0.05)


async def rows(engine: AsyncEngine, query: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def test_submission_is_stored_routed_delivered_and_accepted(
    database_url: str, engine_for: AsyncEngine, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    zd = standin.zd
    config = write_config(tmp_path, zd, intake_destination=standin.destination.id)
    envelope = make_envelope()
    await standin.connector().deliver(envelope)
    [submission] = zd.submitted()

    async with running(config, database_url, tmp_path / "var") as bridge:
        assert await answered(zd, submission) == "accept-submission"
        [app] = await rows(engine_for, select(applications))
        await bridge.until(app.id, lambda v: v["status"] == "delivered")

    assert app.tenant_id == "erkelenz"
    assert app.submitted_by == f"fitconnect:{standin.destination.id}"
    assert app.leika_key == "99050012104000"
    assert app.reference == submission.id
    drop = tmp_path / "var" / "dropbox" / "erkelenz" / app.id
    assert (drop / "data.json").read_bytes() == envelope.data.content
    delivered = sorted(p.read_bytes() for p in (drop / "attachments").iterdir())
    assert delivered == sorted(a.content for a in envelope.attachments)
    claims = zd.event_claims(submission.case_id, "accept-submission")
    assert claims["iss"] == standin.destination.id
    tags = claims["events"]["https://schema.fitko.de/fit-connect/events/accept-submission"]
    assert tags["authenticationTags"]["data"] == submission.encrypted_data.split(".")[4]
    assert set(tags["authenticationTags"]["attachments"]) == set(submission.announced)


def _tamper(submission: FakeSubmission) -> None:
    """Swap one attachment for other bytes, properly encrypted: only its hash can tell."""
    attachment_id = submission.announced[0]
    public = jw_jwk.JWK(**rsa_key("destination-encryption").as_dict(private=False))
    header = {
        "alg": "RSA-OAEP-256",
        "enc": "A256GCM",
        "kid": public["kid"],
        "cty": "application/pdf",
    }
    token = jw_jwe.JWE(b"%PDF forged" * 100, protected=json.dumps(header))
    token.add_recipient(public)
    submission.attachments[attachment_id] = token.serialize(compact=True)


def _rewrite_submit_event(zd: Zustelldienst, submission: FakeSubmission) -> None:
    """The Zustelldienst's submit-submission event as if the sender had uploaded what the
    submission now holds (tags consistent: only the hashes in the metadata can tell)."""
    assert submission.encrypted_metadata is not None
    assert submission.encrypted_data is not None
    payload = authentication_tags(
        submission.encrypted_metadata, submission.encrypted_data, submission.attachments
    )
    submission.tags = payload["authenticationTags"]
    zd.events[submission.case_id] = [
        zd.sign_event(submission, "create-submission", {}, zd.key),
        zd.sign_event(submission, "submit-submission", payload, zd.key),
    ]


@pytest.mark.parametrize(
    ("consistent_log", "problem_name"),
    [
        # Swapped at the Zustelldienst after submitting: the event log's tag gives it away.
        (False, "incorrect-authentication-tag"),
        # Sent like that (log consistent): only the hash in the metadata gives it away.
        (True, "hash-mismatch"),
    ],
)
async def test_tampered_attachment_is_rejected_and_nothing_stored(
    database_url: str,
    engine_for: AsyncEngine,
    standin: FitConnectStandIn,
    tmp_path: Path,
    consistent_log: bool,
    problem_name: str,
) -> None:
    zd = standin.zd
    config = write_config(tmp_path, zd, intake_destination=standin.destination.id)
    await standin.connector().deliver(make_envelope())
    [submission] = zd.submitted()
    _tamper(submission)
    if consistent_log:
        _rewrite_submit_event(zd, submission)

    async with running(config, database_url, tmp_path / "var"):
        assert await answered(zd, submission) == "reject-submission"

    claims = zd.event_claims(submission.case_id, "reject-submission")
    [problem] = claims["events"]["https://schema.fitko.de/fit-connect/events/reject-submission"][
        "problems"
    ]
    # Exactly the catalogue's type, and the instance naming the attachment.
    assert problem["type"] == f"https://schema.fitko.de/fit-connect/events/problems/{problem_name}"
    assert problem["instance"] == f"attachment:{submission.announced[0]}"
    assert await rows(engine_for, select(applications)) == []
    assert await rows(engine_for, select(deliveries)) == []
    [rejected] = await rows(
        engine_for,
        select(audit_events).where(audit_events.c.action == "fitconnect.submission_rejected"),
    )
    details = json.loads(rejected.details)
    assert details["problem"] == problem_name
    assert details["submission_id"] == submission.id
    assert not any(word in rejected.details for word in PERSONAL_DATA)
    assert (await audit.verify(engine_for)).ok


async def test_stored_before_accepting_and_never_twice(
    database_url: str, engine_for: AsyncEngine, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    zd = standin.zd
    config = write_config(tmp_path, zd, intake_destination=standin.destination.id)
    await standin.connector().deliver(make_envelope())
    [submission] = zd.submitted()
    zd.event_posts_failing = 2  # the accept fails twice: stored, but still listed

    async with running(config, database_url, tmp_path / "var"):
        assert await answered(zd, submission) == "accept-submission"

    count = select(func.count()).select_from(applications)
    assert (await rows(engine_for, count))[0][0] == 1
    assert zd.event_names(submission.case_id).count("accept-submission") == 1


async def test_stored_long_ago_and_still_listed_is_not_stored_again(
    database_url: str, engine_for: AsyncEngine, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    # The Zustelldienst takes no events for weeks: the submission is stored, never accepted, and
    # stays listed while retention runs past the idempotency window.
    zd = standin.zd
    config = write_config(tmp_path, zd, intake_destination=standin.destination.id)
    await standin.connector().deliver(make_envelope())
    [submission] = zd.submitted()
    zd.event_posts_failing = 1_000_000
    count = select(func.count()).select_from(applications)
    async with running(config, database_url, tmp_path / "var"):
        async with asyncio.timeout(10):
            while (await rows(engine_for, count))[0][0] == 0:
                await asyncio.sleep(0.05)
    async with engine_for.begin() as conn:
        await conn.execute(
            update(idempotency_keys).values(created_at=utcnow() - timedelta(days=30))
        )
    settings = Settings(database_url=database_url, config_dir=config)
    report = await purge(engine_for, load_deployment(config), settings, actor="test")
    assert report.idempotency_records == 0

    zd.event_posts_failing = 0
    async with running(config, database_url, tmp_path / "var"):
        assert await answered(zd, submission) == "accept-submission"

    assert (await rows(engine_for, count))[0][0] == 1


async def test_callback_for_new_submissions_wakes_the_intake(
    database_url: str, engine_for: AsyncEngine, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    zd = standin.zd
    config = write_config(tmp_path, zd, intake_destination=standin.destination.id)
    text = (
        (config / "fitconnect.yaml").read_text().replace("poll_interval: 0.2", "poll_interval: 300")
    )
    (config / "fitconnect.yaml").write_text(text)

    async with running(config, database_url, tmp_path / "var") as bridge:
        standin.destination.callback = (
            f"{bridge.url}/v1/fitconnect/callbacks",
            ENV["FC_CALLBACK_SECRET"],
        )
        await standin.connector().deliver(make_envelope())
        [submission] = zd.submitted()
        assert await answered(zd, submission, timeout=5) == "accept-submission"

    assert zd.callbacks_sent[-1][1] == 202


async def test_routing_follows_the_deployment_like_portal_intake(
    database_url: str, engine_for: AsyncEngine, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    # Kfz-Zulassung in Erkelenz is the Kreis's (responsible_for), as for a portal submission.
    kfz = "99036008007000"
    standin.destination.public_services.append(service(leika_key=kfz))
    zd = standin.zd
    config = write_config(tmp_path, zd, intake_destination=standin.destination.id)
    envelope = make_envelope()
    await standin.connector().deliver(
        envelope.model_copy(
            update={"service": envelope.service.model_copy(update={"leika_key": kfz})}
        )
    )
    [submission] = zd.submitted()

    async with running(config, database_url, tmp_path / "var"):
        assert await answered(zd, submission) == "accept-submission"

    [app] = await rows(engine_for, select(applications))
    assert (app.tenant_id, app.leika_key, app.ars) == ("kreis-heinsberg", kfz, "053700004004")
