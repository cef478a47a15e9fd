"""Data keys: the AES-256 keys that seal form data and attachments at rest.

A key file (``OZGBRIDGE_DATA_KEYS``, a secret such as ``/run/secrets/ozgbridge-data-keys.yaml``)::

    keys:
      - {id: "2026-12", key: "<base64 of 32 random bytes>"}   # the first one seals new content
      - {id: "2026-01", key: "…"}                               # every one opens what it sealed

Rotation: put a new key first, run ``ozgbridge data-keys rewrap`` (re-seals everything under
it), then remove the old one.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
import yaml

from ozgbridge.configfile import read_yaml
from ozgbridge.domain import utcnow
from ozgbridge.errors import ConfigProblem, DataKeyError

KEY_BYTES = 32  # AES-256
KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
FILE_MODE = 0o600

log = structlog.get_logger("ozgbridge.dataprotection")


@dataclass(frozen=True)
class DataKey:
    id: str
    secret: bytes = field(repr=False)


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


def new_key(key_id: str | None = None) -> DataKey:
    """A fresh random key; its id defaults to the current month (``2026-12``)."""
    key_id = key_id or utcnow().strftime("%Y-%m")
    if not KEY_ID.fullmatch(key_id):
        raise DataKeyError(
            f"{key_id!r} is not a key id: 1–32 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return DataKey(key_id, secrets.token_bytes(KEY_BYTES))


def entry(key: DataKey) -> dict[str, str]:
    """The key as an entry of a key file."""
    return {"id": key.id, "key": base64.b64encode(key.secret).decode("ascii")}


def load(path: Path) -> DataKeys:
    """Read a key file; `DataKeyError` lists every problem with its line."""
    document, problems = read_yaml(path, str(path))
    keys: list[DataKey] = []
    if document is not None:
        raw = document.data
        items = raw.get("keys") if isinstance(raw, dict) else None
        if not isinstance(items, list) or not items:
            problems.append(document.problem(("keys",), "must be a non-empty list of {id, key}"))
            items = []
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            key, found = _key(item, index, seen)
            problems += [document.problem(loc, message) for loc, message in found]
            if key is not None:
                keys.append(key)
    if problems:
        raise DataKeyError(
            "the data key file is not usable:\n" + "\n".join(str(p) for p in _sorted(problems))
        )
    _warn_if_readable(path)
    return DataKeys(tuple(keys), path)


def _sorted(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    return sorted(problems, key=lambda p: p.line or 0)


def _key(
    item: Any, index: int, seen: dict[str, int]
) -> tuple[DataKey | None, list[tuple[tuple[str | int, ...], str]]]:
    here: tuple[str | int, ...] = ("keys", index)
    if not isinstance(item, dict):
        return None, [(here, "must be a mapping {id: …, key: …}")]
    found: list[tuple[tuple[str | int, ...], str]] = []
    found += [((*here, name), "unknown field") for name in item if name not in ("id", "key")]
    key_id, material = item.get("id"), item.get("key")
    if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
        found.append(
            ((*here, "id"), "must be text of 1–32 letters, digits, '.', '_' or '-' (quote it)")
        )
    elif key_id in seen:
        found.append(((*here, "id"), f"key id {key_id!r} is already used by keys[{seen[key_id]}]"))
    else:
        seen[key_id] = index
    secret = b""
    if not isinstance(material, str):
        found.append(((*here, "key"), "required: base64 of 32 random bytes"))
    else:
        try:
            secret = base64.b64decode(material, validate=True)
        except (binascii.Error, ValueError):
            found.append(((*here, "key"), "is not base64"))
        else:
            if len(secret) != KEY_BYTES:
                found.append(
                    ((*here, "key"), f"must be {KEY_BYTES} bytes (AES-256), not {len(secret)}")
                )
    if found or not isinstance(key_id, str):
        return None, found
    return DataKey(key_id, secret), []


def _warn_if_readable(path: Path) -> None:
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        log.warning(
            "data_keys.file_readable_by_others",
            path=str(path),
            mode=oct(mode),
            hint=f"chmod 600 {path}: the data keys open every stored application",
        )


def create_file(path: Path, key: DataKey | None = None) -> DataKeys:
    """Write a new key file with one fresh key, readable by its owner only; never overwrites."""
    key = key or new_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# ozgbridge data keys (OZGBRIDGE_DATA_KEYS): the first seals, all open. Keep this file\n"
        "# secret; back it up, apart from the database: without it nothing stored can be read.\n"
        + yaml.safe_dump({"keys": [entry(key)]}, sort_keys=False)
    )
    # O_EXCL: two processes starting at once must not both write (and one overwrite) a key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    return DataKeys((key,), path)
