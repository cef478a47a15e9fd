"""File drop: each application becomes one folder in a directory that the back-end polls.

The folder's layout, names and re-delivery rules are those of `connectors.folder_layout`::

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
import os
import secrets
import shutil
from pathlib import Path

import structlog

from connectors import folder_layout as layout
from connectors.folder_layout import MAX_FILENAME_CHARS, file_extension, sanitise_filename
from ozgbridge.connector import Connector, ConnectorContext, ConnectorOptions, Receipt
from ozgbridge.domain import Envelope
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError

# The name helpers stay importable from here, where they lived first.
__all__ = [
    "MAX_FILENAME_CHARS",
    "FileDropConnector",
    "FileDropOptions",
    "file_extension",
    "sanitise_filename",
]

logger = structlog.get_logger("ozgbridge.connectors.filedrop")


class FileDropOptions(ConnectorOptions):
    """Options of the ``filedrop`` connector.

    ``directory`` is resolved against the deployment's data directory when relative. With
    ``create: false`` a missing directory is an error instead of being created: use that for
    network mounts, where creating the directory would write onto the unmounted mount point.
    """

    directory: Path
    create: bool = True


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

    async def send(self, envelope: Envelope) -> Receipt:
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
        folder_name = layout.folder_name(envelope)
        files = layout.folder_files(envelope)
        drop = self._drop_directory()
        final = drop / folder_name
        _require_inside(final, drop)

        existing = self._already_delivered(final, envelope)
        if existing is not None:
            return existing

        # Only a crash (power loss, kill -9) leaves a staging folder behind; it holds personal
        # data, so the next attempt of the same delivery clears it away.
        for stale in drop.glob(f"{layout.staging_prefix(envelope)}*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = drop / layout.staging_name(envelope)
        try:
            self._write_folder(staging, files)
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
            files=len(files),
            bytes=sum(len(file.content) for file in files if file.name != layout.MANIFEST_NAME),
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
        is_folder = final.is_dir() and not final.is_symlink()
        manifest: bytes | None = None
        if is_folder:
            try:
                manifest = (final / layout.MANIFEST_NAME).read_bytes()
            except OSError:
                manifest = None
        receipt = layout.judge_existing("folder" if is_folder else "other", manifest, envelope)
        logger.info(
            "filedrop.already_present",
            delivery_id=envelope.delivery_id,
            application_id=envelope.application_id,
        )
        return receipt

    def _write_folder(self, staging: Path, files: list[layout.FolderFile]) -> None:
        staging.mkdir()
        attachments_dir = staging / layout.ATTACHMENTS_DIR
        attachments_dir.mkdir()
        for file in files:
            directory = staging if file.directory is None else staging / file.directory
            target = directory / file.name
            _require_inside(target, directory)
            _write_file(target, file.content)
        _fsync_directory(attachments_dir)
        _fsync_directory(staging)


def _require_inside(path: Path, directory: Path) -> None:
    # Defence in depth behind the layout's own name check: nothing is written outside.
    if path.resolve().parent != directory.resolve():
        raise PermanentDeliveryError(layout.OUTSIDE_MESSAGE)


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
