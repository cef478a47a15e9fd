"""Loading ``keys.yaml``: the API keys, with the secrets in their portal ``events`` resolved.

Part of `load_deployment` (`ozgbridge.tenants`), kept apart from loading the tenant files because
the keys file has its own shape and its own secrets, and meets the tenants only in the rules run
afterwards (`ozgbridge.apikeys.check_keys`). Like the rest of loading it reports every
problem it finds, each with file, field and line.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ozgbridge.apikey_models import ApiKey
from ozgbridge.configfile import Loc, YamlDocument, near, read_yaml
from ozgbridge.errors import ConfigProblem
from ozgbridge.event_transport import event_transport_class
from ozgbridge.secrets import SecretResolver, resolve_options


@dataclass(frozen=True)
class LoadedKeys:
    """What `load_keys` found: the valid keys with their index in the file; the file's content
    (for the deployment's fingerprint) and its document (for locating the findings of later
    rules), None where the file could not be read; and every problem."""

    keys: list[tuple[int, ApiKey]]
    raw: Any
    document: YamlDocument | None
    problems: list[ConfigProblem]


def load_keys(
    path: Path, shown: str, resolver: SecretResolver, *, check_events: bool
) -> LoadedKeys:
    """Read and check the keys file ``path``, named ``shown`` in messages.

    ``check_events=False`` skips checking portal events against the event transport's options.
    """
    problems: list[ConfigProblem] = []
    if not path.is_file():
        problems.append(ConfigProblem(shown, "", "missing: API keys are required (keys: [...])"))
        return LoadedKeys([], None, None, problems)
    document, read_problems = read_yaml(path, shown)
    problems += read_problems
    if document is None:
        return LoadedKeys([], None, None, problems)
    raw = document.data
    if not isinstance(raw, dict) or not isinstance(raw.get("keys"), list):
        loc: Loc = ("keys",) if isinstance(raw, dict) else ()
        problems.append(document.problem(loc, "must be a list of keys: keys: [...]"))
        return LoadedKeys([], raw, document, problems)
    for name in raw:
        if name != "keys":
            problems.append(
                document.problem((name,), "unknown field (misspelt, or not supported here)")
            )
    keys = []
    for index, raw_item in enumerate(raw["keys"]):
        item, skip = _resolve_events(document, index, raw_item, resolver, problems)
        try:
            key = ApiKey.model_validate(item)
        except ValidationError as exc:
            problems += document.validation_problems(
                exc, prefix=("keys", index), skip=functools.partial(near, skipped=skip)
            )
            continue
        if key.events is not None and check_events:
            problems += _event_problems(document, index, item["events"], skip)
        keys.append((index, key))
    return LoadedKeys(keys, raw, document, problems)


def _resolve_events(
    document: YamlDocument,
    index: int,
    item: Any,
    resolver: SecretResolver,
    problems: list[ConfigProblem],
) -> tuple[Any, set[Loc]]:
    """The key with the secret references in its ``events`` resolved (see secrets.py)."""
    skip: set[Loc] = set()
    events = item.get("events") if isinstance(item, dict) else None
    if not isinstance(events, dict):
        return item, skip
    here: Loc = ("keys", index, "events")
    result = resolve_options(events, resolver)
    problems += [document.problem((*here, *loc), message) for loc, message in result.problems]
    skip.update((*here, *loc) for loc in result.unjudgeable(resolver.resolve))
    return {**item, "events": result.options}, skip


def _event_problems(
    document: YamlDocument, index: int, events: dict[str, Any], skip: set[Loc]
) -> list[ConfigProblem]:
    """Portal events go out through the portal events transport: its options' rules apply."""
    try:
        options_model = event_transport_class().Options
    except Exception:  # reported with the routes; nothing more to say here
        return []
    transport = {k: v for k, v in events.items() if k not in ("retry_schedule", "timeout")}
    try:
        options_model.model_validate(transport)
    except ValidationError as exc:
        return document.validation_problems(
            exc,
            prefix=("keys", index, "events"),
            skip=functools.partial(near, skipped=skip),
        )
    return []
