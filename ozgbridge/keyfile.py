"""Editing ``keys.yaml`` in place — adding a key, rotating one's token: comments, order and
layout stay as they were.

The file is edited as a round-trip YAML document (ruamel.yaml), so an operator's comments and
the order of keys survive. A new entry copies the layout of the entries already there (block
or flow style); a rotated entry keeps its own, and only its token fields change. Before anything
is written the entry is checked — the id must be new, a tenant key's tenant must exist — and the
result is written to a temporary file and renamed over the original, so the file is never
half-written.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from ozgbridge.apikey_models import ApiKey, Role
from ozgbridge.atomic_file import replace_text
from ozgbridge.configfile import read_yaml
from ozgbridge.errors import ConfigError, ConfigProblem


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
    document, entries = _load(yaml, keys_file)
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
    replace_text(keys_file, buffer.getvalue())
    return _new_entry_line(buffer.getvalue(), key.id)


def _load(yaml: YAML, keys_file: Path) -> tuple[CommentedMap, CommentedSeq]:
    shown = str(keys_file)
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
    return document, entries


# What a rotation changes in a key's entry (see `ozgbridge.apikeys.rotated`); all else stays.
ROTATED_FIELDS = ("sha256", "previous", "demo")


def rotate_key(keys_file: Path, key_id: str, rotated: Mapping[str, Any]) -> int:
    """Write the token fields of ``rotated`` (the key's entry after `apikeys.rotated`) into the
    entry of ``key_id``: the new ``sha256``, ``previous`` (after ``sha256`` when new; tokens
    still listed keep their lines), no ``demo``. The 1-based line of the entry."""
    yaml = _yaml()
    document, entries = _load(yaml, keys_file)
    found = [
        index
        for index, entry in enumerate(entries)
        if isinstance(entry, CommentedMap) and entry.get("id") == key_id
    ]
    if not found:
        raise ConfigError([ConfigProblem(str(keys_file), "keys", f"no key with id {key_id!r}")])
    entry = entries[found[0]]
    following = _detach_following_comments(entry)
    entry["sha256"] = DoubleQuotedScalarString(rotated["sha256"])
    previous = _previous(entry.get("previous"), rotated.get("previous", []))
    if not previous:
        entry.pop("previous", None)
    elif "previous" in entry:
        entry["previous"] = previous
    else:
        entry.insert(list(entry).index("sha256") + 1, "previous", previous)
    for field in ROTATED_FIELDS[2:]:
        if field in rotated:
            entry[field] = rotated[field]
        else:
            entry.pop(field, None)
    if following is not None:
        _attach_following_comments(entry, *following)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    replace_text(keys_file, buffer.getvalue())
    return _line(entries, found[0]) or 1


def _previous(old: Any, tokens: Iterable[Mapping[str, Any]]) -> CommentedSeq:
    """The ``previous`` list: a token already listed keeps its node, layout and comment."""
    old_items = old if isinstance(old, CommentedSeq) else CommentedSeq()
    result = CommentedSeq()
    for token in tokens:
        index = next(
            (
                i
                for i, item in enumerate(old_items)
                if isinstance(item, CommentedMap) and item.get("sha256") == token["sha256"]
            ),
            None,
        )
        if index is None:
            node = CommentedMap()
            node["sha256"] = DoubleQuotedScalarString(token["sha256"])
            node["expires"] = DoubleQuotedScalarString(token["expires"])
            node.fa.set_flow_style()  # one line per replaced token
        else:
            node = old_items[index]
        result.append(node)
        if index is not None and index in old_items.ca.items:
            result.ca.items[len(result) - 1] = old_items.ca.items[index]
    return result


# Where ruamel keeps the comment after a value: a mapping's key in slot 2, a list item in slot 0.
# Its text is the end-of-line comment (or nothing), a newline, then the comment lines below —
# often the heading of the next entry.


def _comment_slot(entry: CommentedMap) -> tuple[list[Any], int] | None:
    last = list(entry)[-1]
    value = entry[last]
    if isinstance(value, CommentedSeq):
        return (value.ca.items.setdefault(len(value) - 1, [None] * 4), 0) if value else None
    return entry.ca.items.setdefault(last, [None] * 4), 2


def _detach_following_comments(entry: CommentedMap) -> tuple[str, Any] | None:
    """Take the comment lines below the entry when rotating changes its last field (the lines
    would go with it); its end-of-line comment stays. None when they stay where they are."""
    if not entry or list(entry)[-1] not in ROTATED_FIELDS:
        return None
    slot = _comment_slot(entry)
    if slot is None or slot[0][slot[1]] is None:
        return None
    items, index = slot
    token = items[index]
    own, _newline, following = token.value.partition("\n")
    items[index] = CommentToken(own + "\n", token.start_mark, None) if own else None
    return (following, token.start_mark) if following else None


def _attach_following_comments(entry: CommentedMap, following: str, mark: Any) -> None:
    slot = _comment_slot(entry)
    if slot is None:
        return
    items, index = slot
    before = items[index].value if items[index] is not None else "\n"
    items[index] = CommentToken(before + following, mark, None)


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
