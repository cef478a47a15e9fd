"""Which data keys a process runs with — decided at start, before the database is touched, and
read again with every reload (SIGHUP, ``POST /v1/admin/reload``).

- ``OZGBRIDGE_DATA_KEYS`` names the key file: it is used (and must be valid).
- On the embedded default (the SQLite database under ``var/``), the key file next to the
  database, ``var/data-keys.yaml``, is used; ``ozgbridge serve`` (``./dev serve``) creates it on
  first start, readable by its owner only, and says so.
- Anywhere else, no keys means no start — unless ``OZGBRIDGE_ALLOW_PLAINTEXT=true``: then content
  is stored unencrypted, with a warning at every start.

A reload reads the same key file again, so a rotation needs no restart: a new first key seals
from then on, and a key added for content another process sealed opens it. A key file that is not
usable refuses the reload like a configuration error (the keys in use stay); a process without
keys stays without them until it restarts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.engine import make_url

from ozgbridge.dataprotection import keys
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.errors import ConfigError, ConfigProblem, DataKeyError
from ozgbridge.key_ring import rotation
from ozgbridge.settings import Settings

log = structlog.get_logger("ozgbridge.dataprotection")

DEFAULT_KEY_FILE_NAME = "data-keys.yaml"


def embedded_key_file(settings: Settings) -> Path | None:
    """``var/data-keys.yaml`` beside the database when running on the embedded default."""
    if settings.database_url != Settings.model_fields["database_url"].default:
        return None
    database = make_url(settings.database_url).database
    return Path(database).parent / DEFAULT_KEY_FILE_NAME if database else None


def key_file(settings: Settings) -> Path | None:
    """The key file this process should read, if there is one to read."""
    if settings.data_keys is not None:
        return settings.data_keys
    embedded = embedded_key_file(settings)
    return embedded if embedded is not None and embedded.exists() else None


def load_sealer(settings: Settings, *, create_embedded: bool = False) -> Sealer:
    """The sealer for this process; `DataKeyError` when it must not start."""
    path = key_file(settings)
    if path is not None:
        loaded = keys.load(path)
        log.info(
            "data_keys.loaded", path=str(path), sealing_key=loaded.primary.id, keys=len(loaded.keys)
        )
        return Sealer(loaded)
    embedded = embedded_key_file(settings)
    if embedded is not None and create_embedded:
        try:
            created = keys.create_file(embedded)
        except FileExistsError:  # another process made it a moment ago
            return Sealer(keys.load(embedded))
        log.warning(
            "data_keys.created",
            path=str(embedded),
            key_id=created.primary.id,
            hint="form data and attachments are sealed with this key: back it up whenever you "
            "back up the database, but never in the same place; without it nothing stored can be "
            "read",
        )
        return Sealer(created)
    if settings.allow_plaintext:
        log.warning(
            "data_keys.plaintext",
            hint="OZGBRIDGE_ALLOW_PLAINTEXT=true: form data and attachments are stored "
            "unencrypted; set OZGBRIDGE_DATA_KEYS (ozgbridge data-keys create) and run "
            "ozgbridge data-keys rewrap",
        )
        return Sealer.plaintext()
    raise DataKeyError(
        "no data keys: form data and attachments are stored encrypted, so set "
        "OZGBRIDGE_DATA_KEYS to a key file (make one with `ozgbridge data-keys create`), or set "
        "OZGBRIDGE_ALLOW_PLAINTEXT=true to store them unencrypted"
    )


def reread_keys(settings: Settings, sealer: Sealer) -> keys.DataKeys | None:
    """The key file again, for a reload; None for a process without keys. `ConfigError` (naming
    the file and its lines) when the file is not usable: the reload is refused."""
    if not sealer.sealing:
        return None
    path = key_file(settings)
    if path is None:  # the embedded key file was there at start
        embedded = embedded_key_file(settings)
        raise ConfigError([ConfigProblem(str(embedded), "", "missing: the data key file is gone")])
    try:
        return keys.load(path)
    except DataKeyError as exc:
        raise ConfigError([ConfigProblem(str(path), "", str(exc))]) from None


def swap_keys(sealer: Sealer, loaded: keys.DataKeys) -> dict[str, Any] | None:
    """Use the keys a reload read (if they differ from those in use), and say what changed:
    key ids for the audit log (never key material), or None when nothing did."""
    current = sealer.keys
    rotated = rotation(current.keys, loaded.keys) if current is not None else None
    if rotated is None:
        return None
    sealer.use_keys(loaded)
    log.info(
        "data_keys.reloaded",
        path=str(loaded.source),
        sealing_key=rotated.first,
        previous_sealing_key=rotated.previous_first,
        keys=len(loaded.keys),
    )
    if rotated.removed:
        log.warning(
            "data_keys.removed",
            key_ids=rotated.removed,
            hint="content still sealed under these keys cannot be opened by this process; "
            "`ozgbridge data-keys rewrap` before removing a key tells whether any is left",
        )
    return {
        "sealing_key": rotated.first,
        "previous_sealing_key": rotated.previous_first,
        "key_ids": rotated.ids,
        "removed": rotated.removed,
    }
