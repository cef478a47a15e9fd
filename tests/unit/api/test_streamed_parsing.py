"""A spooled body is parsed by streaming (api/extract.py); whatever the body, the answer must be
the one the in-memory parser gives: the same application, or the same problem."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ozgbridge.api.extract import extract, is_extracted
from ozgbridge.api.intake import _parse, parse_streamed
from ozgbridge.api.problems import Problem
from ozgbridge.api.schemas import ApplicationIn

CONTENT = bytes(range(256)) * 40


def document(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "service": {"leikaKey": "99050012104000"},
        "region": {"ars": "053700004004"},
        "data": {"mimeType": "application/pdf", "contentBase64": b64(b"%PDF-1.4 data")},
        "attachments": [
            {"filename": "a.pdf", "mimeType": "application/pdf", "contentBase64": b64(CONTENT)},
            {"filename": "b.pdf", "mimeType": "application/pdf", "contentBase64": b64(b"b")},
        ],
    }
    value.update(changes)
    return value


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def chunked(raw: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def outcome(parse: Any) -> tuple[str, Any]:
    try:
        parsed: ApplicationIn = parse()
    except Problem as problem:
        return "problem", (problem.status, problem.detail, [e.model_dump() for e in problem.errors])
    return "parsed", (
        parsed.model_dump(mode="json", exclude={"data", "attachments"}),
        parsed.data.payload,
        parsed.data.mime_type,
        [(a.filename, a.mime_type, a.purpose, a.content_base64) for a in parsed.attachments],
    )


def assert_same(raw: bytes, *, sizes: tuple[int, ...] = (1, 3, 7, 64, 4096, 1 << 20)) -> None:
    expected = outcome(lambda: _parse(raw, 100))
    for size in sizes:
        assert outcome(lambda size=size: parse_streamed(chunked(raw, size), 100)) == expected, (
            f"chunk size {size}"
        )


def test_contents_are_decoded_out_of_the_skeleton() -> None:
    raw = json.dumps(document()).encode()

    extracted = extract(chunked(raw, 100))

    assert len(extracted.values) == 3
    assert sorted(extracted.values.values(), key=len) == [b"b", b"%PDF-1.4 data", CONTENT]
    assert len(extracted.skeleton) < 700
    assert b64(CONTENT).encode() not in extracted.skeleton
    assert_same(raw)


def test_only_the_content_fields_are_extracted() -> None:
    assert is_extracted(("data", "contentBase64"))
    assert is_extracted(("attachments", 3, "contentBase64"))
    assert not is_extracted(("attachments", "3", "contentBase64"))
    assert not is_extracted(("data", "content"))
    assert not is_extracted(("contentBase64",))
    assert not is_extracted(("attachments", 0, "filename"))


@pytest.mark.parametrize(
    "raw",
    [
        # escapes a JSON encoder may use in base64 (PHP escapes "/" by default)
        b'{"service":{"leikaKey":"99050012104000"},"region":{"ars":"053700004004"},'
        b'"data":{"mimeType":"application/pdf","contentBase64":"a\\/8\\u0041AA=="}}',
        # padding forms
        b'{"service":{"leikaKey":"99050012104000"},"region":{"ars":"053700004004"},'
        b'"data":{"mimeType":"application/pdf","contentBase64":"QUJD="}}',
        b'{"service":{"leikaKey":"99050012104000"},"region":{"ars":"053700004004"},'
        b'"data":{"mimeType":"application/pdf","contentBase64":"QQ\\u003d\\u003D"}}',
        # an empty content
        b'{"service":{"leikaKey":"99050012104000"},"region":{"ars":"053700004004"},'
        b'"data":{"mimeType":"application/pdf","contentBase64":""}}',
        # keys written with escapes are the same keys
        b'{"service":{"leikaKey":"99050012104000"},"region":{"ars":"053700004004"},'
        b'"data":{"mimeType":"application/pdf","contentBase\\u0036\\u0034":"QUJD"}}',
        # whitespace everywhere, several lines
        b' {\n "service" : {"leikaKey" : "99050012104000"} ,\r\n "region":{"ars":"053700004004"},'
        b'\n\t"data" : { "mimeType" : "application/pdf" , "contentBase64" : "QUJD" } } \n',
    ],
)
def test_valid_bodies_give_the_same_application(raw: bytes) -> None:
    assert outcome(lambda: _parse(raw, 100))[0] == "parsed"
    assert_same(raw)


BAD_BASE64 = [
    "QQ",  # incorrect padding
    "Q",  # one character too many
    "QUJD=QUJD",  # data after padding
    "QQ===",
    "QU JD",
    "QUJD\\n",  # an escape that is no base64 character
    "QUJ\\u00e4",
    "QUJDä",
    "QUJD\\u0000",
    "=QUJD",
]


@pytest.mark.parametrize("bad", BAD_BASE64)
def test_invalid_base64_gets_the_same_problem(bad: str) -> None:
    raw = (
        '{"service":{"leikaKey":"99050012104000"},"region":{"ars":"053700004004"},'
        '"data":{"mimeType":"application/pdf","contentBase64":"QUJD"},'
        f'"attachments":[{{"filename":"a.pdf","mimeType":"application/pdf","contentBase64":"{bad}"}}]}}'
    ).encode()
    kind, answer = outcome(lambda: _parse(raw, 100))
    assert kind == "problem"
    assert answer[0] in (400, 422)
    assert_same(raw)


@pytest.mark.parametrize(
    "tail",
    [
        b"}",  # complete
        b"",  # cut off
        b"} x",  # trailing characters
        b', "x": }',  # broken after the content, on the same line: the column must be right
        b", x: 1}",
        b"\n, }",
        b"]}",
    ],
)
def test_broken_json_after_a_content_gets_the_same_position(tail: bytes) -> None:
    raw = (
        b'{"service":{"leikaKey":"99050012104000"},"region":{"ars":"053700004004"},'
        b'"data":{"mimeType":"application/pdf","contentBase64":"'
        + b64(CONTENT).encode()
        + b'"}'
        + tail
    )
    assert_same(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b"null",
        b'"text"',
        b"{",
        b'{"data": {"contentBase64": "QUJD',  # ends inside a content
        b'{"data": {"contentBase64": "QUJD\\',  # ends inside an escape
        b'{"data": {"contentBase64": "QUJD\\u00',
        b'{"data": {"contentBase64": 12}}',
        b'{"data": {"contentBase64": ["QUJD"]}}',
        b'{"attachments": {"0": {"contentBase64": "QUJD"}}}',
        b'{"attachments": [{"contentBase64": "QUJD"}, 1, [], {"contentBase64": "QQ"}]}',
        b'{"data": {"contentBase64": "QUJD", "contentBase64": "QUFB"}, "data": 1}',
        b'{"a" "b"}',
        b'{"a": tru, "data": {"contentBase64": "QUJD"}}',
        b'{"\\x": 1}',
        b'{"data": {"content": {"contentBase64": "QUJD"}, "mimeType": "application/json"}}',
        b'{"data":{"mimeType":"application/pdf","contentBase64":"QU\x01JD"}}',
    ],
)
def test_odd_bodies_get_the_same_answer(raw: bytes) -> None:
    assert_same(raw)


base64_text = st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())


@st.composite
def escaped_base64(draw: st.DrawFn) -> str:
    """Valid base64, sometimes damaged, with some characters written as JSON escapes."""
    text = draw(base64_text)
    if draw(st.booleans()):
        position = draw(st.integers(0, len(text)))
        text = (
            text[:position]
            + draw(st.sampled_from(["=", "-", " ", "A", "ä", '"']))
            + text[position:]
        )
    out = []
    for char in text:
        roll = draw(st.integers(0, 9))
        if roll == 0 and char == "/":
            out.append("\\/")
        elif roll == 1:
            out.append(f"\\u{ord(char):04x}")
        elif char == '"':
            out.append('\\"')
        else:
            out.append(char)
    return "".join(out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    contents=st.lists(escaped_base64(), min_size=1, max_size=3),
    size=st.integers(1, 40),
    spaces=st.sampled_from(["", " ", "\n"]),
)
def test_any_base64_in_any_chunks_gets_the_same_answer(
    contents: list[str], size: int, spaces: str
) -> None:
    attachments = ",".join(
        f'{{"filename":"f{n}.pdf",{spaces}"mimeType":"application/pdf","contentBase64":{spaces}"{c}"}}'
        for n, c in enumerate(contents)
    )
    raw = (
        '{"service":{"leikaKey":"99050012104000"},"region":{"ars":"053700004004"},'
        f'"data":{{"mimeType":"application/json","content":{{"a":1}}}},{spaces}'
        f'"attachments":[{attachments}]}}'
    ).encode()

    assert_same(raw, sizes=(size,))
