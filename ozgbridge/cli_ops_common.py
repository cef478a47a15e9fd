"""What `ozgbridge deliveries …` and `ozgbridge routes …` share: the database, time arguments,
output.

These commands work on the database directly (``OZGBRIDGE_DATABASE_URL``), so they help when the
API is down, and do exactly what the API does: same checks, same audit events, with the actor
``cli:<login name>``. Tables on a terminal; ``--format json`` prints what the API would answer.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from pydantic import BaseModel
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.cli_common import database_problem, fail
from ozgbridge.domain import is_leika_key
from ozgbridge.errors import ConfigError, SchemaOutdatedError
from ozgbridge.logs import configure_logging
from ozgbridge.ops.when import parse_when
from ozgbridge.settings import Settings
from ozgbridge.store import migrate
from ozgbridge.store.engine import DATABASE_ERRORS, create_engine

# Piped into a file or another program there is no terminal width: use one wide enough for ids.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json: what the HTTP API answers, for scripts",
)


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container with a bare uid)
        return "cli:unknown"


def when_option_value(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> datetime | None:
    try:
        return parse_when(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def service_option_value(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> str | None:
    if value is not None and not is_leika_key(value):
        raise click.BadParameter(f"{value!r} is not a LeiKa key (14 digits starting with 99)")
    return value


def route_key(value: str) -> tuple[str, str]:
    tenant, slash, route = value.partition("/")
    if not slash or not tenant or not route:
        raise click.BadParameter(
            f"{value!r}: give the route as TENANT/ROUTE, e.g. erkelenz/gewerbe"
        )
    return tenant, route


def run_on_database(work: Callable[[AsyncEngine], Awaitable[T]], settings: Settings) -> T:
    """Run ``work`` on a current database; failures become messages and exit code 2."""

    # Standard output is the command's answer (a table, JSON for scripts): logs go to standard
    # error, warnings and errors only — what was done is in the answer and the audit log.
    configure_logging("WARNING", settings.log_format)

    async def main() -> T:
        engine = create_engine(settings.database_url)
        try:
            await migrate.ensure_current(engine)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except (SchemaOutdatedError, ConfigError) as exc:
        fail(str(exc))
    except DATABASE_ERRORS as exc:
        fail(database_problem(settings, exc))
    raise AssertionError("unreachable")


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        text = value.model_dump_json(by_alias=True, indent=2)
    elif isinstance(value, list) and all(isinstance(v, BaseModel) for v in value):
        text = json.dumps([v.model_dump(mode="json", by_alias=True) for v in value], indent=2)
    else:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    sys.stdout.write(text + "\n")


def show_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "–"
