"""The SMTP connector against a real aiosmtpd server on 127.0.0.1 (STARTTLS, AUTH, S/MIME)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError
from ozgbridge.testing.contract import ConnectorContract
from ozgbridge.testing.factories import FORM_DATA, PERSONAL_DATA, make_attachment, make_envelope
from tests.integration.connectors.smtp_backend import (
    RECIPIENTS,
    SENDER,
    MailServer,
    parse,
    read_mail,
    unwrap,
)


async def started(tmp_path: Path, **settings: Any) -> MailServer:
    server = MailServer(tmp_path, **settings)
    await server.start()
    return server


@pytest.fixture
async def mail(tmp_path: Path) -> AsyncIterator[MailServer]:
    server = await started(tmp_path)
    yield server
    await server.close()


@pytest.fixture
async def smime_mail(tmp_path: Path) -> AsyncIterator[MailServer]:
    server = await started(tmp_path, smime=True, sign=True)
    yield server
    await server.close()


class TestSmtpContractStarttls(ConnectorContract):
    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[MailServer]:
        server = await started(tmp_path)
        yield server
        await server.close()


class TestSmtpContractImplicitTls(ConnectorContract):
    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[MailServer]:
        server = await started(tmp_path, security="tls")
        yield server
        await server.close()


class TestSmtpContractSmime(ConnectorContract):
    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[MailServer]:
        server = await started(tmp_path, smime=True, sign=True)
        yield server
        await server.close()


async def test_mail_goes_over_starttls_with_auth_and_has_the_documented_layout(
    mail: MailServer,
) -> None:
    envelope = make_envelope()

    receipt = await mail.connector().deliver(envelope)

    [got] = mail.mails
    assert got.tls is True
    assert got.authenticated is True
    assert got.mail_from == SENDER
    assert got.rcpt_tos == RECIPIENTS
    message_id = f"<ozgbridge.{envelope.delivery_id}@kreis-heinsberg.example>"
    assert receipt.remote_reference == message_id
    assert receipt.status_code == 250
    message = parse(got.content)
    assert message["From"] == SENDER
    assert message["To"] == RECIPIENTS[0]
    assert message["Message-ID"] == message_id
    assert message["Subject"] == f"Online-Antrag Gewerbeanmeldung ({envelope.application_id})"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Ozgbridge-Delivery-Id"] == envelope.delivery_id
    assert message["X-Ozgbridge-Application-Id"] == envelope.application_id
    assert message["X-Ozgbridge-Attempt"] == "1"
    assert message["Date"] is not None
    parts = list(message.iter_parts())
    assert [(p.get_content_type(), p.get_filename()) for p in parts] == [
        ("text/plain", None),
        ("application/json", "envelope.json"),
        ("application/json", "data.json"),
        ("application/pdf", "01-Personalausweis Erika Mustermann.pdf"),
        ("image/jpeg", "02-Grundriss Gaststätte Heideweg.jpg"),
    ]
    assert json.loads(parts[1].get_payload(decode=True)) == envelope.manifest()
    text = parts[0].get_content()
    assert envelope.application_id in text
    assert envelope.delivery_id in text
    assert "Gewerbeanmeldung (LeiKa 99050012104000)" in text
    assert "Heideweg 7" not in text  # the form's content stays in data.json
    # 7-bit clean with short lines, so no relay needs to (or can) rewrite a byte.
    assert max(len(line) for line in got.content.split(b"\r\n")) <= 998
    assert all(byte < 128 for byte in got.content)


async def test_outer_mail_of_an_smime_delivery_reveals_no_content(smime_mail: MailServer) -> None:
    envelope = make_envelope()

    await smime_mail.connector().deliver(envelope)

    [got] = smime_mail.mails
    message = parse(got.content)
    assert message.get_content_type() == "application/pkcs7-mime"
    assert message.get_param("smime-type") == "enveloped-data"
    assert message.get_filename() == "smime.p7m"
    assert message["Message-ID"] == f"<ozgbridge.{envelope.delivery_id}@kreis-heinsberg.example>"
    for word in (*PERSONAL_DATA, "Gewerbeanmeldung Erika", "envelope.json", "Personalausweis"):
        assert word.encode() not in got.content
    assert FORM_DATA[:40] not in got.content


def openssl(*args: str | Path) -> bytes:
    result = subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_openssl_decrypts_verifies_and_gets_every_byte(
    smime_mail: MailServer, tmp_path: Path
) -> None:
    hostile = make_attachment(filename="../../\x00..", mime_type="", content=b"\r\n.\r\n--\r\n")
    envelope = make_envelope(
        attachments=(*make_envelope().attachments, hostile, make_attachment(content=b""))
    )
    await smime_mail.connector().deliver(envelope)
    [got] = smime_mail.mails
    pki = smime_mail.pki
    (tmp_path / "mail.eml").write_bytes(got.content)
    recipient_cert, recipient_key = pki.recipient.write(tmp_path, "recipient")

    decrypted = openssl(
        "cms", "-decrypt", "-in", tmp_path / "mail.eml",
        "-recip", recipient_cert, "-inkey", recipient_key, "-binary",
    )  # fmt: skip
    (tmp_path / "signed.eml").write_bytes(decrypted)
    content = openssl(
        "cms", "-verify", "-in", tmp_path / "signed.eml", "-CAfile", smime_mail.ca_file,
        "-purpose", "any",
    )  # fmt: skip

    signer = openssl("cms", "-verify", "-in", tmp_path / "signed.eml", "-noverify",
                     "-signer", tmp_path / "signer.pem", "-out", "/dev/null")  # fmt: skip
    assert signer == b""
    assert x509.load_pem_x509_certificate((tmp_path / "signer.pem").read_bytes()) == (
        pki.signer.certificate
    )
    parts = list(parse(content).iter_parts())
    assert json.loads(parts[1].get_payload(decode=True)) == envelope.manifest()
    assert parts[2].get_payload(decode=True) == envelope.data.content
    attachments = parts[3:]
    assert [p.get_filename() for p in attachments] == [
        "01-Personalausweis Erika Mustermann.pdf",
        "02-Grundriss Gaststätte Heideweg.jpg",
        "03-file",
        "04-Personalausweis Erika Mustermann.pdf",
    ]
    for part, attachment in zip(attachments, envelope.attachments, strict=True):
        assert part.get_payload(decode=True) == attachment.content
    assert attachments[2].get_content_type() == "application/octet-stream"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_every_recipient_certificate_can_decrypt(tmp_path: Path) -> None:
    server = await started(tmp_path, smime=True)
    try:
        pki = server.pki
        recipients = [pki.recipient.cert_pem, pki.second_recipient.cert_pem]
        envelope = make_envelope()
        await server.connector(smime={"recipient_certificates": recipients}).deliver(envelope)
    finally:
        await server.close()

    [got] = server.mails
    (tmp_path / "mail.eml").write_bytes(got.content)
    for identity in (pki.recipient, pki.second_recipient):
        cert, key = identity.write(tmp_path, "r")
        decrypted = openssl("cms", "-decrypt", "-in", tmp_path / "mail.eml", "-recip", cert,
                            "-inkey", key, "-binary")  # fmt: skip
        parts = list(parse(decrypted).iter_parts())
        assert parts[2].get_payload(decode=True) == envelope.data.content
        assert parse(decrypted).get_content_type() == "multipart/mixed"  # not signed


async def test_redelivery_carries_the_same_message_id_and_says_so(mail: MailServer) -> None:
    envelope = make_envelope()
    connector = mail.connector()

    first = await connector.deliver(envelope)
    again = await connector.deliver(envelope.model_copy(update={"attempt": 2}))

    assert first.remote_reference == again.remote_reference
    one, two = (parse(m.content) for m in mail.mails)
    assert one["Message-ID"] == two["Message-ID"]
    assert (one["X-Ozgbridge-Attempt"], two["X-Ozgbridge-Attempt"]) == ("1", "2")
    assert "erneute Zustellung" not in next(one.iter_parts()).get_content()
    assert "erneute Zustellung" in next(two.iter_parts()).get_content()


async def test_subject_template_and_hostile_service_name_stay_one_header(
    mail: MailServer,
) -> None:
    envelope = make_envelope()
    envelope = envelope.model_copy(
        update={
            "service": envelope.service.model_copy(
                update={"name": "Gewerbe\r\nBcc: spy@example.org\u2028anmeldung"}
            )
        }
    )

    await mail.connector(subject="Antrag {reference} – {service_name}").deliver(envelope)

    [got] = mail.mails
    message = parse(got.content)
    assert message["Subject"] == "Antrag HS-2024-000123 – Gewerbe Bcc: spy@example.org anmeldung"
    assert message["Bcc"] is None
    assert got.rcpt_tos == RECIPIENTS


@pytest.mark.parametrize(
    ("reply", "error", "code"),
    [
        ("451 4.3.0 Temporary local problem", RetriableDeliveryError, 451),
        ("452 4.3.1 Insufficient system storage", RetriableDeliveryError, 452),
        ("554 5.6.0 Message content rejected", PermanentDeliveryError, 554),
        ("552 5.3.4 Message too big for system", PermanentDeliveryError, 552),
        ("552 5.2.2 Mailbox full", RetriableDeliveryError, 552),
    ],
)
async def test_reply_to_data_decides_the_outcome(
    mail: MailServer, reply: str, error: type[Exception], code: int
) -> None:
    mail.replies["DATA"] = reply

    with pytest.raises(error) as caught:
        await mail.connector().deliver(make_envelope())

    assert caught.value.status_code == code  # type: ignore[attr-defined]
    enhanced = reply.split()[1]
    assert caught.value.detail == (  # type: ignore[attr-defined]
        f"the mail server 127.0.0.1:{mail.port} answered {code} {enhanced} to DATA"
    )
    assert caught.value.response_excerpt == reply  # type: ignore[attr-defined]
    assert mail.mails == []


async def test_refused_recipients(mail: MailServer) -> None:
    mail.refuse_recipients = {RECIPIENTS[0]: "550 5.1.1 <poststelle@heinsberg.example> unknown"}

    with pytest.raises(PermanentDeliveryError) as caught:
        await mail.connector().deliver(make_envelope())
    assert caught.value.detail == (
        f"the mail server 127.0.0.1:{mail.port} refused all 1 recipients (550 5.1.1)"
    )
    assert "poststelle" not in caught.value.detail

    mail.refuse_recipients = {RECIPIENTS[0]: "450 4.2.1 Mailbox busy"}
    with pytest.raises(RetriableDeliveryError):
        await mail.connector().deliver(make_envelope())


async def test_one_refused_recipient_of_two_still_delivers(mail: MailServer) -> None:
    both = [RECIPIENTS[0], "gewerbe@heinsberg.example"]
    mail.refuse_recipients = {both[1]: "550 5.1.1 unknown"}

    receipt = await mail.connector(recipients=both).deliver(make_envelope())

    assert receipt.detail == "accepted for 1 of 2 recipients"
    assert [m.rcpt_tos for m in mail.mails] == [[RECIPIENTS[0]]]


async def test_wrong_password_is_permanent(mail: MailServer) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        await mail.connector(password="wrong").deliver(make_envelope())

    assert caught.value.detail.startswith(f"the mail server 127.0.0.1:{mail.port} answered 535")
    assert caught.value.detail.endswith("to AUTH")
    assert mail.mails == []


async def test_untrusted_server_certificate_is_retriable_and_sends_nothing(
    mail: MailServer, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_text(mail.pki.recipient.cert_pem)

    with pytest.raises(RetriableDeliveryError, match="is not trusted"):
        await mail.connector(ca_file=str(other_ca)).deliver(make_envelope())

    assert mail.mails == []
    assert mail.logins == 0


async def test_starttls_missing_is_retriable_and_nothing_goes_in_clear(tmp_path: Path) -> None:
    plain = await started(tmp_path, security="none")
    try:
        connector = plain.connector(
            security="starttls", allow_insecure=False, ca_file=str(plain.ca_file)
        )
        with pytest.raises(RetriableDeliveryError, match="STARTTLS"):
            await connector.deliver(make_envelope())
    finally:
        await plain.close()

    assert plain.mails == []
    assert plain.logins == 0  # the password was not sent in clear either


async def test_security_none_sends_in_clear_when_allowed(tmp_path: Path) -> None:
    plain = await started(tmp_path, security="none")
    try:
        envelope = make_envelope()
        await plain.connector().deliver(envelope)
        [got] = await plain.received()
    finally:
        await plain.close()

    assert plain.mails[0].tls is False
    assert got.attachments == tuple(a.content for a in envelope.attachments)


async def test_connection_refused_is_retriable(mail: MailServer) -> None:
    await mail.close()

    with pytest.raises(RetriableDeliveryError) as caught:
        await mail.connector().deliver(make_envelope())

    assert caught.value.__cause__ is not None


async def test_a_hanging_quit_does_not_turn_an_accepted_mail_into_a_failure(
    mail: MailServer,
) -> None:
    release = asyncio.Event()

    async def hang(server: Any, session: Any, envelope: Any) -> str:
        await release.wait()
        return "221 Bye"

    mail.handle_QUIT = hang  # type: ignore[attr-defined]
    connector = mail.connector(timeout=1.0)
    try:
        receipt = await connector.deliver(make_envelope())
    finally:
        release.set()

    assert receipt.status_code == 250
    assert len(mail.mails) == 1


async def test_received_mail_reads_back_like_the_contract_expects(smime_mail: MailServer) -> None:
    envelope = make_envelope()
    await smime_mail.connector().deliver(envelope)

    got = read_mail(smime_mail.mails[0].content, smime_mail.pki)
    inner = unwrap(smime_mail.mails[0].content, smime_mail.pki)

    assert got.delivery_id == envelope.delivery_id
    assert inner.get_content_type() == "multipart/mixed"
