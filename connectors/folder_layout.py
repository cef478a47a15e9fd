"""One application as one folder: the layout shared by the ``filedrop`` and ``sftp`` connectors.

Layout of one delivery (``NN`` is the 1-based position in the manifest's ``attachments`` list)::

    <directory>/<applicationId>/
        envelope.json            the envelope's manifest (metadata, sizes, SHA-256), UTF-8
        data.<json|xml|pdf|bin>  the form data
        attachments/NN-<name>    every attachment, name sanitised

A connector writes the folder under a dot-name (`staging_name`) next to its final place and renames
it into place in one step, so a pickup script never sees half a delivery; dot-folders are what
pickup scripts skip, and the next attempt of the same delivery removes its own leftovers
(`staging_prefix`). A folder that already holds the same delivery id counts as delivered
(`judge_existing`), so retries stay idempotent.

Everything here is pure: names, bytes and decisions. Writing them is the connector's business.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Literal

from ozgbridge.connector import Receipt
from ozgbridge.domain import Envelope
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError

__all__ = [
    "ATTACHMENTS_DIR",
    "MANIFEST_NAME",
    "MAX_FILENAME_CHARS",
    "FolderFile",
    "attachment_names",
    "checked_id",
    "file_extension",
    "folder_files",
    "folder_name",
    "judge_existing",
    "manifest_bytes",
    "sanitise_filename",
    "staging_name",
    "staging_prefix",
]

MANIFEST_NAME = "envelope.json"
ATTACHMENTS_DIR = "attachments"
MAX_FILENAME_CHARS = 120
_MAX_EXTENSION_CHARS = 16
_SEPARATORS = re.compile(r"[/\\]")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._\-äöüÄÖÜß ]")
_DOT_RUNS = re.compile(r"\.{2,}")
# Ids become folder names as they are; anything else could make two ids share one folder.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")

OUTSIDE_MESSAGE = "refusing a file path outside the drop directory"


def sanitise_filename(name: str, *, fallback: str = "file") -> str:
    """A name safe as one path component on Linux and on Windows/SMB shares, never empty.

    The last path component only (``/`` and ``\\`` both count, since browsers on Windows send
    ``C:\\…\\x.pdf``), without control or format characters, other characters outside
    ``A-Za-z0-9._- äöüÄÖÜß`` replaced by ``_``, no runs of dots, no leading or trailing dots and
    spaces, at most 120 characters with the extension kept. Windows device names (``CON``,
    ``NUL``) pass: the layout puts a number in front of every attachment name anyway.
    """
    text = unicodedata.normalize("NFC", name)
    # Format characters include U+202E (right-to-left override), which disguises extensions.
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))
    components = [part for part in _SEPARATORS.split(text) if part.strip(" .")]
    text = components[-1] if components else ""
    text = _NOT_ALLOWED.sub("_", text)
    text = _DOT_RUNS.sub(".", text)
    # Leading dots hide files (and pickup scripts skip them); Windows drops trailing dots/spaces.
    text = text.strip(" .")
    if len(text) > MAX_FILENAME_CHARS:
        stem, dot, extension = text.rpartition(".")
        if dot and stem and len(extension) <= _MAX_EXTENSION_CHARS:
            keep = MAX_FILENAME_CHARS - len(extension) - 1
            text = stem[:keep].rstrip(" .") + "." + extension
        else:
            text = text[:MAX_FILENAME_CHARS].rstrip(" .")
    return text or fallback


def file_extension(mime_type: str) -> str:
    """``json``, ``xml``, ``pdf`` or ``bin`` for a MIME type (parameters and case ignored)."""
    essence = mime_type.split(";", 1)[0].strip().lower()
    if essence in ("application/json", "text/json") or essence.endswith("+json"):
        return "json"
    if essence in ("application/xml", "text/xml") or essence.endswith("+xml"):
        return "xml"
    if essence == "application/pdf":
        return "pdf"
    return "bin"


def checked_id(value: str, what: str) -> str:
    """``value`` if it is usable as a folder name as it is; else a permanent error."""
    if not _SAFE_ID.fullmatch(value):
        raise PermanentDeliveryError(f"{what} is not usable as a folder name")
    return value


def folder_name(envelope: Envelope) -> str:
    """The final folder's name (the application id), after checking both ids used in names."""
    checked_id(envelope.delivery_id, "delivery id")
    return checked_id(envelope.application_id, "application id")


def staging_prefix(envelope: Envelope) -> str:
    """What every staging folder of this delivery starts with, on any attempt."""
    return f".tmp-{folder_name(envelope)}-{envelope.delivery_id}-"


def staging_name(envelope: Envelope) -> str:
    """A fresh dot-name to write this attempt's folder under before renaming it into place."""
    return f"{staging_prefix(envelope)}{envelope.attempt}-{secrets.token_hex(4)}"


def attachment_names(envelope: Envelope) -> list[str]:
    """``NN-<sanitised name>`` per attachment, in manifest order; never two alike."""
    width = max(2, len(str(len(envelope.attachments))))
    return [
        f"{number:0{width}d}-{sanitise_filename(attachment.filename, fallback='file')}"
        for number, attachment in enumerate(envelope.attachments, start=1)
    ]


def manifest_bytes(envelope: Envelope) -> bytes:
    """``envelope.json`` exactly as every connector of this layout writes it."""
    return (json.dumps(envelope.manifest(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True)
class FolderFile:
    """One file of a delivery folder: where it goes inside the folder, and its bytes."""

    directory: str | None  # None = the folder itself, else one subfolder (``attachments``)
    name: str
    content: bytes = b""

    @property
    def relative_path(self) -> str:
        return self.name if self.directory is None else f"{self.directory}/{self.name}"


def folder_files(envelope: Envelope) -> list[FolderFile]:
    """Every file of the folder in writing order: the manifest last, once the rest is there.

    Each name is checked to be one harmless path component (defence in depth behind the
    sanitiser: a bug there must not write outside the folder).
    """
    files = [
        FolderFile(None, f"data.{file_extension(envelope.data.mime_type)}", envelope.data.content)
    ]
    files += [
        FolderFile(ATTACHMENTS_DIR, name, attachment.content)
        for name, attachment in zip(attachment_names(envelope), envelope.attachments, strict=True)
    ]
    files.append(FolderFile(None, MANIFEST_NAME, manifest_bytes(envelope)))
    for file in files:
        if (
            not file.name
            or file.name in (".", "..")
            or _SEPARATORS.search(file.name)
            or "\x00" in file.name
        ):
            raise PermanentDeliveryError(OUTSIDE_MESSAGE)
    return files


def judge_existing(
    found: Literal["folder", "other"], manifest: bytes | None, envelope: Envelope
) -> Receipt:
    """What an entry already standing at the folder's final place means for this delivery.

    ``found`` is what the entry is; ``manifest`` the bytes of its ``envelope.json``, or None if
    that could not be read. Returns the receipt of an earlier attempt of this very delivery, or
    raises: a different delivery's folder is never overwritten (a human decides), and a folder
    without a readable manifest is looked at again on the next attempt (possibly a pickup script
    removing it right now).
    """
    if found != "folder":
        raise PermanentDeliveryError("the application's folder name is taken by a non-folder")
    try:
        if manifest is None:
            raise ValueError("no manifest")
        delivery_id = json.loads(manifest)["deliveryId"]
    except (ValueError, KeyError, TypeError):
        raise RetriableDeliveryError(
            f"the application's folder exists without a readable {MANIFEST_NAME}"
        ) from None
    if delivery_id != envelope.delivery_id:
        raise PermanentDeliveryError("the application's folder holds a different delivery")
    return Receipt(remote_reference=folder_name(envelope), detail="already delivered")
