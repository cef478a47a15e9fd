"""File drop: each application becomes one folder in a directory that the back-end polls.

Layout of one delivery (``NN`` is the 1-based position in the manifest's ``attachments`` list)::

    <directory>/<applicationId>/
        envelope.json            the envelope's manifest (metadata, sizes, SHA-256), UTF-8
        data.<json|xml|pdf|bin>  the form data
        attachments/NN-<name>    every attachment, name sanitised

The folder is written under a dot-name next to its final place, flushed to disk and renamed into
place in one step, so a pickup script never sees half a delivery, and a crash leaves only a
dot-folder that pickup scripts skip (the next attempt of that delivery removes it).

A folder that already holds the same delivery id counts as delivered, so retries after a timeout,
or after the worker died between rename and bookkeeping, stay idempotent.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import secrets
import shutil
import unicodedata
from pathlib import Path

import structlog

from ozgbridge.connector import Connector, ConnectorContext, ConnectorOptions, Receipt
from ozgbridge.domain import Envelope
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError

__all__ = ["FileDropConnector", "FileDropOptions", "file_extension", "sanitise_filename"]

logger = structlog.get_logger("ozgbridge.connectors.filedrop")

MAX_FILENAME_CHARS = 120
_MAX_EXTENSION_CHARS = 16
_SEPARATORS = re.compile(r"[/\\]")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._\-äöüÄÖÜß ]")
_DOT_RUNS = re.compile(r"\.{2,}")
# Ids become folder names as they are; anything else could make two ids share one folder.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


class FileDropOptions(ConnectorOptions):
    """Options of the ``filedrop`` connector.

    ``directory`` is resolved against the deployment's data directory when relative. With
    ``create: false`` a missing directory is an error instead of being created: use that for
    network mounts, where creating the directory would write onto the unmounted mount point.
    """

    directory: Path
    create: bool = True


def sanitise_filename(name: str, *, fallback: str = "file") -> str:
    """A name safe as one path component on Linux and on Windows/SMB shares, never empty.

    The last path component only (``/`` and ``\\`` both count, since browsers on Windows send
    ``C:\\…\\x.pdf``), without control or format characters, other characters outside
    ``A-Za-z0-9._- äöüÄÖÜß`` replaced by ``_``, no runs of dots, no leading or trailing dots and
    spaces, at most 120 characters with the extension kept. Windows device names (``CON``,
    ``NUL``) pass: the connector puts a number in front of every attachment name anyway.
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


class FileDropConnector(Connector[FileDropOptions]):
    """Writes each envelope as a folder into a local or mounted directory."""

    kind = "filedrop"
    Options = FileDropOptions

    def __init__(
        self, options: FileDropOptions, *, context: ConnectorContext, timeout: float
    ) -> None:
        super().__init__(options, context=context, timeout=timeout)
        directory = options.directory
        if not directory.is_absolute():
            directory = context.data_dir / directory
        # abspath, not resolve(): no file-system access here; a mount may not be there yet.
        self.directory = Path(os.path.abspath(directory))

    async def _deliver(self, envelope: Envelope) -> Receipt:
        try:
            return await asyncio.to_thread(self._write, envelope)
        except OSError as exc:
            # Full disk, lost mount, missing permission: all can be fixed without touching the
            # application, so the delivery waits for the next attempt instead of going dead.
            code = errno.errorcode.get(exc.errno or 0, "unknown error")
            raise RetriableDeliveryError(f"cannot write to the drop directory ({code})") from exc

    async def check(self) -> Receipt:
        """A ping must not become a folder the back-end would import: instead, create and remove
        a hidden file in the drop directory, which proves it is there and writable."""
        try:
            async with asyncio.timeout(self.timeout):
                await asyncio.to_thread(self._probe)
        except TimeoutError as exc:
            raise RetriableDeliveryError(
                f"the drop directory did not answer within {self.timeout:g} s"
            ) from exc
        except OSError as exc:
            code = errno.errorcode.get(exc.errno or 0, "unknown error")
            raise RetriableDeliveryError(f"cannot write to the drop directory ({code})") from exc
        return Receipt(detail="drop directory is writable")

    # Everything below runs in a worker thread.

    def _probe(self) -> None:
        probe = self._drop_directory() / f".ozgbridge-check-{secrets.token_hex(8)}"
        try:
            _write_file(probe, b"ozgbridge route check\n")
        finally:
            probe.unlink(missing_ok=True)

    def _write(self, envelope: Envelope) -> Receipt:
        folder_name = _checked_id(envelope.application_id, "application id")
        _checked_id(envelope.delivery_id, "delivery id")
        drop = self._drop_directory()
        final = drop / folder_name
        _require_inside(final, drop)

        existing = self._already_delivered(final, envelope)
        if existing is not None:
            return existing

        staging_prefix = f".tmp-{folder_name}-{envelope.delivery_id}-"
        # Only a crash (power loss, kill -9) leaves a staging folder behind; it holds personal
        # data, so the next attempt of the same delivery clears it away.
        for stale in drop.glob(f"{staging_prefix}*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = drop / f"{staging_prefix}{envelope.attempt}-{secrets.token_hex(4)}"
        try:
            files, size = self._write_folder(staging, envelope)
            try:
                os.rename(staging, final)
            except OSError as exc:
                # An earlier attempt that timed out may have finished in its thread meanwhile.
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                won = self._already_delivered(final, envelope)
                if won is None:
                    raise
                return won
            _fsync_directory(drop)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        logger.info(
            "filedrop.written",
            delivery_id=envelope.delivery_id,
            application_id=envelope.application_id,
            files=files,
            bytes=size,
        )
        return Receipt(remote_reference=folder_name)

    def _drop_directory(self) -> Path:
        if self.options.create:
            self.directory.mkdir(parents=True, exist_ok=True)
        elif not self.directory.is_dir():
            # Retriable, not permanent: the usual cause is a mount that is briefly away, and the
            # applications should flow again by themselves once it is back.
            raise RetriableDeliveryError("drop directory is missing (create: false)")
        return self.directory.resolve()

    def _already_delivered(self, final: Path, envelope: Envelope) -> Receipt | None:
        if not os.path.lexists(final):
            return None
        if final.is_symlink() or not final.is_dir():
            raise PermanentDeliveryError("the application's folder name is taken by a non-folder")
        try:
            manifest = json.loads((final / "envelope.json").read_bytes())
            delivery_id = manifest["deliveryId"]
        except (OSError, ValueError, KeyError, TypeError):
            # Possibly a pickup script removing the folder right now: look again next attempt.
            raise RetriableDeliveryError(
                "the application's folder exists without a readable envelope.json"
            ) from None
        if delivery_id != envelope.delivery_id:
            # Never overwrite what the back-end may be reading; a human decides.
            raise PermanentDeliveryError("the application's folder holds a different delivery")
        logger.info(
            "filedrop.already_present",
            delivery_id=envelope.delivery_id,
            application_id=envelope.application_id,
        )
        return Receipt(remote_reference=final.name, detail="already delivered")

    def _write_folder(self, staging: Path, envelope: Envelope) -> tuple[int, int]:
        staging.mkdir()
        attachments_dir = staging / "attachments"
        attachments_dir.mkdir()
        data_name = f"data.{file_extension(envelope.data.mime_type)}"
        _write_file(staging / data_name, envelope.data.content)
        size = len(envelope.data.content)
        width = max(2, len(str(len(envelope.attachments))))
        for number, attachment in enumerate(envelope.attachments, start=1):
            name = f"{number:0{width}d}-{sanitise_filename(attachment.filename, fallback='file')}"
            target = attachments_dir / name
            _require_inside(target, attachments_dir)
            _write_file(target, attachment.content)
            size += attachment.size
        manifest = json.dumps(envelope.manifest(), indent=2, ensure_ascii=False) + "\n"
        _write_file(staging / "envelope.json", manifest.encode("utf-8"))
        _fsync_directory(attachments_dir)
        _fsync_directory(staging)
        return len(envelope.attachments) + 2, size


def _checked_id(value: str, what: str) -> str:
    if not _SAFE_ID.fullmatch(value):
        raise PermanentDeliveryError(f"{what} is not usable as a folder name")
    return value


def _require_inside(path: Path, directory: Path) -> None:
    # Defence in depth behind the sanitiser: a bug there must not write outside the directory.
    if path.resolve().parent != directory.resolve():
        raise PermanentDeliveryError("refusing a file path outside the drop directory")


def _write_file(path: Path, content: bytes) -> None:
    with path.open("xb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    # Makes new entries (and the rename) durable: fsync of a file does not cover its directory.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
