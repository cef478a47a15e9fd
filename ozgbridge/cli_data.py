"""`ozgbridge data-keys create|rewrap` and `ozgbridge purge`: keys and lifetime of content."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.cli_common import database_problem, err, fail, out
from ozgbridge.dataprotection import keys as data_keys_file
from ozgbridge.dataprotection import rewrap as rewrapping
from ozgbridge.dataprotection.purge import PurgeReport, purge
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.dataprotection.startup import key_file
from ozgbridge.dataprotection.usage import Role, key_uses
from ozgbridge.errors import ConfigError, DataProtectionError, SchemaOutdatedError
from ozgbridge.logs import configure_logging
from ozgbridge.settings import Settings
from ozgbridge.store import migrate
from ozgbridge.store.engine import DATABASE_ERRORS, create_engine
from ozgbridge.store.sealed_values import KINDS, SealedValues, sealed_values
from ozgbridge.tenants import load_deployment


@contextmanager
def _key_and_store_errors(settings: Settings) -> Iterator[None]:
    """A key file or schema that cannot be used, or a database that cannot be reached, as one
    message and exit code 2 (`fail`), not a traceback."""
    try:
        yield
    except (DataProtectionError, SchemaOutdatedError) as exc:
        fail(str(exc))
    except DATABASE_ERRORS as exc:
        fail(database_problem(settings, exc))


async def _engine(settings: Settings) -> AsyncEngine:
    engine = create_engine(settings.database_url)
    try:
        await migrate.ensure_current(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine


@click.group("data-keys")
def data_keys() -> None:
    """Keys that seal form data and attachments at rest (OZGBRIDGE_DATA_KEYS)."""


@data_keys.command("create")
@click.option("--id", "key_id", help="key id (default: the current month, e.g. 2026-12)")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write a new key file with this key (mode 0600; never overwrites)",
)
@click.option(
    "--add",
    "add_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="put the key first in this existing key file (it seals new content after a reload)",
)
def data_keys_create(key_id: str | None, path: Path | None, add_to: Path | None) -> None:
    """A new random AES-256 key: an entry for the key file, a new key file (--file), or put
    first in the key file (--add)."""
    if path is not None and add_to is not None:
        fail("--file makes a new key file, --add adds to an existing one: give one of them")
    try:
        key = data_keys_file.new_key(key_id)
        if path is not None:
            data_keys_file.create_file(path, key)
        if add_to is not None:
            ring = data_keys_file.add_first(add_to, key)
    except DataProtectionError as exc:
        fail(str(exc))
    except FileExistsError:
        fail(f"{path} exists: add the key to it with --add {path} instead")
    except OSError as exc:
        fail(f"cannot write {path or add_to}: {exc}")
    if path is not None:
        err.print(f"wrote {path} (mode 0600) with key {key.id!r}", highlight=False)
        return
    if add_to is not None:
        err.print(
            f"{add_to}: key {key.id!r} first, then {', '.join(repr(i) for i in ring.ids[1:])}. "
            "Reload (SIGHUP or POST /v1/admin/reload) to seal new content with it, then run "
            "`ozgbridge data-keys rewrap`; keep the old keys until rewrap has finished.",
            highlight=False,
            soft_wrap=True,
        )
        return
    err.print(
        "Put this entry first under `keys:` in the key file (or run this command with --add "
        "FILE) to seal new content with it, then run `ozgbridge data-keys rewrap`; keep the old "
        "keys until rewrap has finished:"
    )
    print(data_keys_file.entry_line(key))


@data_keys.command("rewrap")
@click.option(
    "--batch",
    type=click.IntRange(min=1, max=10_000),
    default=100,
    show_default=True,
    help="applications per transaction",
)
def data_keys_rewrap(batch: int) -> None:
    """Re-seal everything stored under the first key (online; rerun to resume)."""
    settings = Settings()
    configure_logging(settings.log_level, "console")
    path = key_file(settings)
    if path is None:
        fail("no data keys: set OZGBRIDGE_DATA_KEYS to the key file")
    with _key_and_store_errors(settings):
        sealer = Sealer(data_keys_file.load(path))
        done, total = asyncio.run(_rewrap(settings, sealer, batch))
    out.print(
        f"[green]✓[/green] {done} of {total} application(s) re-sealed under data key "
        f"{sealer.key_id!r}; keys no longer in use can now be removed from {path}",
        highlight=False,
    )


@data_keys.command("usage")
def data_keys_usage() -> None:
    """How many stored values each data key sealed: which key can leave the key file, and
    whether anything is sealed under a key it lacks (exit 1; exit 2: could not look)."""
    settings = Settings()
    configure_logging("WARNING", "console")
    path = key_file(settings)
    with _key_and_store_errors(settings):
        ids = list(data_keys_file.load(path).ids) if path is not None else []
        uses = key_uses(ids, asyncio.run(_sealed_values(settings)))
    table = Table(box=None, header_style="bold")
    table.add_column("data key", no_wrap=True)
    for kind in KINDS:
        table.add_column(kind, justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for use in uses:
        table.add_row(use.key_id or "(plaintext)", *(f"{n:,}" for n in use.counts), use.role.value)
    out.print(f"{path or 'no data key file'}:", highlight=False)
    out.print(table)
    missing = [use for use in uses if use.role is Role.MISSING]
    if missing:
        fail(
            f"{sum(use.total for use in missing):,} stored value(s) are sealed under data "
            f"key(s) {', '.join(repr(use.key_id) for use in missing)}, which "
            f"{path or 'no key file'} does not hold: add them back to open those values",
            code=1,
        )


async def _sealed_values(settings: Settings) -> SealedValues:
    engine = await _engine(settings)
    try:
        return await sealed_values(engine)
    finally:
        await engine.dispose()


async def _rewrap(settings: Settings, sealer: Sealer, batch: int) -> tuple[int, int]:
    engine = await _engine(settings)
    try:
        total = await rewrapping.pending(engine, sealer)
        with Progress(
            TextColumn("re-sealing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        ) as progress:
            task = progress.add_task("rewrap", total=total)
            done = await rewrapping.rewrap(
                engine,
                sealer,
                batch=batch,
                actor="cli:data-keys-rewrap",
                on_batch=lambda n: progress.advance(task, n),
            )
        return done, total
    finally:
        await engine.dispose()


@click.command("purge")
@click.option(
    "--config",
    "config_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="configuration directory (retention per tenant/route); default $OZGBRIDGE_CONFIG_DIR",
)
@click.option("--dry-run", is_flag=True, help="count what is due, delete nothing")
def purge_command(config_dir: Path | None, dry_run: bool) -> None:
    """Delete form data, attachments, status notes and sent portal events' bodies past their
    retention, and expired idempotency records."""
    overrides: dict[str, Any] = {"config_dir": config_dir} if config_dir else {}
    settings = Settings(**overrides)
    configure_logging(settings.log_level, "console")
    try:
        # Retention lives in tenants and routes; connector options and secrets play no part.
        deployment = load_deployment(
            settings.config_dir, resolve_secrets=False, check_connectors=False
        )
        report = asyncio.run(_purge(settings, deployment, dry_run))
    except ConfigError as exc:
        fail(f"configuration in {settings.config_dir} is not usable:\n{exc}")
    except SchemaOutdatedError as exc:
        fail(str(exc))
    except DATABASE_ERRORS as exc:
        fail(database_problem(settings, exc))
    verb = "due (dry run, nothing deleted)" if dry_run else "purged"
    purged = report.purged
    out.print(
        f"[green]✓[/green] {verb}: content of {purged.applications} application(s) with "
        f"{purged.attachments} attachment(s), {purged.content_bytes} bytes; "
        f"{purged.notes} status note(s), {purged.event_bodies} portal event(s) emptied; "
        f"{report.idempotency_records} idempotency record(s)",
        highlight=False,
    )


async def _purge(settings: Settings, deployment: Any, dry_run: bool) -> PurgeReport:
    engine = await _engine(settings)
    try:
        return await purge(engine, deployment, settings, actor="cli:purge", dry_run=dry_run)
    finally:
        await engine.dispose()
