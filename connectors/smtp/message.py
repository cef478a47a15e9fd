"""The mail for one envelope: headers, a short text, ``envelope.json``, the form data, attachments.

Layout (RFC 2046 ``multipart/mixed``, every file base64 so its bytes survive any relay)::

    text/plain            what this is, the ids, the file list (German, for the Poststelle)
    envelope.json         the envelope's manifest, as the folder connectors write it
    data.<ext>            the form data (extension as in the folder layout)
    NN-<name>             every attachment, named as in the folder layout, in manifest order

With S/MIME the whole ``multipart/mixed`` entity is signed (optional, ``multipart/signed``) and
then encrypted (``application/pkcs7-mime; smime-type=enveloped-data``, RFC 8551 §3.3); only the
outer headers stay readable, so they carry ids and the subject, never personal data.

``Message-ID`` is ``<ozgbridge.<delivery id>@<sender's domain>>``: the same on every attempt of a
delivery, so a mail client, a Sieve ``duplicate`` rule or a human can recognise a re-delivery.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from connectors import folder_layout as layout
from connectors.smtp.options import MAX_SUBJECT_CHARS, SmtpOptions
from ozgbridge.domain import Envelope
from ozgbridge.errors import PermanentDeliveryError

# RFC 2045 token characters for type and subtype; parameters are dropped (the manifest keeps
# the exact MIME type) so nothing from the portal reaches a header unchecked.
_MIME_ESSENCE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,64}")
_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_SPACES = re.compile(r"\s+")


def message_id(envelope: Envelope, sender: str) -> str:
    """The Message-ID of every attempt of this delivery."""
    if not _ID.fullmatch(envelope.delivery_id):
        raise PermanentDeliveryError("delivery id is not usable in a Message-ID")
    return f"<ozgbridge.{envelope.delivery_id}@{sender.rpartition('@')[2]}>"


def subject(template: str, envelope: Envelope) -> str:
    """The rendered subject, one clean line of at most 200 characters."""
    text = template.format(
        service_name=envelope.service.name or envelope.service.leika_key,
        reference=envelope.reference or "-",
        application_id=envelope.application_id,
    )
    return _one_line(text)[:MAX_SUBJECT_CHARS]


def _one_line(text: str) -> str:
    # Values come from the portal: no control, format or line-separator characters in a header.
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    return _SPACES.sub(" ", cleaned).strip()


def mime_essence(mime_type: str) -> tuple[str, str]:
    """(maintype, subtype) safe for a header; ``application/octet-stream`` if not a MIME type."""
    essence = mime_type.split(";", 1)[0].strip()
    if not _MIME_ESSENCE.fullmatch(essence):
        return "application", "octet-stream"
    maintype, _, subtype = essence.lower().partition("/")
    return maintype, subtype


def summary(envelope: Envelope, message_id_value: str) -> str:
    """The text part: enough for a person in the Poststelle to see what arrived, no form content."""
    service = envelope.service
    lines = [
        "Über ozgbridge ist ein Online-Antrag eingegangen.",
        "",
        f"Leistung:          {_one_line(service.name or '-')} (LeiKa {service.leika_key})",
        f"Behörde:           {_one_line(envelope.tenant_name)}",
        f"Region (ARS):      {envelope.region.ars}",
        f"Aktenzeichen:      {_one_line(envelope.reference or '-')}",
        f"Antrags-ID:        {envelope.application_id}",
        f"Zustellungs-ID:    {envelope.delivery_id} (Versuch {envelope.attempt})",
        f"Eingegangen (UTC): {envelope.submitted_at.isoformat()}",
        "",
        "Anhänge:",
        f"  {layout.MANIFEST_NAME}  Metadaten, Größe und SHA-256 jeder Datei",
        f"  data.{layout.file_extension(envelope.data.mime_type)}  Antragsdaten",
    ]
    lines += [f"  {name}" for name in layout.attachment_names(envelope)]
    if envelope.attempt > 1:
        lines += [
            "",
            "Hinweis: erneute Zustellung. Eine Nachricht mit derselben Message-ID",
            f"{message_id_value} kann bereits eingegangen sein; sie ist inhaltsgleich.",
        ]
    return "\n".join(lines) + "\n"


def content_entity(envelope: Envelope, message_id_value: str) -> EmailMessage:
    """The ``multipart/mixed`` entity with the text and every file (no addressing headers)."""
    entity = EmailMessage(policy=SMTP)
    text = summary(envelope, message_id_value)
    entity.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    entity.add_attachment(
        layout.manifest_bytes(envelope), "application", "json", filename=layout.MANIFEST_NAME
    )
    maintype, subtype = mime_essence(envelope.data.mime_type)
    data_name = f"data.{layout.file_extension(envelope.data.mime_type)}"
    entity.add_attachment(envelope.data.content, maintype, subtype, filename=data_name)
    for name, attachment in zip(
        layout.attachment_names(envelope), envelope.attachments, strict=True
    ):
        maintype, subtype = mime_essence(attachment.mime_type)
        entity.add_attachment(attachment.content, maintype, subtype, filename=name)
    for part in entity.iter_parts():
        del part["MIME-Version"]  # the email package repeats it in every part; once is enough
    return entity


def outer_headers(
    message: EmailMessage,
    envelope: Envelope,
    options: SmtpOptions,
    *,
    message_id_value: str,
    now: datetime,
) -> None:
    """Addressing and tracing headers: readable by every relay, so ids only."""
    message["From"] = options.sender
    message["To"] = ", ".join(options.recipients)
    message["Subject"] = subject(options.subject, envelope)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id_value
    # RFC 3834: a machine wrote this; vacation responders must not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Ozgbridge-Application-Id"] = envelope.application_id
    message["X-Ozgbridge-Delivery-Id"] = envelope.delivery_id
    message["X-Ozgbridge-Attempt"] = str(envelope.attempt)


def to_bytes(entity: EmailMessage) -> bytes:
    """The entity in canonical form: CRLF line ends, 7-bit, lines of at most 78 characters."""
    return entity.as_bytes(policy=SMTP)
