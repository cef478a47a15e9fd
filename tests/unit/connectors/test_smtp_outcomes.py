"""SMTP replies and client errors → what happens to the delivery (RFC 5321 §4.2.1, RFC 3463)."""

from __future__ import annotations

import ssl

import aiosmtplib
import pytest

from connectors.smtp.replies import (
    Command,
    enhanced_status,
    refused_recipients_error,
    reply_outcome,
    translate,
)
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError

R, P = "retriable", "permanent"
TARGET = "the mail server mx.example:587"

REPLY_TABLE: list[tuple[int, str, Command, str]] = [
    # transient negative completion: always worth another attempt
    (421, "4.3.2 Service shutting down", "connect", R),
    (450, "4.2.1 Mailbox busy", "RCPT", R),
    (451, "4.3.0 Local error", "DATA", R),
    (452, "4.5.3 Too many recipients", "RCPT", R),
    (454, "4.7.0 Temporary authentication failure", "AUTH", R),
    (454, "TLS not available due to temporary reason", "STARTTLS", R),
    # permanent negative completion
    (550, "5.1.1 User unknown", "RCPT", P),
    (551, "5.1.6 User not local", "RCPT", P),
    (553, "5.1.8 Sender address rejected", "MAIL", P),
    (554, "5.7.1 Message rejected as spam", "DATA", P),
    (554, "No SMTP service here", "connect", P),
    (535, "5.7.8 Authentication credentials invalid", "AUTH", P),
    (530, "5.7.0 Authentication required", "MAIL", P),
    (552, "5.3.4 Message size exceeds fixed limit", "MAIL", P),
    (552, "5.3.4 Message too big", "DATA", P),
    (501, "5.5.4 Syntax error", "EHLO", P),
    # the exceptions RFC 5321 and RFC 3463 make
    (552, "5.5.3 Too many recipients", "RCPT", R),  # RFC 5321 §4.5.3.1.10
    (552, "Requested mail action aborted", "RCPT", R),
    (552, "5.2.2 Mailbox full", "DATA", R),  # RFC 3463 X.2.2
    (550, "5.2.2 Mailbox full", "RCPT", R),
    # not a failure code where a failure came: a protocol error, try again
    (250, "OK", "DATA", R),
    (354, "go ahead", "MAIL", R),
    (600, "weird", "DATA", R),
    (-1, "connection lost", "DATA", R),
]


@pytest.mark.parametrize(("code", "text", "command", "expected"), REPLY_TABLE)
def test_reply_outcome_table(code: int, text: str, command: Command, expected: str) -> None:
    assert reply_outcome(code, enhanced_status(text), command) == expected


@pytest.mark.parametrize(
    ("text", "enhanced"),
    [
        ("5.1.1 <erika@example.org> unknown", "5.1.1"),
        (" 4.7.0 later", "4.7.0"),
        ("2.0.0 Ok: queued", "2.0.0"),
        ("550 5.1.1 duplicated code", None),
        ("5.1 too short", None),
        ("3.1.1 not a class", None),
        ("User unknown", None),
        ("", None),
    ],
)
def test_enhanced_status_is_read_from_the_start_of_the_text(
    text: str, enhanced: str | None
) -> None:
    assert enhanced_status(text) == enhanced


@pytest.mark.parametrize(
    ("exc", "error", "detail"),
    [
        (
            aiosmtplib.SMTPDataError(451, "4.3.0 try later"),
            RetriableDeliveryError,
            "the mail server mx.example:587 answered 451 4.3.0 to DATA",
        ),
        (
            aiosmtplib.SMTPSenderRefused(553, "5.1.8 bad sender", "a@b.example"),
            PermanentDeliveryError,
            "the mail server mx.example:587 answered 553 5.1.8 to MAIL",
        ),
        (
            aiosmtplib.SMTPAuthenticationError(535, "5.7.8 Authentication failed"),
            PermanentDeliveryError,
            "the mail server mx.example:587 answered 535 5.7.8 to AUTH",
        ),
        (
            aiosmtplib.SMTPHeloError(501, "Syntax"),
            PermanentDeliveryError,
            "the mail server mx.example:587 answered 501 to EHLO",
        ),
        (
            aiosmtplib.SMTPConnectResponseError(554, "no service"),
            PermanentDeliveryError,
            "the mail server mx.example:587 answered 554 to connect",
        ),
        (
            aiosmtplib.SMTPResponseException(454, "4.7.0 TLS not available"),
            RetriableDeliveryError,
            "the mail server mx.example:587 answered 454 4.7.0 to STARTTLS",
        ),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [
                    aiosmtplib.SMTPRecipientRefused(550, "5.1.1 unknown", "erika@example.org"),
                    aiosmtplib.SMTPRecipientRefused(450, "4.2.1 busy", "max@example.org"),
                ]
            ),
            RetriableDeliveryError,
            "the mail server mx.example:587 refused all 2 recipients (450 4.2.1, 550 5.1.1)",
        ),
        (
            aiosmtplib.SMTPServerDisconnected("Connection lost"),
            RetriableDeliveryError,
            "SMTPServerDisconnected talking to the mail server mx.example:587: Connection lost",
        ),
        (
            aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"),
            RetriableDeliveryError,
            "no answer from the mail server mx.example:587 within 30 s",
        ),
        (
            aiosmtplib.SMTPException("SMTP STARTTLS extension not supported by server."),
            RetriableDeliveryError,
            "SMTPException talking to the mail server mx.example:587: "
            "SMTP STARTTLS extension not supported by server.",
        ),
        (
            aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server"),
            RetriableDeliveryError,
            "the mail server mx.example:587 does not offer what the route needs (STARTTLS or AUTH)",
        ),
        (ConnectionRefusedError(111, "refused"), RetriableDeliveryError, None),
        (
            TimeoutError(),
            RetriableDeliveryError,
            "no answer from the mail server mx.example:587 within 30 s",
        ),
    ],
)
def test_client_errors_translate_once(
    exc: aiosmtplib.SMTPException | OSError, error: type[Exception], detail: str | None
) -> None:
    translated = translate(exc, target=TARGET, timeout=30)

    assert type(translated) is error
    if detail is not None:
        assert translated.detail == detail
    assert "erika" not in translated.detail
    assert "max@" not in translated.detail
    if isinstance(exc, aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused):
        # The server's words are kept apart for operators, never in the logged detail.
        assert translated.response_excerpt
        assert translated.response_excerpt.split()[0].isdigit()


def test_tls_failures_are_found_behind_the_wrapping_error() -> None:
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "self-signed certificate"
    wrapped = aiosmtplib.SMTPConnectError("Error connecting to 127.0.0.1 on port 465")
    wrapped.__cause__ = verify

    translated = translate(wrapped, target=TARGET, timeout=30)

    assert isinstance(translated, RetriableDeliveryError)
    assert translated.detail == (
        "the TLS certificate of the mail server mx.example:587 is not trusted "
        "(self-signed certificate)"
    )
    handshake = ssl.SSLError(1, "wrong version")
    handshake.reason = "WRONG_VERSION_NUMBER"
    assert translate(handshake, target=TARGET, timeout=30).detail == (
        "TLS with the mail server mx.example:587 failed (WRONG_VERSION_NUMBER)"
    )


def test_all_recipients_permanently_refused_is_permanent() -> None:
    error = refused_recipients_error([(550, "5.1.1 unknown"), (553, "5.1.3 bad")], target=TARGET)

    assert isinstance(error, PermanentDeliveryError)
    assert error.status_code == 550
    assert error.response_excerpt == "550 5.1.1 unknown\n553 5.1.3 bad"
