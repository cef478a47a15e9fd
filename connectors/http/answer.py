"""The back-end's answer as `HttpConnector.classify_response` sees it, and what is read from it."""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from ozgbridge.status_document import report_in_answer
from ozgbridge.status_rules import StatusReport

# Only a reference is read from an answer; a runaway back-end must not fill the worker's memory.
MAX_RESPONSE_BYTES = 64 * 1024
# What of an error answer is kept in the attempt record for people to read (never logged).
EXCERPT_BYTES = 1024
_MAX_REFERENCE_CHARS = 256
_MAX_LOCATION_CHARS = 2048


@dataclass(frozen=True)
class HttpAnswer:
    """Status, headers (case-insensitive) and at most `MAX_RESPONSE_BYTES` of the decoded body.

    The attribute names are httpx's (``status_code``, ``headers``, ``content``, ``json()``,
    ``text``), so a ``classify_response`` override written for the httpx-based connector works
    unchanged.
    """

    status_code: int
    headers: CIMultiDictProxy[str] = field(
        default_factory=lambda: CIMultiDictProxy(CIMultiDict[str]())
    )
    content: bytes = b""

    @property
    def charset(self) -> str:
        """The ``charset`` of the Content-Type if Python knows it, else UTF-8."""
        for parameter in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "charset":
                try:
                    return codecs.lookup(value.strip().strip('"')).name
                except LookupError:
                    break
        return "utf-8"

    @property
    def text(self) -> str:
        return self.content.decode(self.charset, errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; ValueError if it is not JSON."""
        return json.loads(self.content)

    def excerpt(self) -> str | None:
        """The first `EXCERPT_BYTES` of the body as text, or None for an empty body.

        A character cut in half at the end is dropped; undecodable bytes and NULs (which
        PostgreSQL text cannot hold) become U+FFFD.
        """
        if not self.content:
            return None
        decoder = codecs.getincrementaldecoder(self.charset)(errors="replace")
        text = decoder.decode(self.content[:EXCERPT_BYTES], final=False)
        return text.replace("\x00", "\ufffd") or None


def json_document(answer: HttpAnswer) -> Any:
    """The answer's JSON document if it says it is JSON and parses, else None."""
    if "json" not in answer.headers.get("content-type", "").split(";", 1)[0]:
        return None
    try:
        return answer.json()
    except ValueError:
        return None


def status_report(answer: HttpAnswer) -> StatusReport | None:
    """The status document (`ozgbridge.status_document`) in a JSON answer, if it has one.

    Raises `InvalidStatusAnswer` (naming fields, never values) for one that does not validate.
    """
    return report_in_answer(json_document(answer))


def remote_reference(answer: HttpAnswer) -> str | None:
    """``id`` or ``reference`` from a JSON answer, else the ``Location`` header, else None."""
    document = json_document(answer)
    if isinstance(document, dict):
        for key in ("id", "reference"):
            value = document.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                text = str(value)
                if 0 < len(text) <= _MAX_REFERENCE_CHARS:
                    return text
    location = answer.headers.get("location")
    if location and len(location) <= _MAX_LOCATION_CHARS:
        return location
    return None
