"""Key ring files: a YAML list of 32-byte secrets with ids, the first one in use, all accepted.

The data keys (`ozgbridge.dataprotection.keys`) and the audit keys (`ozgbridge.audit_keys`) are
kept in files of the same form::

    keys:
      - {id: "2026-12", key: "<base64 of 32 random bytes>"}   # the first one is used for new data
      - {id: "2026-01", key: "…"}                               # all of them are accepted

Reading, checking and writing such a file is the same for both, and lives here; each module keeps
its own key type, error and wording through a `KeyRingFile`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import structlog
import yaml

from ozgbridge.atomic_file import replace_text
from ozgbridge.configfile import read_yaml
from ozgbridge.domain import utcnow
from ozgbridge.errors import ConfigProblem

KEY_BYTES = 32
KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
FILE_MODE = 0o600

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class SecretKey:
    id: str
    secret: bytes = field(repr=False)


K = TypeVar("K", bound=SecretKey)


@dataclass(frozen=True)
class KeyRingFile(Generic[K]):
    """One kind of key ring file: its key type, error, and the words it uses."""

    key_type: type[K]
    error: Callable[[str], Exception]
    name: str  # "data key file": "the data key file is not usable: …"
    header: str  # comment lines at the top of a new file
    logger: str
    readable_event: str
    readable_hint: str  # why a file readable by others matters, after "chmod 600 PATH: "
    size_note: str = ""  # after "must be 32 bytes", e.g. " (AES-256)"

    def new_key(self, key_id: str | None = None) -> K:
        """A fresh random key; its id defaults to the current month (``2026-12``)."""
        key_id = key_id or utcnow().strftime("%Y-%m")
        if not KEY_ID.fullmatch(key_id):
            raise self.error(
                f"{key_id!r} is not a key id: 1–32 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return self.key_type(key_id, secrets.token_bytes(KEY_BYTES))

    @staticmethod
    def entry(key: SecretKey) -> dict[str, str]:
        """The key as an entry of a key file."""
        return {"id": key.id, "key": base64.b64encode(key.secret).decode("ascii")}

    @classmethod
    def entry_line(cls, key: SecretKey, indent: int = 2) -> str:
        """The key as one line of a key file's list, as `create` writes them (JSON is YAML)."""
        return " " * indent + "- " + json.dumps(cls.entry(key))

    def load(self, path: Path, *, warn_readable: bool = True) -> tuple[K, ...]:
        """Read a key file; the error lists every problem with its line. ``warn_readable``:
        warn when others may read it (not for a staged copy about to replace it)."""
        document, problems = read_yaml(path, str(path))
        keys: list[K] = []
        if document is not None:
            raw = document.data
            items = raw.get("keys") if isinstance(raw, dict) else None
            if not isinstance(items, list) or not items:
                problems.append(
                    document.problem(("keys",), "must be a non-empty list of {id, key}")
                )
                items = []
            seen: dict[str, int] = {}
            for index, item in enumerate(items):
                key, found = self._key(item, index, seen)
                problems += [document.problem(loc, message) for loc, message in found]
                if key is not None:
                    keys.append(key)
        if problems:
            raise self.error(
                f"the {self.name} is not usable:\n" + "\n".join(str(p) for p in _sorted(problems))
            )
        if warn_readable:
            self._warn_if_readable(path)
        return tuple(keys)

    def _key(
        self, item: Any, index: int, seen: dict[str, int]
    ) -> tuple[K | None, list[tuple[Loc, str]]]:
        here: Loc = ("keys", index)
        if not isinstance(item, dict):
            return None, [(here, "must be a mapping {id: …, key: …}")]
        found: list[tuple[Loc, str]] = []
        found += [((*here, name), "unknown field") for name in item if name not in ("id", "key")]
        key_id, material = item.get("id"), item.get("key")
        if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
            found.append(
                ((*here, "id"), "must be text of 1–32 letters, digits, '.', '_' or '-' (quote it)")
            )
        elif key_id in seen:
            found.append(
                ((*here, "id"), f"key id {key_id!r} is already used by keys[{seen[key_id]}]")
            )
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
                        (
                            (*here, "key"),
                            f"must be {KEY_BYTES} bytes{self.size_note}, not {len(secret)}",
                        )
                    )
        if found or not isinstance(key_id, str):
            return None, found
        return self.key_type(key_id, secret), []

    def _warn_if_readable(self, path: Path) -> None:
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            return
        if mode & 0o077:
            structlog.get_logger(self.logger).warning(
                self.readable_event,
                path=str(path),
                mode=oct(mode),
                hint=f"chmod 600 {path}: {self.readable_hint}",
            )

    def create(self, path: Path, key: K | None = None) -> K:
        """Write a new file with one key (fresh unless given), readable by its owner only;
        `FileExistsError` if there is one: it is never overwritten."""
        key = key or self.new_key()
        path.parent.mkdir(parents=True, exist_ok=True)
        text = self.header + "keys:\n" + self.entry_line(key) + "\n"
        # O_EXCL: two processes starting at once must not both write (and one overwrite) a key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        return key

    def prepend(self, path: Path, key: K) -> tuple[K, ...]:
        """Put ``key`` first in an existing file — the key in use from the next start or
        reload — and keep the rest of the file as it is (other keys, comments, layout).

        The new text is checked as `load` checks it before it replaces the file (atomically,
        with the file's mode and, where allowed, its owner); the error names what is wrong and
        the file stays unchanged. Returns the keys now in the file."""
        held = self.load(path)  # refuse to build on a broken file, with its own problems and lines
        if any(other.id == key.id for other in held):
            raise self.error(
                f"{path} already holds a key with id {key.id!r}: give the new key another id "
                f"(--id {key.id}b, say)"
            )
        text = path.read_text(encoding="utf-8")
        at, indent = _first_entry(text, path, self.error)
        lines = text.splitlines(keepends=True)
        new = "".join([*lines[:at], self.entry_line(key, indent) + "\n", *lines[at:]])
        checked: list[tuple[K, ...]] = []

        def check(staged: Path) -> None:
            try:
                checked.append(self.load(staged, warn_readable=False))
            except Exception as exc:
                # Say which file: the staged copy's name means nothing to the operator.
                raise self.error(str(exc).replace(str(staged), str(path))) from None

        replace_text(path, new, check=check)
        return checked[0]


@dataclass(frozen=True)
class Rotation:
    """What a reload read differs in from the keys in use, by key id (never key material)."""

    first: str  # the key that seals or chains from now on
    previous_first: str
    ids: list[str]  # the file's keys, in order
    removed: list[str]  # in use before, no longer in the file


def rotation(current: Sequence[SecretKey], loaded: Sequence[SecretKey]) -> Rotation | None:
    """None when a reload read the keys in use again."""
    if tuple(current) == tuple(loaded):
        return None
    ids = [key.id for key in loaded]
    return Rotation(
        loaded[0].id, current[0].id, ids, [key.id for key in current if key.id not in ids]
    )


def _first_entry(text: str, path: Path, error: Callable[[str], Exception]) -> tuple[int, int]:
    """The line (0-based) and indentation of the ``-`` that starts the first key of ``keys:``."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)  # `load` accepted the file
    for name, value in root.value:
        if name.value == "keys" and isinstance(value, yaml.SequenceNode):
            if value.flow_style:
                break
            return value.start_mark.line, value.start_mark.column
    raise error(
        f"{path}: its keys are written as one list in brackets; put the new entry first by hand"
    )


def _sorted(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    return sorted(problems, key=lambda p: p.line or 0)
