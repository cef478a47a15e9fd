"""The fitconnect connector against the fake Zustelldienst: what arrives, and how failures map."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from connectors.fitconnect import client as client_module
from ozgbridge.connector import Connector
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError
from ozgbridge.testing.factories import make_envelope
from tests.fakes.zustelldienst import encryption_jwk, rsa_key
from tests.integration.fitconnect.support import (
    GEWERBE,
    FitConnectStandIn,
    official_validator,
    open_submission,
    service,
)


async def test_submission_decrypts_with_another_library_and_follows_the_official_schema(
    standin: FitConnectStandIn,
) -> None:
    envelope = make_envelope()

    receipt = await standin.connector().deliver(envelope)

    [submission] = standin.zd.submitted()
    assert receipt.remote_reference == (
        f"submission:{submission.id}/case:{submission.case_id}/destination:{standin.destination.id}"
    )
    opened = open_submission(submission)
    assert opened.data == envelope.data.content
    assert [content for _, content, _ in opened.attachments] == [
        a.content for a in envelope.attachments
    ]
    kid = standin.destination.encryption_key["kid"]
    for header in [opened.data_header, *(h for _, _, h in opened.attachments)]:
        assert header["alg"] == "RSA-OAEP-256"
        assert header["enc"] == "A256GCM"
        assert header["kid"] == kid
        assert "cty" in header
        assert "zip" not in header
    assert opened.data_header["cty"] == "application/json"
    document = opened.metadata
    # The newest version both sides know (the fake destination lists 1.0.0 and 2.1.0), named.
    assert document["$schema"] == (
        "https://schema.fitko.de/fit-connect/metadata/2.1.0/metadata.schema.json"
    )
    official_validator(document).validate(document)
    structure = document["contentStructure"]
    assert structure["data"]["hash"]["content"] == _sha512(envelope.data.content)
    assert structure["data"]["submissionSchema"]["schemaUri"] == envelope.data.schema_uri
    assert [
        (e["purpose"], e["mimeType"], e["hash"]["content"]) for e in structure["attachments"]
    ] == [(a.purpose, a.mime_type, _sha512(a.content)) for a in envelope.attachments]
    assert sorted(submission.announced) == sorted(submission.attachments)
    assert submission.public_service == {
        "identifier": f"urn:de:fim:leika:leistung:{GEWERBE}",
        "name": "Gewerbeanmeldung",
    }
    # Heinsberg's ARS lies in the Kreis region the destination lists for the service.
    assert submission.region == "urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:rs:05370"


def _sha512(content: bytes) -> str:
    return hashlib.sha512(content).hexdigest()


async def test_token_is_cached_and_refreshed_once_when_refused(standin: FitConnectStandIn) -> None:
    connector = standin.connector()
    await connector.deliver(make_envelope())
    await connector.deliver(make_envelope())
    assert standin.zd.token_requests == 1

    standin.zd.revoke_tokens()
    await connector.deliver(make_envelope())

    assert standin.zd.token_requests == 2
    assert standin.zd.refused_tokens == 1
    assert len(standin.zd.submitted()) == 3


async def test_expired_token_is_renewed_before_use(
    standin: FitConnectStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin.zd.token_lifetime = 60
    connector = standin.connector()
    await connector.deliver(make_envelope())

    # Later than the token's lifetime (the fake refuses it by then, too).
    later = time.monotonic() + 61
    monkeypatch.setattr(client_module, "_clock", lambda: later)
    for token, (client, expiry) in list(standin.zd.tokens.items()):
        standin.zd.tokens[token] = (client, expiry - 61)
    await connector.deliver(make_envelope())

    assert standin.zd.token_requests == 2
    assert standin.zd.refused_tokens == 0


async def test_wrong_client_secret_is_permanent(standin: FitConnectStandIn) -> None:
    connector = standin.connector(client_secret="not-the-secret")

    with pytest.raises(PermanentDeliveryError, match="client credentials refused"):
        await connector.deliver(make_envelope())


async def test_inactive_destination_is_permanent(standin: FitConnectStandIn) -> None:
    standin.destination.status = "inactive"

    with pytest.raises(PermanentDeliveryError, match="'inactive', not active"):
        await standin.connector().deliver(make_envelope())

    assert standin.zd.submissions == {}


async def test_service_or_schema_not_accepted_is_permanent(standin: FitConnectStandIn) -> None:
    connector = standin.connector()
    other_schema = make_envelope().data.model_copy(update={"schema_uri": "urn:other:schema:1"})

    with pytest.raises(PermanentDeliveryError, match="does not accept the data's schema"):
        await connector.deliver(make_envelope(data=other_schema))
    standin.destination.public_services = [service(leika_key="99036008007000")]
    with pytest.raises(PermanentDeliveryError, match="does not accept service"):
        await connector.deliver(make_envelope())

    assert standin.zd.submissions == {}


@pytest.mark.parametrize(("status", "retry_after"), [(429, 7), (500, None), (502, None), (503, 7)])
async def test_rate_limits_and_server_errors_are_retriable(
    standin: FitConnectStandIn, status: int, retry_after: float | None
) -> None:
    # Retry-After counts where HTTP defines it for an error (429, 503), as for the http connector.
    standin.zd.fail_next(status, headers={"Retry-After": "7"})

    with pytest.raises(RetriableDeliveryError) as caught:
        await standin.connector().deliver(make_envelope())

    assert caught.value.status_code == status
    assert caught.value.retry_after == retry_after


async def test_unreachable_service_is_retriable(standin: FitConnectStandIn) -> None:
    connector = standin.connector(
        submission_api_url="http://127.0.0.1:9", token_url="http://127.0.0.1:9/t"
    )

    with pytest.raises(RetriableDeliveryError, match="ConnectError"):
        await connector.deliver(make_envelope())


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"alg": "RSA-OAEP"}, "alg"),
        ({"key_ops": ["encrypt"]}, "wrapKey"),
        ({"e": "Aw"}, "exponent"),
    ],
)
async def test_keys_outside_the_rules_are_refused(
    standin: FitConnectStandIn, change: dict[str, object], reason: str
) -> None:
    standin.destination.encryption_key = {**standin.destination.encryption_key, **change}

    with pytest.raises(PermanentDeliveryError, match=reason):
        await standin.connector().deliver(make_envelope())


async def test_short_key_is_refused(standin: FitConnectStandIn) -> None:
    standin.destination.encryption_key = encryption_jwk(rsa_key("short", 2048))

    with pytest.raises(PermanentDeliveryError, match="2048 bits"):
        await standin.connector().deliver(make_envelope())

    assert standin.zd.submissions == {}


def _certificate(subject: str, public_key: object, issuer: str, signer: object) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    )


async def test_production_checks_the_certificate_chain(standin: FitConnectStandIn) -> None:
    ca_key = rsa_key("test-ca", 2048).raw_value
    ca = _certificate("Test CA", ca_key.public_key(), "Test CA", ca_key)
    destination_key = rsa_key("destination-encryption").raw_value
    leaf = _certificate("Destination", destination_key.public_key(), "Test CA", ca_key)
    chain = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in (leaf,)]
    trusted = ca.public_bytes(serialization.Encoding.PEM).decode()
    stranger_key = rsa_key("stranger-ca", 2048).raw_value
    stranger = _certificate("Stranger", stranger_key.public_key(), "Stranger", stranger_key)
    untrusted = stranger.public_bytes(serialization.Encoding.PEM).decode()

    without_chain = standin.connector(production=True, trusted_certificates=trusted)
    with pytest.raises(PermanentDeliveryError, match="no x5c"):
        await without_chain.deliver(make_envelope())
    standin.destination.encryption_key = {**standin.destination.encryption_key, "x5c": chain}
    strange = standin.connector(production=True, trusted_certificates=untrusted)
    with pytest.raises(PermanentDeliveryError, match="trusted certificate"):
        await strange.deliver(make_envelope())
    await standin.connector(production=True, trusted_certificates=trusted).deliver(make_envelope())

    assert len(standin.zd.submitted()) == 1


def routed(standin: FitConnectStandIn) -> Connector[Any]:
    return standin.connector(
        destination_id=None,
        routing_api_url=f"{standin.zd.url}/routing",
        routing_jwks_url=f"{standin.zd.url}/ssp/.well-known/jwks.json",
    )


async def test_destination_found_by_routing_api_and_cached(standin: FitConnectStandIn) -> None:
    envelope = make_envelope()
    standin.zd.routing.routes[(GEWERBE, envelope.region.ars)] = standin.destination.id
    connector = routed(standin)

    await connector.deliver(envelope)
    await connector.deliver(make_envelope())

    assert len(standin.zd.submitted()) == 2
    assert standin.zd.requests.count(("GET", "/routing/routes")) == 1
    unknown = make_envelope(
        service=envelope.service.model_copy(update={"leika_key": "99036008007000"})
    )
    with pytest.raises(PermanentDeliveryError, match="names 0 destinations"):
        await connector.deliver(unknown)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ({"signer_name": "impostor-portal"}, "does not verify"),
        ({"claim_overrides": {"submissionHost": "submission-api.evil.invalid"}}, "host"),
        ({"claim_overrides": {"destinationId": "00000000-0000-4000-8000-000000000000"}}, "another"),
        ({"claim_overrides": {"services": []}}, "does not list the service"),
    ],
)
async def test_routing_answers_are_used_only_when_their_signature_vouches_for_them(
    standin: FitConnectStandIn, tamper: dict[str, Any], reason: str
) -> None:
    envelope = make_envelope()
    standin.zd.routing.routes[(GEWERBE, envelope.region.ars)] = standin.destination.id
    for name, value in tamper.items():
        setattr(standin.zd.routing, name, value)

    with pytest.raises(PermanentDeliveryError, match=reason):
        await routed(standin).deliver(envelope)

    assert standin.zd.submissions == {}


# A route test (`routes test`, `POST .../test`) checks how far a delivery would get, and submits
# nothing: a ping must not land in an authority's inbox.


async def test_a_route_test_reads_the_destination_and_its_key_and_submits_nothing(
    standin: FitConnectStandIn,
) -> None:
    receipt = await standin.connector().check()

    assert standin.zd.submissions == {}
    assert receipt.status_code == 200
    assert receipt.detail is not None
    assert f"destination {standin.destination.id} active for 1 service(s)" in receipt.detail
    assert standin.destination.encryption_key["kid"] in receipt.detail


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ("inactive", "'inactive', not active"),
        ("secret", "client credentials refused"),
        ("key", "encryption key of destination .* refused"),
    ],
)
async def test_a_route_test_fails_where_a_delivery_would(
    standin: FitConnectStandIn, broken: str, expected: str
) -> None:
    overrides: dict[str, Any] = {}
    if broken == "inactive":
        standin.destination.status = "inactive"
    elif broken == "secret":
        overrides["client_secret"] = "not-the-secret"
    else:  # a key too short to be accepted
        standin.destination.encryption_key = encryption_jwk(rsa_key("weak", bits=2048))
    with pytest.raises(PermanentDeliveryError, match=expected):
        await standin.connector(**overrides).check()
    assert standin.zd.submissions == {}


async def test_a_route_test_with_the_routing_api_checks_the_credentials_only(
    standin: FitConnectStandIn,
) -> None:
    receipt = await routed(standin).check()
    assert receipt.detail is not None
    assert "token obtained" in receipt.detail
    with pytest.raises(PermanentDeliveryError, match="client credentials refused"):
        await standin.connector(
            destination_id=None,
            client_secret="not-the-secret",
            routing_api_url=f"{standin.zd.url}/routing",
            routing_jwks_url=f"{standin.zd.url}/ssp/.well-known/jwks.json",
        ).check()
    assert standin.zd.submissions == {}
