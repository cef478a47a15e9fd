"""What every ``ozgbridge`` sub-command module shares: consoles, settings, failing cleanly."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from ozgbridge.errors import ConfigProblem
from ozgbridge.settings import Settings
from ozgbridge.store.engine import redacted as redacted_url
from ozgbridge.store.engine import unusable

# Never wrap: messages carry paths and file:line an operator (or a script) copies whole.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def settings_from_env(**overrides: Any) -> Settings:
    """Process settings from ``OZGBRIDGE_*``; options given on the command line win."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for problem in settings_problems(exc):
            err.print(f"[red]error[/red]: {problem}", highlight=False)
        raise SystemExit(2) from exc


def settings_problems(exc: ValidationError) -> list[ConfigProblem]:
    """Settings errors as configuration problems, named by their environment variable."""
    problems = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(p) for p in error["loc"])
        name = f"OZGBRIDGE_{field.upper()}" if field else "settings (OZGBRIDGE_*)"
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(ConfigProblem("environment", name, message))
    return problems


def fail(message: str, code: int = 2) -> NoReturn:
    # Escaped: messages carry exception texts and paths, which may hold ``[…]``.
    err.print(f"[red]error[/red]: {escape(message)}", highlight=False)
    raise SystemExit(code)


def database_problem(settings: Settings, exc: BaseException) -> str:
    """A database that cannot be reached or used (`store.engine.DATABASE_ERRORS`), in one
    line."""
    return str(unusable(settings.database_url, exc))


def redacted(settings: Settings) -> str:
    return redacted_url(settings.database_url)


def show(problem: ConfigProblem) -> None:
    """One problem on stderr: ``✗ file:line: field: message`` for errors, ``! file:line:
    warning: field: message`` for warnings (escaped: a message may hold ``[…]``)."""
    mark = "[red]✗[/red]" if problem.severity == "error" else "[yellow]![/yellow]"
    err.print(f"{mark} {escape(str(problem))}", highlight=False, soft_wrap=True)


config_option = click.option(
    "--config",
    "config_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="configuration directory (tenants/, keys.yaml); default $OZGBRIDGE_CONFIG_DIR or ./config",
)
