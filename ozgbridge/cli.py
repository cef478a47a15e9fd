"""`ozgbridge …` — run the service, check configuration, manage the database, keys and audit log.

Every command reads process settings from ``OZGBRIDGE_*`` environment variables; options given
on the command line win. Exit codes: 0 ok, 1 a check found problems, 2 the command could not run.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click
import httpx
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url

from ozgbridge import __version__
from ozgbridge import audit as audit_log
from ozgbridge.cli_connectors import connectors
from ozgbridge.cli_report import report
from ozgbridge.errors import ConfigError, SchemaOutdatedError
from ozgbridge.logs import configure_logging
from ozgbridge.service import run_service
from ozgbridge.settings import Settings
from ozgbridge.store import migrate
from ozgbridge.store.engine import create_engine
from ozgbridge.tenants import load_deployment, token_sha256

out = Console()
err = Console(stderr=True)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for problem in exc.errors():
            field = ".".join(str(p) for p in problem["loc"])
            name = f"OZGBRIDGE_{field.upper()}" if field else "settings"
            err.print(f"[red]error[/red]: {name}: {problem['msg']}")
        raise SystemExit(2) from exc


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error[/red]: {message}", highlight=False)
    raise SystemExit(code)


@click.group()
@click.version_option(__version__, prog_name="ozgbridge")
def main() -> None:
    """ozgbridge — routes OZG online applications to the responsible authority and delivers them."""


def _run(settings: Settings, *, api: bool, worker: bool, upgrade: bool) -> None:
    configure_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(run_service(settings, api=api, worker=worker, upgrade=upgrade))
    except ConfigError as exc:
        _fail(f"configuration in {settings.config_dir} is not usable:\n{exc}")
    except SchemaOutdatedError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot start: {exc}")


_config_option = click.option(
    "--config",
    "config_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="configuration directory (tenants/, keys.yaml); default $OZGBRIDGE_CONFIG_DIR or ./config",
)
_upgrade_option = click.option(
    "--upgrade/--no-upgrade",
    default=False,
    help="apply pending database migrations before starting (default: refuse to start)",
)


@main.command()
@_config_option
@click.option("--host", help="address to listen on (default 127.0.0.1)")
@click.option("--port", type=int, help="port to listen on (default 8080)")
@_upgrade_option
def serve(config_dir: Path | None, host: str | None, port: int | None, upgrade: bool) -> None:
    """API and worker in one process (the embedded default, SQLite under var/)."""
    settings = _settings(config_dir=config_dir, host=host, port=port)
    _run(settings, api=True, worker=True, upgrade=upgrade)


@main.command()
@_config_option
@click.option("--host")
@click.option("--port", type=int)
@_upgrade_option
def api(config_dir: Path | None, host: str | None, port: int | None, upgrade: bool) -> None:
    """Only the HTTP API (scale out: any number of these on one PostgreSQL)."""
    settings = _settings(config_dir=config_dir, host=host, port=port)
    _run(settings, api=True, worker=False, upgrade=upgrade)


@main.command()
@_config_option
@_upgrade_option
def worker(config_dir: Path | None, upgrade: bool) -> None:
    """Only the delivery worker (scale out: any number of these on one PostgreSQL)."""
    _run(_settings(config_dir=config_dir), api=False, worker=True, upgrade=upgrade)


@main.group()
def config() -> None:
    """Configuration checks."""


@config.command("validate")
@click.argument("directory", type=click.Path(path_type=Path))
def config_validate(directory: Path) -> None:
    """Check tenants, routes, connector options, responsibilities and keys; exit 1 on problems."""
    try:
        deployment = load_deployment(directory)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(f"[red]✗[/red] {problem}", highlight=False, soft_wrap=True)
        err.print(f"{len(exc.problems)} problem(s) in {directory}", highlight=False)
        raise SystemExit(1) from exc
    for warning in deployment.warnings:
        where = f"{warning.file}:{warning.line}" if warning.line is not None else warning.file
        field = f"{warning.field}: " if warning.field else ""
        err.print(
            f"[yellow]{escape(f'{where}: warning: {field}{warning.message}')}[/yellow]",
            highlight=False,
            soft_wrap=True,
        )
    routes = sum(len(t.routes) for t in deployment.tenants.values())
    out.print(
        f"[green]✓[/green] {directory}: {len(deployment.tenants)} tenants, {routes} routes, "
        f"{len(deployment.keys)} keys — valid",
        highlight=False,
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations to $OZGBRIDGE_DATABASE_URL."""
    settings = _settings()
    try:
        asyncio.run(migrate.upgrade(settings.database_url, revision))
    except ConfigError as exc:
        _fail(str(exc))
    out.print(f"[green]✓[/green] database schema at {revision} ({_redacted(settings)})")


@db.command("current")
def db_current() -> None:
    """Print the schema revision of the database and the one this version needs."""

    async def show() -> str | None:
        engine = create_engine(_settings().database_url)
        try:
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    current = asyncio.run(show())
    out.print(f"database: {current or 'empty'}; code needs: {migrate.head_revision()}")
    if current != migrate.head_revision():
        raise SystemExit(1)


def _redacted(settings: Settings) -> str:
    return make_url(settings.database_url).render_as_string(hide_password=True)


@main.group()
def audit() -> None:
    """Audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 naming the first bad event."""

    async def check() -> audit_log.VerifyResult:
        engine = create_engine(_settings().database_url)
        try:
            return await audit_log.verify(engine)
        finally:
            await engine.dispose()

    result = asyncio.run(check())
    if result.ok:
        out.print(
            f"[green]✓[/green] audit chain intact: {result.checked} events, "
            f"head {result.last_hash[:16]}…"
        )
        return
    err.print(
        f"[red]✗[/red] audit chain broken at event {result.first_bad_seq}: {result.problem} "
        f"({result.checked} events before it verified)",
        highlight=False,
    )
    raise SystemExit(1)


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--id", "key_id", required=True, help="a name for the key, e.g. portal-hs")
@click.option(
    "--role", type=click.Choice(["portal", "tenant", "coordinator", "operator"]), required=True
)
@click.option("--tenant", help="tenant id (role tenant only)")
def keys_create(key_id: str, role: str, tenant: str | None) -> None:
    """Make a new token: printed once; only its hash goes into keys.yaml."""
    if (role == "tenant") != (tenant is not None):
        _fail("--tenant is required for role tenant and not allowed for other roles")
    token = "ozgb_" + secrets.token_urlsafe(32)
    digest = token_sha256(token)
    entry = {"id": key_id, "role": role, **({"tenant": tenant} if tenant else {}), "sha256": digest}
    err.print("Token (shown once — give it to the key's holder, store it nowhere else):")
    print(token)
    err.print("Add this entry under `keys:` in keys.yaml:")
    print("  - " + json.dumps(entry))


@main.command()
@click.argument("file", type=click.File("rb"))
@click.option(
    "--url",
    default=lambda: os.environ.get("OZGBRIDGE_URL", "http://127.0.0.1:8080"),
    show_default="$OZGBRIDGE_URL or http://127.0.0.1:8080",
)
@click.option(
    "--token", envvar="OZGBRIDGE_TOKEN", required=True, help="portal token ($OZGBRIDGE_TOKEN)"
)
@click.option("--idempotency-key", help="send an Idempotency-Key header")
def submit(file: Any, url: str, token: str, idempotency_key: str | None) -> None:
    """Send an application (JSON body of POST /v1/applications) — for trying a set-up."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/v1/applications", content=file.read(), headers=headers, timeout=30
        )
    except httpx.HTTPError as exc:
        _fail(f"could not reach {url}: {exc}")
        return
    try:
        body = json.dumps(response.json(), indent=2, ensure_ascii=False)
    except ValueError:
        body = response.text
    (out if response.is_success else err).print(f"HTTP {response.status_code}")
    print(body)
    if not response.is_success:
        raise SystemExit(1)


main.add_command(report)
main.add_command(connectors)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
