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
``OZGBRIDGE_AUDIT_UNKEYED=true`` (then plain SHA-256, with a warning at every start).
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
from sqlalchemy.engine import make_url

from ozgbridge.domain import utcnow
from ozgbridge.errors import ConfigError

KEY_BYTES = 32
KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
FILE_MODE = 0o600
EMBEDDED_FILE_NAME = "audit-key.yaml"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/ozgbridge.sqlite3"

log = structlog.get_logger("ozgbridge.audit")


class AuditKeyError(ConfigError):
    """No usable audit key where one is required, or a key file that cannot be used."""


@dataclass(frozen=True)
class AuditKey:
    id: str
    secret: bytes = field(repr=False)


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


def new_key(key_id: str | None = None) -> AuditKey:
    key_id = key_id or utcnow().strftime("%Y-%m")
    if not KEY_ID.fullmatch(key_id):
        raise AuditKeyError(
            f"{key_id!r} is not a key id: 1–32 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return AuditKey(key_id, secrets.token_bytes(KEY_BYTES))


def entry(key: AuditKey) -> dict[str, str]:
    return {"id": key.id, "key": base64.b64encode(key.secret).decode("ascii")}


def load(path: Path) -> AuditKeys:
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AuditKeyError(f"{path}: cannot read the audit key file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise AuditKeyError(f"{where}: not YAML") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise AuditKeyError(f"{path}: expected a mapping with a list `keys`")
    keys: list[AuditKey] = []
    for number, item in enumerate(document["keys"], start=1):
        where = f"{path}: keys[{number}]"
        if not isinstance(item, dict) or set(item) != {"id", "key"}:
            raise AuditKeyError(f"{where}: expected {{id: …, key: …}}")
        key_id, text = str(item["id"]), str(item["key"])
        if not KEY_ID.fullmatch(key_id):
            raise AuditKeyError(f"{where}: {key_id!r} is not a key id")
        try:
            secret = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise AuditKeyError(f"{where}: key is not base64") from None
        if len(secret) != KEY_BYTES:
            raise AuditKeyError(f"{where}: key must be {KEY_BYTES} bytes (is {len(secret)})")
        if any(key.id == key_id for key in keys):
            raise AuditKeyError(f"{where}: key id {key_id!r} is given twice")
        keys.append(AuditKey(key_id, secret))
    return AuditKeys(tuple(keys), path)


def create_file(path: Path, key: AuditKey | None = None) -> AuditKeys:
    """Write a new key file readable by its owner only; `FileExistsError` if there is one."""
    key = key or new_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# ozgbridge audit key: chains the audit log (HMAC-SHA-256). Keep it secret, keep it\n"
        "# apart from the database backup, and keep it: without it the log cannot be verified.\n"
        + yaml.safe_dump({"keys": [entry(key)]}, sort_keys=False)
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    return AuditKeys((key,), path)


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
