"""`ozgbridge …` — run the service, check configuration, manage the database, keys and audit log.

Every command reads process settings from ``OZGBRIDGE_*`` environment variables; options given
on the command line win. Exit codes: 0 ok, 1 a check found problems, 2 the command could not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx

from ozgbridge import __version__
from ozgbridge.audit_keys import AuditKeyError
from ozgbridge.cli_audit import audit
from ozgbridge.cli_common import config_option, err, fail, out, settings_from_env, show
from ozgbridge.cli_config import config
from ozgbridge.cli_connectors import connectors
from ozgbridge.cli_data import data_keys, purge_command
from ozgbridge.cli_db import db
from ozgbridge.cli_deliveries import deliveries
from ozgbridge.cli_key_lifetime import keys_list, keys_rotate
from ozgbridge.cli_keys import keys, secrets
from ozgbridge.cli_report import report
from ozgbridge.cli_routes import routes
from ozgbridge.errors import (
    ConfigError,
    DatabaseUnavailable,
    DataProtectionError,
    SchemaOutdatedError,
)
from ozgbridge.logs import configure_logging
from ozgbridge.process_link import SupervisorLink
from ozgbridge.processes import GroupError, check_port, prepare_group, run_group
from ozgbridge.service import run_service
from ozgbridge.settings import Settings


@click.group()
@click.version_option(__version__, prog_name="ozgbridge")
def main() -> None:
    """ozgbridge — routes OZG online applications to the responsible authority and delivers them."""
    # Log lines go to standard error, so a command's output (JSON, a token) stays clean.
    configure_logging(
        os.environ.get("OZGBRIDGE_LOG_LEVEL", "INFO"),
        os.environ.get("OZGBRIDGE_LOG_FORMAT", "auto"),
    )


@contextlib.contextmanager
def _failing_cleanly(settings: Settings) -> Iterator[None]:
    """Start-up errors as one clear message and exit code 2, not a traceback."""
    try:
        yield
    except AuditKeyError as exc:
        fail(str(exc))
    except ConfigError as exc:
        for problem in [*exc.problems, *exc.warnings]:
            show(problem)
        fail(
            f"configuration in {settings.config_dir} is not usable "
            f"({len(exc.problems)} problem(s)); `ozgbridge config validate` shows the same"
        )
    except (SchemaOutdatedError, DataProtectionError, DatabaseUnavailable) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot start: {exc}")


def _run(
    settings: Settings,
    *,
    api: bool,
    worker: bool,
    upgrade: bool,
    create_keys: bool = False,
    supervisor: SupervisorLink | None = None,
) -> None:
    configure_logging(settings.log_level, settings.log_format, cache=True)
    with _failing_cleanly(settings):
        asyncio.run(
            run_service(
                settings,
                api=api,
                worker=worker,
                upgrade=upgrade,
                create_embedded_keys=create_keys,
                supervisor=supervisor,
            )
        )


def _run_group(settings: Settings, upgrade: bool) -> None:
    """``ozgbridge api --processes N`` (N > 1): the supervisor of N API processes."""
    configure_logging(settings.log_level, settings.log_format)
    with _failing_cleanly(settings):
        try:
            check_port(settings.host, settings.port)
            asyncio.run(prepare_group(settings, upgrade=upgrade))
            code = run_group(settings, settings.api_processes)
        except GroupError as exc:
            fail(str(exc))
    raise SystemExit(code)


_upgrade_option = click.option(
    "--upgrade/--no-upgrade",
    default=False,
    help="apply pending database migrations before starting (default: refuse to start)",
)


@main.command()
@config_option
@click.option("--host", help="address to listen on (default 127.0.0.1)")
@click.option("--port", type=int, help="port to listen on (default 8080)")
@_upgrade_option
def serve(config_dir: Path | None, host: str | None, port: int | None, upgrade: bool) -> None:
    """API and worker in one process (the embedded default, SQLite under var/)."""
    settings = settings_from_env(config_dir=config_dir, host=host, port=port)
    # On the embedded default only, the first start makes var/data-keys.yaml.
    _run(settings, api=True, worker=True, upgrade=upgrade, create_keys=True)


@main.command()
@config_option
@click.option("--host")
@click.option("--port", type=int)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    help="API processes sharing the port, one per core (default $OZGBRIDGE_API_PROCESSES or 1)",
)
# Set by the supervisor of `--processes N` for each of its processes (ozgbridge/processes.py).
@click.option("--supervisor-fd", type=int, hidden=True)
@_upgrade_option
def api(
    *,
    config_dir: Path | None,
    host: str | None,
    port: int | None,
    processes: int | None,
    supervisor_fd: int | None,
    upgrade: bool,
) -> None:
    """Only the HTTP API (scale out: any number of these on one PostgreSQL)."""
    settings = settings_from_env(
        config_dir=config_dir, host=host, port=port, api_processes=processes
    )
    if supervisor_fd is not None:  # one of a group: the supervisor did the once-only work
        link = SupervisorLink(supervisor_fd)
        _run(settings, api=True, worker=False, upgrade=False, supervisor=link)
    elif settings.api_processes > 1:
        _run_group(settings, upgrade)
    else:
        _run(settings, api=True, worker=False, upgrade=upgrade)


@main.command()
@config_option
@_upgrade_option
def worker(config_dir: Path | None, upgrade: bool) -> None:
    """Only the delivery worker (scale out: any number of these on one PostgreSQL)."""
    _run(settings_from_env(config_dir=config_dir), api=False, worker=True, upgrade=upgrade)


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
        fail(f"could not reach {url}: {exc}")
        return
    try:
        body = json.dumps(response.json(), indent=2, ensure_ascii=False)
    except ValueError:
        body = response.text
    (out if response.is_success else err).print(f"HTTP {response.status_code}")
    print(body)
    if not response.is_success:
        raise SystemExit(1)


for command in (
    config,
    db,
    audit,
    keys,
    secrets,
    report,
    deliveries,
    routes,
    data_keys,
    purge_command,
    connectors,
):
    main.add_command(command)
keys.add_command(keys_rotate)
keys.add_command(keys_list)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
