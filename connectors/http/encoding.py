"""Request bodies: one JSON document, or multipart/form-data built here so its bytes are known."""

from __future__ import annotations

import json
import re
import secrets
from typing import Literal

from connectors.filedrop import file_extension
from ozgbridge.domain import Envelope

_MIME_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(?:\s*;[^\x00-\x1f\x7f]*)?")


def encode_body(envelope: Envelope, body_format: Literal["json", "multipart"]) -> tuple[bytes, str]:
    """The request body and its Content-Type."""
    if body_format == "multipart":
        return multipart_body(envelope)
    document = envelope.to_json_document()
    return json.dumps(document, separators=(",", ":")).encode("utf-8"), "application/json"


def multipart_body(envelope: Envelope) -> tuple[bytes, str]:
    """Parts ``envelope`` (manifest), ``data`` and one ``attachment`` per attachment, in order."""
    manifest = json.dumps(envelope.manifest(), ensure_ascii=False).encode("utf-8")
    parts: list[tuple[str, str | None, str, bytes]] = [
        ("envelope", None, "application/json", manifest),
        (
            "data",
            f"data.{file_extension(envelope.data.mime_type)}",
            _safe_mime_type(envelope.data.mime_type),
            envelope.data.content,
        ),
    ]
    parts += [
        ("attachment", a.filename, _safe_mime_type(a.mime_type), a.content)
        for a in envelope.attachments
    ]
    boundary = f"ozgbridge-{secrets.token_hex(16)}"
    # 128 random bits practically never occur in a file; checking makes "never" certain.
    while any(f"--{boundary}".encode() in content for *_, content in parts):
        boundary = f"ozgbridge-{secrets.token_hex(16)}"
    chunks: list[bytes] = []
    for name, filename, content_type, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{_quote_filename(filename)}"'
        head = (
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
            f"Content-Type: {content_type}\r\n\r\n"
        )
        chunks += [head.encode("utf-8"), content, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def _safe_mime_type(mime_type: str) -> str:
    # The MIME type comes from the portal and lands in a part header: no header injection.
    return mime_type if _MIME_TYPE.fullmatch(mime_type) else "application/octet-stream"


def _quote_filename(filename: str) -> str:
    # As browsers do (WHATWG): raw UTF-8, with quote and control characters percent-encoded. The
    # manifest keeps the exact name; this one only has to be harmless and readable.
    return "".join(
        f"%{ord(ch):02X}" if ch == '"' or ord(ch) < 0x20 or ord(ch) == 0x7F else ch
        for ch in filename
    )
