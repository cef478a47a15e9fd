"""Request validation that needs no server: field rules, contents, and error locations."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from ozgbridge.api.problems import field_errors, field_path
from ozgbridge.api.schemas import ApplicationIn, is_json_mime_type

PDF_B64 = "JVBERi0xLjQ="  # "%PDF-1.4"


def request(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "service": {"leikaKey": "99050012104000"},
        "region": {"ars": "053700004004"},
        "data": {"mimeType": "application/json", "content": {"a": 1}},
        "attachments": [
            {"filename": "a.pdf", "mimeType": "application/pdf", "contentBase64": PDF_B64}
        ],
    }
    document.update(changes)
    return document


def parse(document: dict[str, Any], max_attachments: int = 10) -> ApplicationIn:
    return ApplicationIn.model_validate_json(
        json.dumps(document), context={"max_attachments": max_attachments}
    )


def errors(document: dict[str, Any], max_attachments: int = 10) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        parse(document, max_attachments)
    return {e.field: e.message for e in field_errors(caught.value.errors())}


def with_filename(name: str) -> dict[str, Any]:
    return request(
        attachments=[{"filename": name, "mimeType": "application/pdf", "contentBase64": PDF_B64}]
    )


def test_json_content_is_stored_compact_utf8() -> None:
    parsed = parse(
        request(data={"mimeType": "application/json", "content": {"x": "ä ö", "n": [1, 2.5]}})
    )

    assert parsed.data.payload == '{"x":"ä ö","n":[1,2.5]}'.encode()


def test_base64_content_is_decoded() -> None:
    parsed = parse(request(data={"mimeType": "application/pdf", "contentBase64": PDF_B64}))

    assert parsed.data.payload == b"%PDF-1.4"
    assert parsed.attachments[0].content_base64 == b"%PDF-1.4"


@pytest.mark.parametrize(
    "mime_type", ["application/json", "application/json; charset=utf-8", "application/fhir+json"]
)
def test_json_content_with_json_mime_types(mime_type: str) -> None:
    parsed = parse(request(data={"mimeType": mime_type, "content": []}))

    assert parsed.data.payload == b"[]"


@pytest.mark.parametrize(
    ("mime_type", "expected"),
    [
        ("application/json", True),
        ("Application/JSON;charset=utf-8", True),
        ("application/vnd.xoev+json", True),
        ("text/json", False),
        ("application/jsonl", False),
        ("application/xml", False),
    ],
)
def test_is_json_mime_type(mime_type: str, expected: bool) -> None:
    assert is_json_mime_type(mime_type) is expected


def test_nan_is_not_json_content() -> None:
    raw = json.dumps(request()).replace('"content": {"a": 1}', '"content": {"a": NaN}')

    with pytest.raises(ValidationError) as caught:
        ApplicationIn.model_validate_json(raw)

    assert "NaN or Infinity" in str(caught.value)


@pytest.mark.parametrize(
    "value",
    ["JVBERi0xLjQ", "JVBERi0x LjQ=", "JVBERi0xLjQ=\n", "JVBERi0xLjQ=====", "JVBE*i0xLjQ=", "Zm9vä"],
)
def test_base64_is_strict(value: str) -> None:
    document = request(
        attachments=[{"filename": "a.pdf", "mimeType": "application/pdf", "contentBase64": value}]
    )

    assert "not valid base64" in errors(document)["attachments[0].contentBase64"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must not be empty"),
        (".", "'.' or '..'"),
        ("..", "'.' or '..'"),
        ("../secret.pdf", "'/'"),
        ("dir/file.pdf", "'/'"),
        ("C:\\Windows\\file.pdf", "'\\'"),
        ("nul\x00.pdf", "U+0000"),
        ("line\nbreak.pdf", "U+000A"),
        ("del\x7f.pdf", "U+007F"),
        ("rechnung\u202efdp.exe", "U+202E"),
        ("a" * 256, "at most 255 bytes"),
        ("ü" * 128, "at most 255 bytes in UTF-8 (is 256)"),
    ],
)
def test_bad_filenames(name: str, reason: str) -> None:
    assert reason in errors(with_filename(name))["attachments[0].filename"]


@pytest.mark.parametrize("name", ["Nachweis über Einkünfte.pdf", ".hidden", "a..b.pdf", "ü" * 127])
def test_good_filenames(name: str) -> None:
    assert parse(with_filename(name)).attachments[0].filename == name


def test_attachment_limit_is_checked_before_decoding() -> None:
    document = request(
        attachments=[{"filename": "a.pdf", "mimeType": "application/pdf", "contentBase64": "!!!"}]
        * 3
    )

    # One error for the list, none for the (bad) items: they were never decoded.
    assert errors(document, max_attachments=2) == {
        "attachments": "at most 2 attachments are allowed per application (got 3)"
    }


def test_errors_are_located_in_client_terms() -> None:
    document = request(
        service={"leikaKey": "1234"},
        region={"ags": "0537"},
        data={"mimeType": "application/json"},
    )

    assert errors(document) == {
        "service.leikaKey": "'1234' is not a LeiKa key (14 digits starting with 99)",
        "region.ags": "'0537' is not an AGS (8 digits)",
        "data": "give exactly one of content and contentBase64",
    }


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), "body"),
        (("region", "ars"), "region.ars"),
        (("attachments", 0, "filename"), "attachments[0].filename"),
        (("attachments", 2), "attachments[2]"),
    ],
)
def test_field_path(loc: tuple[int | str, ...], path: str) -> None:
    assert field_path(loc) == path


def test_body_must_be_an_object() -> None:
    with pytest.raises(ValidationError) as caught:
        ApplicationIn.model_validate_json(b"[]")

    assert [e.field for e in field_errors(caught.value.errors())] == ["body"]


@pytest.mark.parametrize(
    "changes",
    [
        {"service": {"leikaKey": "99050012104٠٠٠"}},  # Arabic-Indic zeros
        {"region": {"ags": "٠٥٣٧٠٠٠٤"}},
        {"region": {"ars": "０５３７００００４００４"}},  # fullwidth digits
    ],
)
def test_keys_are_ascii_digits_as_the_document_says(changes: dict[str, Any]) -> None:
    """Python's \\d matches every script's digits; the OpenAPI patterns say [0-9]."""
    with pytest.raises(ValidationError):
        parse(request(**changes))


@pytest.mark.parametrize(
    ("char", "refused"),
    [
        ("\x00", True),
        ("\t", True),
        ("\x1f", True),
        ("\x7f", True),
        ("\x85", True),  # C1 controls are category Cc too
        ("\x9f", True),
        ("\u202e", True),  # bidi override
        ("\u2066", True),  # bidi isolate
        ("\xa0", False),
        ("\u200b", False),  # a format character (Cf), not a control
        ("ß", False),
    ],
)
def test_control_characters_in_text_are_refused_with_their_code_point(
    char: str, refused: bool
) -> None:
    document = request(reference=f"AZ{char}1")
    if refused:
        assert errors(document) == {
            "reference": f"must not contain control characters (found U+{ord(char):04X})"
        }
    else:
        assert parse(document).reference == f"AZ{char}1"


def test_the_first_control_character_is_the_one_named() -> None:
    assert errors(request(reference="a\u202eb\x00c")) == {
        "reference": "must not contain control characters (found U+202E)"
    }
