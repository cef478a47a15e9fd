"""`ozgbridge routes …`: list routes; pause, resume and test one (see cli_common)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.api.route_ops import route_out
from ozgbridge.cli_common import config_option, fail, settings_from_env
from ozgbridge.cli_ops_common import (
    cli_actor,
    format_option,
    out,
    print_json,
    route_key,
    run_on_database,
    show_time,
)
from ozgbridge.errors import ConfigError
from ozgbridge.operations import Operations, RouteRow, UnknownRoute
from ozgbridge.settings import Settings
from ozgbridge.tenants import load_deployment


@click.group()
def routes() -> None:
    """See routes; pause, resume and test them (works on the database directly)."""


def _operations(engine: AsyncEngine, settings: Settings, *, secrets: bool) -> Operations:
    # Pausing or listing needs tenants and routes only; a test builds the real connector.
    deployment = load_deployment(
        settings.config_dir, resolve_secrets=secrets, check_connectors=secrets
    )
    return Operations(engine, deployment, settings)


def _routes_table(rows: Sequence[RouteRow]) -> Table:
    table = Table(
        "tenant/route", "connector", "state", "pending", "delivering", "dead", "oldest pending",
        "last success (UTC)", "last failure (UTC)", "failures",
    )  # fmt: skip
    for r in rows:
        oldest = (
            f"{r.oldest_pending_seconds:.0f} s" if r.oldest_pending_seconds is not None else "–"
        )
        table.add_row(f"{r.tenant_id}/{r.route_id}", r.connector, str(r.state), str(r.pending),
                      str(r.delivering), str(r.dead), oldest, show_time(r.last_success_at),
                      show_time(r.last_failure_at), str(r.consecutive_failures))  # fmt: skip
    return table


@routes.command("list")
@config_option
@click.option("--tenant", help="only this tenant's routes")
@format_option
def routes_list(config_dir: Path | None, tenant: str | None, fmt: str) -> None:
    """Every configured route with its state and delivery figures."""
    settings = settings_from_env(config_dir=config_dir)

    async def work(engine: AsyncEngine) -> list[RouteRow]:
        operations = _operations(engine, settings, secrets=False)
        if tenant is not None and tenant not in operations.deployment.tenants:
            raise ConfigError(f"no tenant {tenant!r} in {settings.config_dir}")
        return await operations.route_rows([tenant] if tenant else None)

    rows = run_on_database(work, settings)
    if fmt == "json":
        print_json([route_out(r) for r in rows])
    else:
        out.print(_routes_table(rows))


def _route_command(name: str, doc: str) -> Callable[..., None]:
    @routes.command(name, help=doc)
    @click.argument("route")
    @click.option("--reason", help="why (kept in the route's history; max. 500 characters)")
    @config_option
    @format_option
    def command(route: str, reason: str | None, config_dir: Path | None, fmt: str) -> None:
        key = route_key(route)
        if reason is not None and len(reason) > 500:
            fail("--reason must be at most 500 characters")
        settings = settings_from_env(config_dir=config_dir)

        async def work(engine: AsyncEngine) -> RouteRow | None:
            operations = _operations(engine, settings, secrets=False)
            action = operations.pause if name == "pause" else operations.resume
            try:
                return await action(key, actor=cli_actor(), reason=reason)
            except UnknownRoute:
                return None

        row = run_on_database(work, settings)
        if row is None:
            fail(f"no route {route} in {settings.config_dir}", 1)
            return
        if fmt == "json":
            print_json(route_out(row))
        else:
            out.print(f"[green]✓[/green] {route}: {row.state}")

    return command


_route_command("pause", "Hold TENANT/ROUTE: applications are stored, not attempted; no rung used.")
_route_command("resume", "Lift the pause on TENANT/ROUTE (and close its breaker).")


@routes.command("test")
@click.argument("route")
@config_option
@format_option
def routes_test(route: str, config_dir: Path | None, fmt: str) -> None:
    """Send a signed synthetic ping through TENANT/ROUTE's real connector; exit 1 if it fails."""
    key = route_key(route)
    settings = settings_from_env(config_dir=config_dir)

    async def work(engine: AsyncEngine) -> Any:
        operations = _operations(engine, settings, secrets=True)
        try:
            return await operations.test_route(key, actor=cli_actor())
        except UnknownRoute:
            return None

    result = run_on_database(work, settings)
    if result is None:
        fail(f"no route {route} in {settings.config_dir}", 1)
    if fmt == "json":
        print_json({"ok": result.ok, "statusCode": result.status_code,
                     "durationMs": result.duration_ms, "error": result.error})  # fmt: skip
    else:
        status = f"HTTP {result.status_code}, " if result.status_code else ""
        if result.ok:
            out.print(f"[green]✓[/green] {route}: ok ({status}{result.duration_ms} ms)")
        else:
            out.print(f"[red]✗[/red] {route}: {status}{result.error} ({result.duration_ms} ms)")
    if not result.ok:
        raise SystemExit(1)
