"""Adding an API key to ``keys.yaml`` in place: comments, order and layout stay as they were.

The file is edited as a round-trip YAML document (ruamel.yaml), so an operator's comments and
the order of keys survive. The new entry copies the layout of the entries already there (block
or flow style). Before anything is written the entry is checked — the id must be new, a tenant
key's tenant must exist — and the result is written to a temporary file and renamed over the
original, so the file is never half-written.
"""

from __future__ import annotations

import difflib
import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from ozgbridge.configfile import read_yaml
from ozgbridge.errors import ConfigError, ConfigProblem
from ozgbridge.tenant_models import ApiKey, Role


def tenant_ids(config_dir: Path) -> list[str]:
    """The ids declared in ``tenants/*.yaml`` (files that cannot be read are skipped)."""
    ids = []
    for path in sorted((config_dir / "tenants").glob("*.yaml")):
        document, _problems = read_yaml(path, path.name)
        if document is not None and isinstance(document.data, dict):
            tenant_id = document.data.get("id")
            if isinstance(tenant_id, str):
                ids.append(tenant_id)
    return ids


def _yaml() -> YAML:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a hash
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def add_key(keys_file: Path, key: ApiKey, known_tenants: Iterable[str]) -> int:
    """Append ``key`` to ``keys_file``; the 1-based line of the new entry. `ConfigError` (with
    file and line) for a duplicate id or hash, an unknown tenant, or a file that is not a keys
    file."""
    shown = str(keys_file)
    known = list(known_tenants)
    if key.role is Role.TENANT and key.tenant not in known:
        close = difflib.get_close_matches(key.tenant or "", known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            [
                ConfigProblem(
                    str(keys_file.parent / "tenants"),
                    "",
                    f"tenant {key.tenant!r} is not a tenant of this deployment{hint}",
                )
            ]
        )
    yaml = _yaml()
    text = keys_file.read_text(encoding="utf-8") if keys_file.exists() else "keys: []\n"
    try:
        document = yaml.load(text)
    except YAMLError as exc:
        raise ConfigError([ConfigProblem(shown, "", f"invalid YAML: {exc}")]) from exc
    if document is None:
        document = CommentedMap()
    if not isinstance(document, CommentedMap):
        raise ConfigError([ConfigProblem(shown, "", "must be a mapping with keys: [...]")])
    entries = document.setdefault("keys", CommentedSeq())
    if not isinstance(entries, CommentedSeq):
        raise ConfigError([ConfigProblem(shown, "keys", "must be a list of keys")])
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        line = _line(entries, index)
        if entry.get("id") == key.id:
            raise ConfigError(
                [ConfigProblem(shown, f"keys[{index}].id", f"key id {key.id!r} exists", line)]
            )
        if entry.get("sha256") == key.sha256:
            raise ConfigError(
                [ConfigProblem(shown, f"keys[{index}].sha256", "same token hash exists", line)]
            )
    new = CommentedMap()
    for field, value in key.model_dump(mode="json", exclude_defaults=True).items():
        # Quoted: a hex hash of digits and one "e" would be read back as a number.
        new[field] = DoubleQuotedScalarString(value) if field == "sha256" else value
    if entries and all(_flow(entry) for entry in entries if isinstance(entry, CommentedMap)):
        new.fa.set_flow_style()
    entries.append(new)
    if entries.fa.flow_style():  # `keys: []` written by hand: one entry per line from now on
        entries.fa.set_block_style()
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    _replace(keys_file, buffer.getvalue())
    return _new_entry_line(buffer.getvalue(), key.id)


def _line(entries: CommentedSeq, index: int) -> int | None:
    try:
        return int(entries.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return None


def _flow(entry: Any) -> bool:
    return bool(isinstance(entry, CommentedMap) and entry.fa.flow_style())


def _new_entry_line(text: str, key_id: str) -> int:
    document = _yaml().load(text)
    entries = document["keys"]
    for index in range(len(entries) - 1, -1, -1):
        if entries[index].get("id") == key_id:
            return (_line(entries, index) or 0) or 1
    return 1


def _replace(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o640
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
