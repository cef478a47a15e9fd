"""The mail's headers and parts, built without a server."""

from __future__ import annotations

import pytest

from connectors.smtp.message import message_id, mime_essence, subject, summary
from connectors.smtp.options import DEFAULT_SUBJECT
from ozgbridge.errors import PermanentDeliveryError
from ozgbridge.testing.factories import PERSONAL_DATA, make_envelope


def test_default_subject_names_service_and_application_only() -> None:
    envelope = make_envelope()

    text = subject(DEFAULT_SUBJECT, envelope)

    assert text == f"Online-Antrag Gewerbeanmeldung ({envelope.application_id})"
    assert not any(word in text for word in PERSONAL_DATA)


def test_subject_fields_and_their_fallbacks() -> None:
    envelope = make_envelope(reference=None)
    envelope = envelope.model_copy(
        update={"service": envelope.service.model_copy(update={"name": None})}
    )

    text = subject("{reference} {service_name} {application_id} {{literal}}", envelope)

    assert text == f"- 99050012104000 {envelope.application_id} {{literal}}"


def test_subject_is_one_clean_line_of_bounded_length() -> None:
    envelope = make_envelope(reference="A\r\nBcc: x@y.de\x00\u202e\u2029" + "z" * 500)

    text = subject("{reference}", envelope)

    assert text.startswith("A Bcc: x@y.de z")
    assert len(text) == 200
    assert not any(ch in text for ch in "\r\n\x00\u202e\u2029")


def test_message_id_is_the_same_on_every_attempt_and_differs_per_delivery() -> None:
    first = make_envelope()
    retry = first.model_copy(update={"attempt": 7})

    assert message_id(first, "ozg@kreis.example") == message_id(retry, "ozg@kreis.example")
    assert message_id(first, "ozg@kreis.example") == (
        f"<ozgbridge.{first.delivery_id}@kreis.example>"
    )
    assert message_id(make_envelope(), "ozg@kreis.example") != message_id(
        first, "ozg@kreis.example"
    )
    with pytest.raises(PermanentDeliveryError, match="Message-ID"):
        message_id(make_envelope(delivery_id="a b>"), "ozg@kreis.example")


@pytest.mark.parametrize(
    ("mime_type", "essence"),
    [
        ("application/pdf", ("application", "pdf")),
        ("Application/PDF; name=x.pdf", ("application", "pdf")),
        ("image/svg+xml", ("image", "svg+xml")),
        ("", ("application", "octet-stream")),
        ("text/plain\r\nX-Injected: 1", ("application", "octet-stream")),
        ("pdf", ("application", "octet-stream")),
        ("a/b/c", ("application", "octet-stream")),
    ],
)
def test_mime_types_reach_headers_only_when_well_formed(
    mime_type: str, essence: tuple[str, str]
) -> None:
    assert mime_essence(mime_type) == essence


def test_summary_lists_the_files_and_marks_redeliveries() -> None:
    envelope = make_envelope()

    first = summary(envelope, "<m@x>")
    again = summary(envelope.model_copy(update={"attempt": 2}), "<m@x>")

    assert "  data.json  Antragsdaten" in first
    assert "  02-Grundriss Gaststätte Heideweg.jpg" in first
    assert "Heideweg 7" not in first
    assert "erneute Zustellung" not in first
    assert "erneute Zustellung" in again
    assert "<m@x>" in again
