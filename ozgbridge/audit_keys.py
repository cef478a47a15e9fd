"""Audit keys: the HMAC-SHA-256 keys that chain the audit log, kept outside the database.

With a plain hash chain, whoever can write to the database can change an event and recompute
every hash after it. Chained with an HMAC under a key the database never sees, a recomputed chain
does not verify. The key file (``OZGBRIDGE_AUDIT_KEY``, a secret such as
``/run/secrets/ozgbridge-audit-key.yaml``; mode 0600)::

    keys:
      - {id: "2026-12", key: "<base64 of 32 random bytes>"}   # the first one chains new events
      - {id: "2026-01", key: "…"}                               # all of them verify

Each event stores the id of the key it was chained with (``audit_events.key_id``), so keys can
be rotated by putting a new one first; keep the old ones for as long as their events are to be
verified. Events from before keyed chaining have no key id and verify as plain SHA-256.

Which file a process uses is decided once, at start (`for_service`): ``OZGBRIDGE_AUDIT_KEY`` if
set; else, on the embedded default (the SQLite database under ``var/``), ``var/audit-key.yaml``,
created on first start. Anywhere else a service does not start without a key, unless
``OZGBRIDGE_AUDIT_UNKEYED=true`` (then plain SHA-256, with a warning at every start). A reload
(SIGHUP, ``POST /v1/admin/reload``, the file watch) reads that file again (`reread`), so a new
first key chains from then on without a restart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.engine import make_url

from ozgbridge.errors import ConfigError, ConfigProblem
from ozgbridge.key_ring import KeyRingFile, SecretKey, rotation

EMBEDDED_FILE_NAME = "audit-key.yaml"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/ozgbridge.sqlite3"

log = structlog.get_logger("ozgbridge.audit")


class AuditKeyError(ConfigError):
    """No usable audit key where one is required, or a key file that cannot be used."""


class AuditKey(SecretKey):
    """An HMAC-SHA-256 key (32 bytes) and its id."""


@dataclass(frozen=True)
class AuditKeys:
    """A loaded key file: the first key chains, every key verifies."""

    keys: tuple[AuditKey, ...]
    source: Path | None = None

    def __post_init__(self) -> None:
        if not self.keys:
            raise AuditKeyError(f"{self.source}: holds no audit keys")

    @property
    def primary(self) -> AuditKey:
        return self.keys[0]

    def get(self, key_id: str) -> AuditKey | None:
        return next((key for key in self.keys if key.id == key_id), None)


_FILE = KeyRingFile(
    key_type=AuditKey,
    error=AuditKeyError,
    name="audit key file",
    header=(
        "# ozgbridge audit key: chains the audit log (HMAC-SHA-256). Keep it secret, keep it\n"
        "# apart from the database backup, and keep it: without it the log cannot be verified.\n"
    ),
    logger="ozgbridge.audit",
    readable_event="audit_key.file_readable_by_others",
    readable_hint="whoever reads the audit key can rewrite the audit log unnoticed",
)


def new_key(key_id: str | None = None) -> AuditKey:
    return _FILE.new_key(key_id)


def entry(key: AuditKey) -> dict[str, str]:
    return _FILE.entry(key)


def entry_line(key: AuditKey) -> str:
    """The key as a line to put first under ``keys:`` by hand."""
    return _FILE.entry_line(key)


def add_first(path: Path, key: AuditKey) -> AuditKeys:
    """Put ``key`` first in the existing key file ``path``, the rest of the file kept as it is;
    `AuditKeyError` (file unchanged) when the file, or the file with the key, is not usable."""
    return AuditKeys(_FILE.prepend(path, key), path)


def load(path: Path) -> AuditKeys:
    """Read a key file; `AuditKeyError` lists every problem with its line."""
    return AuditKeys(_FILE.load(path), path)


def create_file(path: Path, key: AuditKey | None = None) -> AuditKeys:
    """Write a new key file readable by its owner only; `FileExistsError` if there is one."""
    return AuditKeys((_FILE.create(path, key),), path)


def embedded_file(database_url: str) -> Path | None:
    """``var/audit-key.yaml`` beside the database when it is the embedded default."""
    if database_url != DEFAULT_DATABASE_URL:
        return None
    database = make_url(database_url).database
    return Path(database).parent / EMBEDDED_FILE_NAME if database else None


def for_tool(database_url: str, key_file: Path | None) -> AuditKeys | None:
    """The keys a command-line tool verifies and chains with: ``key_file``
    (``OZGBRIDGE_AUDIT_KEY``), else the embedded default's file if it exists, else none."""
    if key_file is not None:
        return load(key_file)
    embedded = embedded_file(database_url)
    if embedded is not None and embedded.exists():
        return load(embedded)
    return None


def from_environment(environ: dict[str, str] | None = None) -> AuditKeys | None:
    """`for_tool` for the process environment (for writers nobody configured explicitly)."""
    environ = dict(os.environ if environ is None else environ)
    configured = environ.get("OZGBRIDGE_AUDIT_KEY")
    return for_tool(
        environ.get("OZGBRIDGE_DATABASE_URL", DEFAULT_DATABASE_URL),
        Path(configured) if configured else None,
    )


def for_service(database_url: str, key_file: Path | None, *, unkeyed: bool) -> AuditKeys | None:
    """The keys a service process runs with; `AuditKeyError` when it must not start."""
    if key_file is not None:
        keys = load(key_file)
        log.info("audit_key.loaded", path=str(key_file), chaining_key=keys.primary.id)
        return keys
    embedded = embedded_file(database_url)
    if embedded is not None:
        try:
            keys = create_file(embedded)
        except FileExistsError:
            return load(embedded)
        log.warning(
            "audit_key.created",
            path=str(embedded),
            key_id=keys.primary.id,
            hint="the audit log is chained with this key: back it up apart from the database; "
            "without it the log cannot be verified",
        )
        return keys
    if unkeyed:
        log.warning(
            "audit_key.unkeyed",
            hint="OZGBRIDGE_AUDIT_UNKEYED=true: the audit log is chained with plain SHA-256, so "
            "whoever can write to the database can rewrite it unnoticed; set "
            "OZGBRIDGE_AUDIT_KEY (ozgbridge audit new-key)",
        )
        return None
    raise AuditKeyError(
        "no audit key: the audit log is chained with HMAC-SHA-256 under a key kept outside the "
        "database, so set OZGBRIDGE_AUDIT_KEY to a key file (make one with `ozgbridge audit "
        "new-key --out FILE`), or set OZGBRIDGE_AUDIT_UNKEYED=true to chain with plain SHA-256"
    )


def reread(database_url: str, key_file: Path | None, current: AuditKeys | None) -> AuditKeys | None:
    """The key file again, for a reload (``current``: what the process chains with); None for a
    process without keys (``OZGBRIDGE_AUDIT_UNKEYED``: keys come with a restart). `ConfigError`
    naming the file when it is gone or not usable: the reload is refused, the keys stay."""
    if current is None:
        return None
    path = key_file or embedded_file(database_url)
    if path is None:  # a process given its keys in code: nothing to read again
        return current
    try:
        return load(path)
    except AuditKeyError as exc:
        raise ConfigError([ConfigProblem(str(path), "", str(exc))]) from None


def changes(current: AuditKeys | None, loaded: AuditKeys) -> dict[str, Any] | None:
    """What a reload changes, by key id (never key material): for the log and the audit log;
    None when the keys are the same."""
    rotated = rotation(current.keys, loaded.keys) if current is not None else None
    if rotated is None:
        return None
    return {
        "chaining_key": rotated.first,
        "previous_chaining_key": rotated.previous_first,
        "key_ids": rotated.ids,
        "removed": rotated.removed,
    }
