"""``ozgbridge keys rotate`` and ``ozgbridge keys list``: API key lifetimes (see `apikeys`)."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import datetime, timedelta
from pathlib import Path

import click
from pydantic import ValidationError

from ozgbridge import keyfile
from ozgbridge.apikeys import rotated
from ozgbridge.cli_common import (
    config_option,
    database_problem,
    err,
    fail,
    settings_from_env,
    show,
)
from ozgbridge.configfile import YamlDocument, read_yaml
from ozgbridge.domain import utcnow
from ozgbridge.errors import ConfigError, SchemaOutdatedError
from ozgbridge.settings import Settings
from ozgbridge.store import migrate
from ozgbridge.store.engine import DATABASE_ERRORS, create_engine
from ozgbridge.store.key_usage import key_usage
from ozgbridge.tenants import KEYS_FILE, ApiKey, load_deployment, token_sha256


def _config_dir(given: Path | None) -> Path:
    return given if given is not None else settings_from_env().config_dir


def _find_key(path: Path, key_id: str) -> ApiKey:
    document, problems = read_yaml(path, str(path))
    if document is None:
        for problem in problems:
            show(problem)
        fail(f"cannot read {path}")
    items = document.data.get("keys") if isinstance(document.data, dict) else None
    found = [
        (index, item)
        for index, item in enumerate(items if isinstance(items, list) else [])
        if isinstance(item, dict) and item.get("id") == key_id
    ]
    if not found:
        fail(f"{path}: no key with id {key_id!r}")
    return _validated(document, *found[0])


def _validated(document: YamlDocument, index: int, item: object) -> ApiKey:
    try:
        return ApiKey.model_validate(item)
    except ValidationError as exc:
        for problem in document.validation_problems(exc, prefix=("keys", index)):
            show(problem)
        fail("fix this key first")


@click.command("rotate")
@click.option("--id", "key_id", required=True, help="the key to give a new token")
@click.option(
    "--overlap-days",
    type=click.FloatRange(min=0, max=365),
    default=7,
    show_default=True,
    help="how long the old token keeps working",
)
@click.option(
    "--write",
    is_flag=True,
    help="update the key's entry in keys.yaml yourself (comments and order are kept)",
)
@config_option
def keys_rotate(key_id: str, overlap_days: float, write: bool, config_dir: Path | None) -> None:
    """New token for a key (shown once); the old one works for --overlap-days more.

    Prints the token and the key's updated entry: the new hash in sha256, the old one under
    previous with its expires. Replace the entry in keys.yaml (or let --write do it), then
    reload the processes.
    """
    path = _config_dir(config_dir) / KEYS_FILE
    key = _find_key(path, key_id)
    token = "ozgb_" + secrets.token_urlsafe(32)
    entry = rotated(key, token_sha256(token), utcnow(), timedelta(days=overlap_days))
    old_until = entry["previous"][0]["expires"]
    if write:
        try:
            line = keyfile.rotate_key(path, key_id, entry)
        except ConfigError as exc:
            for problem in exc.problems:
                show(problem)
            raise SystemExit(1) from exc
        err.print(
            f"Updated key {key_id!r} in {path}:{line}: the old token works until {old_until}, "
            "then only the new one does.",
            highlight=False,
        )
        err.print("New token (shown once — give it to the key's holder, store it nowhere else):")
        print(token)
        err.print(
            "Running processes use it after a reload: kill -HUP <pid>, or POST /v1/admin/reload.",
            highlight=False,
        )
        return
    err.print("New token (shown once — give it to the key's holder, store it nowhere else):")
    print(token)
    err.print(
        f"Replace the entry of {key_id!r} in {path} with this one and reload (kill -HUP <pid>, "
        f"or POST /v1/admin/reload); the old token works until {old_until}, then only the new "
        "one does:",
        highlight=False,
    )
    print("  - " + json.dumps(entry))


@click.command("list")
@config_option
def keys_list(config_dir: Path | None) -> None:
    """The configured keys with role, tenant, live tokens, expiry and last use (from the
    database; written by the API processes about once a minute)."""
    directory = _config_dir(config_dir)
    try:
        deployment = load_deployment(directory, resolve_secrets=False, check_connectors=False)
    except ConfigError as exc:
        for problem in exc.problems:
            show(problem)
        fail(f"configuration in {directory} is not usable")
    settings = settings_from_env()
    try:
        used = asyncio.run(_usage(settings))
    except SchemaOutdatedError as exc:
        fail(str(exc))
    except DATABASE_ERRORS as exc:
        fail(database_problem(settings, exc))
    now = utcnow()
    rows = [("id", "role", "tenant", "tokens", "expires", "last used")]
    for key in deployment.keys:
        expires = _when(key.expires) if key.expires else "never"
        if key.expires is not None and key.expires <= now:
            expires += " (expired)"
        live = [key.sha256, *(p.sha256 for p in key.previous if p.expires > now)]
        last = used.get(key.id)
        rows.append(
            (key.id, str(key.role), key.tenant or "-", str(len(live)), expires,
             _when(last) if last else "never")
        )  # fmt: skip
    # Plain aligned columns: readable, and never wrapped or cut, whatever the terminal.
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


def _when(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


async def _usage(settings: Settings) -> dict[str, datetime]:
    engine = create_engine(settings.database_url)
    try:
        await migrate.ensure_current(engine)
        return await key_usage(engine)
    finally:
        await engine.dispose()
