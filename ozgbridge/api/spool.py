"""Large request bodies wait on disk, not in memory, while they arrive.

A client uploading 20 MB at modem speed would otherwise hold 20 MB of the API's memory (and of
its intake budget) for as long as it takes. Spooled, an arriving body costs one read buffer;
memory is needed only once the body is complete and is parsed and stored, which is quick.

Bodies hold personal data, so the spool file is encrypted (AES-256-CTR) under a random key that
exists only in this object, and it has no name: it is created unlinked (``O_TMPFILE`` where the
system has it), so nothing is left on disk after the request — not even after a crash.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ozgbridge.errors import ConfigError

READ_SIZE = 256 * 1024


class Spool:
    """One body on disk: written once as it arrives, then read back (decrypted) in chunks."""

    def __init__(self, directory: Path | None = None) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - closed in close()
        self._cipher = Cipher(algorithms.AES(os.urandom(32)), modes.CTR(os.urandom(16)))
        self._encryptor = self._cipher.encryptor()
        self._sha256 = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._sha256.update(chunk)
        self._file.write(self._encryptor.update(chunk))
        self.size += len(chunk)

    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def chunks(self, size: int = READ_SIZE) -> Iterator[bytes]:
        """The body from its start (blocking file reads: call from a thread for large bodies)."""
        self._file.flush()
        self._file.seek(0)
        decryptor = self._cipher.decryptor()
        while chunk := self._file.read(size):
            yield decryptor.update(chunk)

    def read_all(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        self._file.close()


def check_directory(directory: Path | None) -> None:
    """Refuse to start when no spool file can be made there (a read-only root file system)."""
    try:
        with tempfile.TemporaryFile(dir=directory) as probe:
            probe.write(b"x")
    except OSError as exc:
        where = str(directory) if directory is not None else tempfile.gettempdir()
        raise ConfigError(
            f"OZGBRIDGE_SPOOL_DIR: cannot make a spool file in {where} ({exc.strerror}); large "
            "submissions wait there while they arrive — point it at a writable directory"
        ) from None
