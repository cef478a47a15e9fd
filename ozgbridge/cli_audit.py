"""`ozgbridge audit …`: verify the chain (against checkpoints), take a checkpoint, make a key.

The database comes from ``OZGBRIDGE_DATABASE_URL``, the audit key from ``OZGBRIDGE_AUDIT_KEY``
(or the embedded default's ``var/audit-key.yaml``). Exit codes: 0 intact, 1 broken, 2 the
command could not run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from ozgbridge import audit_keys
from ozgbridge.audit_keys import AuditKeyError
from ozgbridge.audit_verify import (
    Checkpoint,
    VerifyResult,
    checkpoint_line,
    head,
    read_checkpoints,
    verify,
)
from ozgbridge.cli_common import database_problem, fail, settings_from_env
from ozgbridge.store.engine import DATABASE_ERRORS, create_engine


@click.group()
def audit() -> None:
    """Audit log."""


@audit.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="file of checkpoints (JSON lines with seq and hash) the chain must still reach",
)
@click.option("--max-breaks", default=100, show_default=True, type=click.IntRange(1))
def audit_verify(checkpoint_files: tuple[Path, ...], max_breaks: int) -> None:
    """Recompute the chain; exit 1 listing every break (up to --max-breaks)."""
    settings = settings_from_env()
    checkpoints: list[Checkpoint] = []
    try:
        for path in checkpoint_files:
            checkpoints += read_checkpoints(path)
        keys = audit_keys.for_tool(settings.database_url, settings.audit_key)
    except (ValueError, AuditKeyError) as exc:
        fail(str(exc))

    async def check() -> VerifyResult:
        engine = create_engine(settings.database_url)
        try:
            return await verify(engine, keys=keys, checkpoints=checkpoints, limit=max_breaks)
        finally:
            await engine.dispose()

    try:
        result = asyncio.run(check())
    except AuditKeyError as exc:
        fail(str(exc))
    except DATABASE_ERRORS as exc:
        fail(database_problem(settings, exc))
    unkeyed = f", {result.unkeyed} of them unkeyed (from before HMAC chaining)"
    summary = (
        f"{result.events} events{unkeyed if result.unkeyed else ''}, "
        f"head {result.last_seq} {result.last_hash[:16]}…"
    )
    if checkpoints:
        summary += f", {result.checkpoints_reached} of {len(checkpoints)} checkpoints reached"
    if result.ok:
        click.echo(f"✓ audit chain intact: {summary}")
        return
    more = f" (stopped after {max_breaks}; there are more)" if result.truncated else ""
    click.echo(f"✗ audit chain broken: {len(result.breaks)} problem(s){more}", err=True)
    for problem in result.breaks:
        click.echo(f"  {problem}", err=True)
    click.echo(f"  ({summary}; {result.checked} events verified before the first)", err=True)
    raise SystemExit(1)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Print the chain's head as one JSON line (seq, hash, at) to keep somewhere else."""
    settings = settings_from_env()

    async def take() -> Checkpoint:
        engine = create_engine(settings.database_url)
        try:
            return await head(engine)
        finally:
            await engine.dispose()

    try:
        taken = asyncio.run(take())
    except DATABASE_ERRORS as exc:
        fail(database_problem(settings, exc))
    click.echo(checkpoint_line(taken))


@audit.command("new-key")
@click.option("--id", "key_id", help="key id (default: the current month, e.g. 2026-12)")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write a new key file (mode 0600) instead of printing an entry for an existing one",
)
@click.option(
    "--add",
    "add_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="put the key first in this existing audit key file (it chains new events after a reload)",
)
def audit_new_key(key_id: str | None, out: Path | None, add_to: Path | None) -> None:
    """Make an audit key: a key file (--out), put first in the existing file (--add), or an
    entry to put first in it by hand."""
    if out is not None and add_to is not None:
        fail("--out makes a new key file, --add adds to an existing one: give one of them")
    try:
        key = audit_keys.new_key(key_id)
        if out is not None:
            audit_keys.create_file(out, key)
            click.echo(f"✓ {out}: audit key {key.id!r}; set OZGBRIDGE_AUDIT_KEY={out}")
            return
        if add_to is not None:
            ring = audit_keys.add_first(add_to, key)
            click.echo(
                f"✓ {add_to}: audit key {key.id!r} first, then "
                f"{', '.join(repr(k.id) for k in ring.keys[1:])}; it chains new events once "
                "each process reloads (SIGHUP, POST /v1/admin/reload, the file watch) or "
                "restarts. Keep the others as long as their events are to be verified."
            )
            return
    except AuditKeyError as exc:
        fail(str(exc))
    except FileExistsError:
        fail(f"{out} exists; an audit key file is never overwritten (add to it with --add)")
    except OSError as exc:
        fail(f"cannot write {out or add_to}: {exc}")
    click.echo(audit_keys.entry_line(key))
    click.echo(
        "put this entry first under `keys:` in the audit key file (or run this command with "
        "--add FILE); it chains new events; keep the others as long as their events are to be "
        "verified",
        err=True,
    )
