"""`ozgbridge keys rotate` and `ozgbridge keys list`, and the key-expiry warnings of
`ozgbridge config validate`."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import datetime, timedelta
from pathlib import Path

import click
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from ozgbridge.apikeys import expiry_warnings, rotated
from ozgbridge.configfile import YamlDocument, read_yaml
from ozgbridge.domain import utcnow
from ozgbridge.errors import ConfigError, SchemaOutdatedError
from ozgbridge.logs import configure_logging
from ozgbridge.settings import Settings
from ozgbridge.store import migrate
from ozgbridge.store.engine import create_engine
from ozgbridge.store.key_usage import key_usage
from ozgbridge.tenants import KEYS_FILE, ApiKey, load_deployment, token_sha256

out = Console()
err = Console(stderr=True)

_config_option = click.option(
    "--config",
    "config_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="configuration directory (keys.yaml); default $OZGBRIDGE_CONFIG_DIR or ./config",
)


def _fail(message: str) -> None:
    err.print(f"[red]error[/red]: {message}", highlight=False, soft_wrap=True)
    raise SystemExit(2)


def _config_dir(given: Path | None) -> Path:
    return given if given is not None else Settings().config_dir


def new_token() -> str:
    return "ozgb_" + secrets.token_urlsafe(32)


def print_expiry_warnings(directory: Path, keys: list[ApiKey]) -> int:
    """For `config validate`: warn of keys expiring within 14 days (or expired), with lines."""
    warnings = expiry_warnings(keys, utcnow())
    if not warnings:
        return 0
    path = directory / KEYS_FILE
    document, _ = read_yaml(path, str(path))
    for warning in warnings:
        shown = document.problem(warning.loc, warning.message) if document else warning.message
        out.print(f"[yellow]![/yellow] {shown}", highlight=False, soft_wrap=True)
    return len(warnings)


def _find_key(path: Path, key_id: str) -> ApiKey:
    document, problems = read_yaml(path, str(path))
    if document is None:
        _fail("\n".join(str(p) for p in problems))
        raise AssertionError
    items = document.data.get("keys") if isinstance(document.data, dict) else None
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("id") == key_id:
            return _validated(document, index, item)
    _fail(f"{path}: no key with id {key_id!r}")
    raise AssertionError


def _validated(document: YamlDocument, index: int, item: object) -> ApiKey:
    try:
        return ApiKey.model_validate(item)
    except ValidationError as exc:
        problems = document.validation_problems(exc, prefix=("keys", index))
        _fail("fix this key first:\n" + "\n".join(str(p) for p in problems))
        raise AssertionError from exc


@click.command("rotate")
@click.option("--id", "key_id", required=True, help="the key to give a new token")
@click.option(
    "--overlap-days",
    type=click.FloatRange(min=0, max=365),
    default=7,
    show_default=True,
    help="how long the old token keeps working",
)
@_config_option
def keys_rotate(key_id: str, overlap_days: float, config_dir: Path | None) -> None:
    """New token for a key (shown once); the old one works for --overlap-days more."""
    path = _config_dir(config_dir) / KEYS_FILE
    key = _find_key(path, key_id)
    token = new_token()
    entry = rotated(key, token_sha256(token), utcnow(), timedelta(days=overlap_days))
    old_until = entry["previous"][0]["expires"]
    err.print("New token (shown once — give it to the key's holder, store it nowhere else):")
    print(token)
    err.print(
        f"Replace the entry of {key_id!r} in {path} with this one; the old token works until "
        f"{old_until}, then only the new one does:",
        highlight=False,
    )
    print("  - " + json.dumps(entry))


@click.command("list")
@_config_option
def keys_list(config_dir: Path | None) -> None:
    """The configured keys with role, tenant, expiry and last use (from the database)."""
    directory = _config_dir(config_dir)
    configure_logging(Settings().log_level, "console")  # warnings to stderr, the list to stdout
    try:
        deployment = load_deployment(directory, resolve_secrets=False, check_connectors=False)
    except ConfigError as exc:
        _fail(f"configuration in {directory} is not usable:\n{exc}")
        return
    try:
        used = asyncio.run(_usage(Settings()))
    except SchemaOutdatedError as exc:
        _fail(str(exc))
        return
    except (OSError, SQLAlchemyError) as exc:
        _fail(f"cannot read the keys' last use from the database: {exc}")
        return
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
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _when(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


async def _usage(settings: Settings) -> dict[str, datetime]:
    engine = create_engine(settings.database_url)
    try:
        await migrate.ensure_current(engine)
        return await key_usage(engine)
    finally:
        await engine.dispose()
