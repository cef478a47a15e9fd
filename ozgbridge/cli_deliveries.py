"""`ozgbridge deliveries …`: list, show, replay and cancel deliveries (see cli_common)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click
from rich.table import Column, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.api.deliveries import detail_out, item_out
from ozgbridge.cli_common import fail, settings_from_env
from ozgbridge.cli_ops_common import (
    cli_actor,
    err,
    format_option,
    out,
    print_json,
    run_on_database,
    service_option_value,
    show_time,
    when_option_value,
)
from ozgbridge.domain import DeliveryState
from ozgbridge.errors import ActionRefused
from ozgbridge.ids import is_id
from ozgbridge.store.delivery_actions import DeliveryActions, DeliveryNotFound
from ozgbridge.store.delivery_views import DeliveryFilter, DeliveryItem, DeliveryViews


def _deliveries_table(items: Sequence[DeliveryItem]) -> Table:
    table = Table("created (UTC)", "tenant/route", "service", "state", "attempts", "next attempt",
                  "last error")  # fmt: skip
    table.columns.insert(0, Column("id", no_wrap=True, min_width=26))
    for i in items:
        table.add_row(
            i.id,
            show_time(i.created_at),
            f"{i.tenant_id}/{i.route_id}",
            i.service,
            str(i.state),
            str(i.attempts),
            show_time(i.next_attempt_at),
            i.last_error or "",
        )
    return table


@click.group()
def deliveries() -> None:
    """See, replay and cancel deliveries (works on the database directly)."""


@deliveries.command("list")
@click.option("--state", type=click.Choice([str(s) for s in DeliveryState]))
@click.option("--tenant", help="tenant id")
@click.option("--route", help="route id")
@click.option("--service", callback=service_option_value, help="LeiKa key")
@click.option(
    "--since", callback=when_option_value, help="created at or after: date/time, or 30m, 6h, 2d ago"
)
@click.option("--until", callback=when_option_value, help="created before: date/time, or an age")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--cursor", help="the id the previous page ended with (older ones follow)")
@format_option
def deliveries_list(
    *,
    state: str | None,
    tenant: str | None,
    route: str | None,
    service: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
    fmt: str,
) -> None:
    """Deliveries, newest first."""
    if cursor is not None and not is_id(cursor):
        fail("--cursor takes a delivery id (the last one of the previous page)")
    where = DeliveryFilter(
        state=DeliveryState(state) if state else None,
        tenants=[tenant] if tenant else None,
        route=route,
        service=service,
        since=since,
        until=until,
    )

    async def work(engine: AsyncEngine) -> tuple[list[DeliveryItem], str | None]:
        return await DeliveryViews(engine).page(where, limit=limit, below=cursor)

    items, boundary = run_on_database(work, settings_from_env())
    if fmt == "json":
        print_json({"items": [item_out(i).model_dump(mode="json", by_alias=True) for i in items],
                     "next": boundary})  # fmt: skip
        return
    if not items:
        out.print("no deliveries match")
        return
    out.print(_deliveries_table(items))
    if boundary is not None:
        err.print(f"more: --cursor {boundary}")


@deliveries.command("show")
@click.argument("delivery_id")
@format_option
def deliveries_show(delivery_id: str, fmt: str) -> None:
    """One delivery with every attempt."""

    async def work(engine: AsyncEngine) -> Any:
        views = DeliveryViews(engine)
        item = await views.get(delivery_id) if is_id(delivery_id) else None
        return (item, await views.attempts(delivery_id)) if item is not None else None

    found = run_on_database(work, settings_from_env())
    if found is None:
        fail(f"no delivery {delivery_id}", 1)
    item, attempts = found
    if fmt == "json":
        print_json(detail_out(item, attempts))
        return
    out.print(_deliveries_table([item]))
    for label, value in (
        ("application", item.application_id),
        ("connector", item.connector),
        ("ladder rung", str(item.rung)),
        ("remote reference", item.remote_reference or "–"),
        ("cancel reason", item.cancel_reason or "–"),
    ):
        out.print(f"{label}: {value}")
    table = Table("#", "started (UTC)", "duration", "outcome", "status", "error", title="attempts")
    for a in attempts:
        table.add_row(str(a.number), show_time(a.started_at), f"{a.duration_ms} ms", a.outcome,
                      str(a.status_code or ""), a.error or "")  # fmt: skip
    out.print(table)


@deliveries.command("replay")
@click.argument("ids", nargs=-1)
@click.option("--force", is_flag=True, help="replay delivered deliveries too (by id only)")
@click.option("--state", type=click.Choice(["dead", "cancelled"]), help="replay all in this state")
@click.option("--tenant", help="with --state: only this tenant")
@click.option("--route", help="with --state: only this route")
@click.option("--service", callback=service_option_value, help="with --state: only this LeiKa key")
@click.option("--since", callback=when_option_value, help="with --state: created at or after")
@click.option("--until", callback=when_option_value, help="with --state: created before")
@click.option("--dry-run", is_flag=True, help="with --state: only count the matches")
@format_option
def deliveries_replay(
    *,
    ids: tuple[str, ...],
    force: bool,
    state: str | None,
    tenant: str | None,
    route: str | None,
    service: str | None,
    since: datetime | None,
    until: datetime | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Replay deliveries by id, or every one matching --state (dead or cancelled) and filters.

    Same delivery id (back-ends drop duplicates), attempted at once, with a fresh retry ladder.
    """
    bulk_only = tenant or route or service or since or until or dry_run
    if bool(ids) == bool(state) or (ids and bulk_only):
        fail("give delivery ids, or --state with its filters (not both)")
    settings = settings_from_env()
    if state:
        where = DeliveryFilter(
            state=DeliveryState(state),
            tenants=[tenant] if tenant else None,
            route=route,
            service=service,
            since=since,
            until=until,
        )

        async def bulk(engine: AsyncEngine) -> Any:
            actions = DeliveryActions(engine, notify=settings.pg_notify)
            return await actions.bulk_replay(where, actor=cli_actor(), dry_run=dry_run)

        result = run_on_database(bulk, settings)
        if fmt == "json":
            print_json({"matched": result.matched, "replayed": result.replayed})
        else:
            verb = "would be replayed (dry run)" if dry_run else f"replayed: {result.replayed}"
            out.print(f"matched: {result.matched}; {verb}")
        return

    async def each(engine: AsyncEngine) -> list[tuple[str, str, str]]:
        actions = DeliveryActions(engine, notify=settings.pg_notify)
        results = []
        for delivery_id in ids:
            try:
                if not is_id(delivery_id):
                    raise DeliveryNotFound(delivery_id)
                await actions.replay(delivery_id, actor=cli_actor(), force=force)
                results.append((delivery_id, "pending", ""))
            except DeliveryNotFound:
                results.append((delivery_id, "not found", ""))
            except ActionRefused as refusal:
                results.append((delivery_id, "refused", str(refusal)))
        return results

    results = run_on_database(each, settings)
    _report(results, fmt)


def _report(results: list[tuple[str, str, str]], fmt: str) -> None:
    if fmt == "json":
        print_json([{"id": i, "result": r, "detail": d or None} for i, r, d in results])
    else:
        for delivery_id, result, detail in results:
            mark = "[green]✓[/green]" if not detail and result != "not found" else "[red]✗[/red]"
            out.print(f"{mark} {delivery_id}: {result}{': ' + detail if detail else ''}")
    if any(r in ("not found", "refused") for _, r, _ in results):
        raise SystemExit(1)


@deliveries.command("cancel")
@click.argument("delivery_id")
@click.option("--reason", required=True, help="why (kept with the delivery; max. 500 characters)")
@format_option
def deliveries_cancel(delivery_id: str, reason: str, fmt: str) -> None:
    """Never deliver this delivery (until replayed). A delivered one cannot be cancelled."""
    if not reason.strip() or len(reason) > 500:
        fail("--reason must be 1–500 characters")

    async def work(engine: AsyncEngine) -> tuple[str, str, str]:
        actions = DeliveryActions(engine)
        try:
            if not is_id(delivery_id):
                raise DeliveryNotFound(delivery_id)
            await actions.cancel(delivery_id, actor=cli_actor(), reason=reason.strip())
        except DeliveryNotFound:
            return (delivery_id, "not found", "")
        except ActionRefused as refusal:
            return (delivery_id, "refused", str(refusal))
        return (delivery_id, "cancelled", "")

    _report([run_on_database(work, settings_from_env())], fmt)
