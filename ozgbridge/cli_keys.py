"""``ozgbridge keys create`` (API keys) and ``ozgbridge secrets webhook`` (signing secrets)."""

from __future__ import annotations

import base64
import json
import os
import secrets as random
from pathlib import Path

import click
from pydantic import ValidationError

from ozgbridge import keyfile
from ozgbridge.cli_common import config_option, err, fail, show
from ozgbridge.errors import ConfigError
from ozgbridge.tenants import KEYS_FILE, ApiKey, token_sha256

# Standard Webhooks: a whsec_ secret is base64 of 24 to 64 random bytes.
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's marker, not a secret
WEBHOOK_SECRET_BYTES = (24, 64)


@click.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--id", "key_id", required=True, help="a name for the key, e.g. portal-hs")
@click.option(
    "--role",
    type=click.Choice(["portal", "tenant", "coordinator", "operator", "metrics"]),
    required=True,
)
@click.option("--tenant", help="tenant id (role tenant only)")
@click.option(
    "--write",
    is_flag=True,
    help="add the entry to keys.yaml in --config yourself (comments and order are kept)",
)
@config_option
def keys_create(
    key_id: str, role: str, tenant: str | None, write: bool, config_dir: Path | None
) -> None:
    """Make a new token: printed once; only its hash goes into keys.yaml.

    Without --write the entry is printed for you to add; with --write it is added to keys.yaml
    (unknown tenants and ids already in use are refused). Running processes pick it up on
    reload (SIGHUP or POST /v1/admin/reload).
    """
    if (role == "tenant") != (tenant is not None):
        fail("--tenant is required for role tenant and not allowed for other roles")
    token = "ozgb_" + random.token_urlsafe(32)
    try:
        key = ApiKey(id=key_id, role=role, tenant=tenant, sha256=token_sha256(token))
    except ValidationError as exc:
        fail("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()))
    entry = key.model_dump(mode="json", exclude_defaults=True)
    if not write:
        err.print("Token (shown once — give it to the key's holder, store it nowhere else):")
        print(token)
        err.print("Add this entry under `keys:` in keys.yaml:")
        print("  - " + json.dumps(entry))
        return
    directory = config_dir or Path(os.environ.get("OZGBRIDGE_CONFIG_DIR", "config"))
    keys_file = directory / KEYS_FILE
    if not directory.is_dir():
        fail(f"{directory} is not a configuration directory (use --config)")
    try:
        line = keyfile.add_key(keys_file, key, keyfile.tenant_ids(directory))
    except ConfigError as exc:
        for problem in exc.problems:
            show(problem)
        raise SystemExit(1) from exc
    err.print(f"Added key {key_id!r} to {keys_file}:{line}.", highlight=False)
    err.print("Token (shown once — give it to the key's holder, store it nowhere else):")
    print(token)
    err.print(
        "Running processes use it after a reload: kill -HUP <pid>, or POST /v1/admin/reload.",
        highlight=False,
    )


@click.group()
def secrets() -> None:
    """Secrets for connectors."""


def webhook_secret(size: int = 32) -> str:
    """A fresh Standard Webhooks signing secret: ``whsec_`` + base64 of ``size`` random bytes."""
    low, high = WEBHOOK_SECRET_BYTES
    if not low <= size <= high:
        raise ValueError(f"a webhook secret has {low}–{high} bytes")
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(random.token_bytes(size)).decode("ascii")


@secrets.command("webhook")
@click.option(
    "--bytes",
    "size",
    type=click.IntRange(*WEBHOOK_SECRET_BYTES),
    default=32,
    show_default=True,
    help="random bytes in the secret",
)
def secrets_webhook(size: int) -> None:
    """Print a fresh whsec_ signing secret for an http route (Standard Webhooks).

    Give it to the back-end, store it where ozgbridge reads it (a file or an environment
    variable) and reference it: signing_secret: "${file:/run/secrets/NAME}".
    """
    print(webhook_secret(size))
    err.print(
        "Store it as a secret (file or environment variable), give the same value to the "
        'back-end, and reference it in the route: signing_secret: "${file:/run/secrets/…}"',
        highlight=False,
    )
