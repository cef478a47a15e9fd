"""One application as one ZIP archive (pure: envelope in, bytes out).

::

    manifest.json            envelope.manifest() (without the attempt number) plus "files":
                             where each part is in the archive
    data.<json|xml|pdf|bin>  the form data
    attachments/NN-<name>    every attachment (NN: its 1-based position), name sanitised

The archive's bytes depend on the envelope only (entry times are the submission time), so every
attempt of a delivery uploads exactly the same bytes.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
import zipfile
from typing import Any

from ozgbridge.connector import Envelope

MANIFEST = "manifest.json"
FORMAT = "ozgbridge-zipupload/1"
_EXTENSIONS = {"application/json": "json", "application/xml": "xml", "text/xml": "xml"}
_EXTENSIONS["application/pdf"] = "pdf"
_UNSAFE = re.compile(r"[^A-Za-z0-9._\-äöüÄÖÜß ]")
_MAX_NAME = 100


def safe_name(filename: str) -> str:
    """The last path component (``/`` or ``\\``), printable, no leading dots, at most 100 chars."""
    text = "".join(ch for ch in filename if unicodedata.category(ch) not in ("Cc", "Cf"))
    text = re.split(r"[/\\]", text)[-1]
    text = _UNSAFE.sub("_", text).strip(" .")
    if len(text) > _MAX_NAME:
        _stem, dot, extension = text.rpartition(".")
        keep = extension if dot and len(extension) <= 10 else ""
        text = text[: _MAX_NAME - len(keep) - 1] + ("." + keep if keep else "")
    return text or "attachment"


def data_name(mime_type: str) -> str:
    essence = mime_type.split(";", 1)[0].strip().lower()
    return "data." + _EXTENSIONS.get(essence, "bin")


def build_archive(envelope: Envelope) -> bytes:
    """The ZIP archive of one envelope, byte for byte the same on every attempt."""
    names = [
        f"attachments/{position:02d}-{safe_name(attachment.filename)}"
        for position, attachment in enumerate(envelope.attachments, 1)
    ]
    manifest: dict[str, Any] = {"format": FORMAT, **envelope.manifest()}
    # The attempt number is the one thing that changes between attempts: it stays out.
    del manifest["attempt"]
    manifest["files"] = {"data": data_name(envelope.data.mime_type), "attachments": names}
    when = envelope.submitted_at.timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, content: bytes) -> None:
            entry = zipfile.ZipInfo(name, date_time=when)
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, content)

        add(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
        add(manifest["files"]["data"], envelope.data.content)
        for name, attachment in zip(names, envelope.attachments, strict=True):
            add(name, attachment.content)
    return buffer.getvalue()
