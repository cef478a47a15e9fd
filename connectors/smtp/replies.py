"""What an SMTP failure means for the delivery: the one place aiosmtplib errors are translated.

Reply codes follow RFC 5321 §4.2.1: ``4yz`` is a transient failure (retriable), ``5yz`` a
permanent one, with two exceptions where trying again is known to help:

- ``552`` to ``RCPT`` means "too many recipients" and is to be treated as temporary
  (RFC 5321 §4.5.3.1.10);
- enhanced status ``X.2.2`` "mailbox full" (RFC 3463 §3.3) may succeed once the mailbox is emptied.

A reply outside ``4yz``/``5yz`` where a failure was expected is a protocol error (retriable), as
are lost connections, timeouts and TLS failures: the network and certificates can be fixed without
touching the application. Details name the server, the command, the code and the enhanced status
only; the reply texts (which may echo addresses) go into the error's ``response_excerpt``.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable
from typing import Literal

import aiosmtplib

from ozgbridge.egress import EgressRefused
from ozgbridge.errors import DeliveryError, PermanentDeliveryError, RetriableDeliveryError

Command = Literal["connect", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA"]
Outcome = Literal["retriable", "permanent"]

_MAX_MESSAGE = 200
EXCERPT_CHARS = 1024
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


def enhanced_status(text: str) -> str | None:
    """The RFC 3463 enhanced status code a reply text starts with, e.g. ``5.1.1``."""
    match = _ENHANCED.match(text)
    return ".".join(match.groups()) if match else None


def reply_outcome(code: int, enhanced: str | None, command: Command) -> Outcome:
    """Whether a failing reply ``code`` (with enhanced status) to ``command`` merits a retry."""
    if not 500 <= code < 600:
        return "retriable"  # 4yz, or not a failure code at all: a protocol hiccup
    if code == 552 and command == "RCPT":
        return "retriable"
    if enhanced is not None and enhanced.split(".", 1)[1] == "2.2":
        return "retriable"
    return "permanent"


def _error(outcome: Outcome, detail: str, code: int | None, excerpt: str | None) -> DeliveryError:
    # The reply texts go into the excerpt only, which is kept for operators and never logged.
    excerpt = excerpt[:EXCERPT_CHARS] if excerpt else None
    if outcome == "retriable":
        return RetriableDeliveryError(detail, status_code=code, response_excerpt=excerpt)
    return PermanentDeliveryError(detail, status_code=code, response_excerpt=excerpt)


def reply_error(code: int, text: str, command: Command, *, target: str) -> DeliveryError:
    enhanced = enhanced_status(text)
    shown = f"{code} {enhanced}" if enhanced else str(code)
    return _error(
        reply_outcome(code, enhanced, command),
        f"{target} answered {shown} to {command}",
        code,
        f"{code} {text}",
    )


def refused_recipients_error(replies: Iterable[tuple[int, str]], *, target: str) -> DeliveryError:
    """Every recipient refused: retriable if any refusal is, since one mailbox may accept later."""
    texts = list(replies)
    judged = [
        (code, enhanced_status(text), reply_outcome(code, enhanced_status(text), "RCPT"))
        for code, text in texts
    ]
    codes = sorted(
        {f"{code} {enhanced}" if enhanced else str(code) for code, enhanced, _ in judged}
    )
    outcome: Outcome = "retriable" if any(o == "retriable" for *_, o in judged) else "permanent"
    return _error(
        outcome,
        f"{target} refused all {len(judged)} recipients ({', '.join(codes)})",
        judged[0][0] if judged else None,
        "\n".join(f"{code} {text}" for code, text in texts),
    )


def _command_of(exc: aiosmtplib.SMTPResponseException) -> Command:
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return "connect"
    if isinstance(exc, aiosmtplib.SMTPHeloError):
        return "EHLO"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return "AUTH"
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return "MAIL"
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return "RCPT"
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return "DATA"
    # aiosmtplib raises the plain class for the remaining commands, of which a delivery sends
    # only STARTTLS (QUIT errors are swallowed after the mail is accepted).
    return "STARTTLS"


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def translate(
    exc: aiosmtplib.SMTPException | OSError | TimeoutError, *, target: str, timeout: float
) -> DeliveryError:
    """The `DeliveryError` for anything sending a mail raised; callers ``raise … from exc``.

    ``target`` names the server (``the mail server host:port``) in the details.
    """
    if isinstance(exc, EgressRefused):  # the route is wrong: trying again cannot help
        return PermanentDeliveryError(f"{target}: {exc}")
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        replies = ((r.code, r.message) for r in exc.recipients)
        return refused_recipients_error(replies, target=target)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return reply_error(exc.code, exc.message, _command_of(exc), target=target)
    tls = _tls_failure(exc)
    if isinstance(tls, ssl.SSLCertVerificationError):
        return RetriableDeliveryError(
            f"the TLS certificate of {target} is not trusted ({tls.verify_message})"
        )
    if tls is not None:
        return RetriableDeliveryError(
            f"TLS with {target} failed ({tls.reason or type(tls).__name__})"
        )
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return RetriableDeliveryError(f"no answer from {target} within {timeout:g} s")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        # A server that stopped offering STARTTLS (or AUTH) may be misconfigured for a while;
        # sending without would be worse, so wait and try again.
        return RetriableDeliveryError(
            f"{target} does not offer what the route needs (STARTTLS or AUTH)"
        )
    if isinstance(exc, aiosmtplib.SMTPException):
        # aiosmtplib's own words (server replies were handled above): no personal data.
        return RetriableDeliveryError(
            f"{type(exc).__name__} talking to {target}: {exc.message[:_MAX_MESSAGE]}"
        )
    return RetriableDeliveryError(f"{type(exc).__name__} talking to {target}")
