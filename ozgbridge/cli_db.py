"""``ozgbridge db …``: schema, health of the data (the audit log: cli_audit.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import click

from ozgbridge.cli_common import (
    database_problem,
    err,
    fail,
    out,
    redacted,
    settings_from_env,
)
from ozgbridge.domain import utcnow
from ozgbridge.errors import ConfigError
from ozgbridge.store import migrate
from ozgbridge.store.engine import DATABASE_ERRORS, create_engine
from ozgbridge.store.inventory import Inventory, inventory


@click.group()
def db() -> None:
    """Database schema and contents."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations to $OZGBRIDGE_DATABASE_URL."""
    settings = settings_from_env()
    try:
        asyncio.run(migrate.upgrade(settings.database_url, revision))
    except ConfigError as exc:
        fail(str(exc))
    except DATABASE_ERRORS as exc:
        fail(database_problem(settings, exc))
    out.print(f"[green]✓[/green] database schema at {revision} ({redacted(settings)})")


@db.command("current")
def db_current() -> None:
    """Print the schema revision of the database and the one this version needs."""

    settings = settings_from_env()

    async def show() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    try:
        current = asyncio.run(show())
    except DATABASE_ERRORS as exc:
        fail(database_problem(settings, exc))
    out.print(f"database: {current or 'empty'}; code needs: {migrate.head_revision()}")
    if current != migrate.head_revision():
        raise SystemExit(1)


def _age(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days {seconds % 86400 // 3600} h"


def _document(found: Inventory, now: datetime) -> dict[str, Any]:
    oldest = found.oldest_open
    return {
        "engine": found.dialect,
        "schema": {"revision": found.revision, "head": found.head, "current": found.schema_current},
        "rows": found.rows,
        "deliveries": found.delivery_states,
        "oldestOpenDelivery": None
        if oldest is None
        else {
            "deliveryId": oldest.delivery_id,
            "applicationId": oldest.application_id,
            "tenant": oldest.tenant_id,
            "route": oldest.route_id,
            "state": oldest.state,
            "attempts": oldest.attempts,
            "createdAt": oldest.created_at.isoformat(),
            "ageSeconds": int((now - oldest.created_at).total_seconds()),
            "nextAttemptAt": oldest.next_attempt_at.isoformat(),
            "lastError": oldest.last_error,
        },
    }


@db.command("check")
@click.option("--json", "as_json", is_flag=True, help="one JSON document (for monitoring)")
def db_check(as_json: bool) -> None:
    """Schema revision, rows per table, deliveries by state and the oldest unfinished delivery.

    Exit 0 when the schema is current, 1 when it is not, 2 when the database cannot be read.
    """
    settings = settings_from_env()

    async def read() -> Inventory:
        engine = create_engine(settings.database_url)
        try:
            return await inventory(engine)
        finally:
            await engine.dispose()

    try:
        found = asyncio.run(read())
    except DATABASE_ERRORS as exc:
        fail(database_problem(settings, exc))
    now = utcnow()
    if as_json:
        click.echo(json.dumps(_document(found, now), indent=2))
    else:
        _print(found, now, redacted(settings))
    if not found.schema_current:
        raise SystemExit(1)


def _print(found: Inventory, now: datetime, where: str) -> None:
    out.print(f"database: {where} ({found.dialect})", highlight=False)
    if found.schema_current:
        out.print(f"[green]✓[/green] schema {found.revision} (current)", highlight=False)
    else:
        state = found.revision or "empty"
        err.print(
            f"[red]✗[/red] schema {state}, this version needs {found.head}: "
            "run `ozgbridge db upgrade`",
            highlight=False,
        )
    for table, rows in found.rows.items():
        line = f"  {table:<24} {rows:>12,}"
        if table == "deliveries" and found.delivery_states:
            states = ", ".join(f"{s} {n:,}" for s, n in sorted(found.delivery_states.items()))
            line += f"  ({states})"
        out.print(line, highlight=False)
    oldest = found.oldest_open
    if oldest is None:
        out.print("oldest unfinished delivery: none", highlight=False)
        return
    waiting = now - oldest.created_at
    mark = "[yellow]![/yellow] " if waiting > timedelta(hours=1) else ""
    out.print(
        f"{mark}oldest unfinished delivery: {oldest.delivery_id} (application "
        f"{oldest.application_id}, {oldest.tenant_id}/{oldest.route_id}), {oldest.state} for "
        f"{_age(oldest.created_at, now)}, {oldest.attempts} attempts, next "
        f"{oldest.next_attempt_at.isoformat(timespec='seconds')}"
        + (f", last error: {oldest.last_error}" if oldest.last_error else ""),
        highlight=False,
        soft_wrap=True,
    )
