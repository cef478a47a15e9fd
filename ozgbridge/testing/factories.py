"""Envelopes for connector tests, built straight from the domain models.

The defaults carry recognisable personal data (`PERSONAL_DATA`), so tests can assert that none of
it shows up in logs or error details, and attachment bytes that are hard on transports: every byte
value, CR/LF, NULs, a line that looks like a multipart boundary, and a larger random blob.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

from ozgbridge.domain import AttachmentData, Envelope, FormData, RegionRef, ServiceRef
from ozgbridge.ids import new_id

# Strings that are personal data in the default envelope; none may appear in logs or details.
PERSONAL_DATA = ("Mustermann", "Heideweg", "Erika")

FORM_DATA = json.dumps(
    {
        "antragsteller": {
            "vorname": "Erika",
            "nachname": "Mustermann",
            "anschrift": "Heideweg 7, 52525 Heinsberg",
        },
        "betrieb": {"bezeichnung": "Gaststätte Zur Linde", "beginn": "2024-07-01"},
    },
    ensure_ascii=False,
).encode("utf-8")

AWKWARD_PDF = (
    b"%PDF-1.7\n"
    + bytes(range(256))
    + b"\r\n--ozgbridge-boundary\r\n\r\n"
    + b"\x00" * 64
    + b"\n%%EOF\r\n"
)


def make_attachment(**overrides: Any) -> AttachmentData:
    fields: dict[str, Any] = {
        "id": new_id(),
        "filename": "Personalausweis Erika Mustermann.pdf",
        "mime_type": "application/pdf",
        "purpose": "attachment",
        "content": AWKWARD_PDF,
    }
    fields.update(overrides)
    return AttachmentData(**fields)


def make_envelope(**overrides: Any) -> Envelope:
    """An envelope for Stadt Heinsberg with form data and two attachments; override any field."""
    fields: dict[str, Any] = {
        "application_id": new_id(),
        "delivery_id": new_id(),
        "attempt": 1,
        "tenant_id": "heinsberg",
        "tenant_name": "Stadt Heinsberg",
        "route_id": "gewerbe",
        "service": ServiceRef(leika_key="99050012104000", name="Gewerbeanmeldung"),
        "region": RegionRef.of(ags="05370016"),
        "reference": "HS-2024-000123",
        "submitted_at": datetime(2024, 6, 3, 9, 15, 0, tzinfo=UTC),
        "data": FormData(
            mime_type="application/json",
            schema_uri="urn:xoev-de:example:gewerbeanmeldung:1.0",
            content=FORM_DATA,
        ),
        "attachments": (
            make_attachment(),
            make_attachment(
                filename="Grundriss Gaststätte Heideweg.jpg",
                mime_type="image/jpeg",
                # Fixed seed: the same awkward bytes on every run; not for secrets.
                content=random.Random(4711).randbytes(200_000),  # noqa: S311
            ),
        ),
    }
    fields.update(overrides)
    return Envelope(**fields)
