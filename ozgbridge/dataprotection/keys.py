"""Data keys: the AES-256 keys that seal form data and attachments at rest.

A key file (``OZGBRIDGE_DATA_KEYS``, a secret such as ``/run/secrets/ozgbridge-data-keys.yaml``)::

    keys:
      - {id: "2026-12", key: "<base64 of 32 random bytes>"}   # the first one seals new content
      - {id: "2026-01", key: "…"}                               # every one opens what it sealed

Rotation: put a new key first, run ``ozgbridge data-keys rewrap`` (re-seals everything under
it), then remove the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ozgbridge.errors import DataKeyError
from ozgbridge.key_ring import KeyRingFile, SecretKey


class DataKey(SecretKey):
    """An AES-256 key (32 bytes) and its id."""


@dataclass(frozen=True)
class DataKeys:
    """The loaded key file: the first key seals, all of them open."""

    keys: tuple[DataKey, ...]
    source: Path

    def __post_init__(self) -> None:
        if not self.keys:
            raise DataKeyError(f"{self.source}: holds no keys")

    @property
    def primary(self) -> DataKey:
        return self.keys[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key.id for key in self.keys)


_FILE = KeyRingFile(
    key_type=DataKey,
    error=DataKeyError,
    name="data key file",
    header=(
        "# ozgbridge data keys (OZGBRIDGE_DATA_KEYS): the first seals, all open. Keep this file\n"
        "# secret; back it up, apart from the database: without it nothing stored can be read.\n"
    ),
    logger="ozgbridge.dataprotection",
    readable_event="data_keys.file_readable_by_others",
    readable_hint="the data keys open every stored application",
    size_note=" (AES-256)",
)


def new_key(key_id: str | None = None) -> DataKey:
    """A fresh random key; its id defaults to the current month (``2026-12``)."""
    return _FILE.new_key(key_id)


def entry(key: DataKey) -> dict[str, str]:
    """The key as an entry of a key file."""
    return _FILE.entry(key)


def entry_line(key: DataKey) -> str:
    """The key as a line to put first under ``keys:`` by hand."""
    return _FILE.entry_line(key)


def add_first(path: Path, key: DataKey) -> DataKeys:
    """Put ``key`` first in the existing key file ``path``, the rest of the file kept as it is;
    `DataKeyError` (file unchanged) when the file, or the file with the key, is not usable."""
    return DataKeys(_FILE.prepend(path, key), path)


def load(path: Path) -> DataKeys:
    """Read a key file; `DataKeyError` lists every problem with its line."""
    return DataKeys(_FILE.load(path), path)


def create_file(path: Path, key: DataKey | None = None) -> DataKeys:
    """Write a new key file with one fresh key, readable by its owner only; never overwrites."""
    return DataKeys((_FILE.create(path, key),), path)
