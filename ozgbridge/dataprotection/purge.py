"""Purging content past its retention — a periodic task in worker processes, and `ozgbridge purge`.

One run: find the routes that still hold finished applications' personal data, group them by
retention policy, purge each group's due applications in batches (one transaction each) — first
their content (with their notes and finished portal events' bodies), then what is left over on
applications purged before (notes reported later, events finished since; see
`ozgbridge.store.purge`) — then delete idempotency records older than their window. Every run
that purged something — and every run an operator starts — is one ``retention.purged`` audit
event with the counts; application ids and content never go into it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.dataprotection.retention import RetentionPolicy, group_by_policy
from ozgbridge.deployment import Deployment
from ozgbridge.domain import utcnow
from ozgbridge.settings import Settings
from ozgbridge.store import idempotency_records
from ozgbridge.store import purge as store

log = structlog.get_logger("ozgbridge.dataprotection.purge")


@dataclass(frozen=True)
class PurgeReport:
    purged: store.Purged
    idempotency_records: int
    dry_run: bool
    stopped_early: bool = False

    @property
    def empty(self) -> bool:
        return self.purged == store.Purged() and self.idempotency_records == 0

    def details(self) -> dict[str, Any]:
        return {
            "applications": self.purged.applications,
            "attachments": self.purged.attachments,
            "content_bytes": self.purged.content_bytes,
            "notes": self.purged.notes,
            "event_bodies": self.purged.event_bodies,
            "idempotency_records": self.idempotency_records,
            "complete": not self.stopped_early,
        }


def defaults_of(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(settings.retention_delivered_days, settings.retention_dead_days)


async def purge(
    engine: AsyncEngine,
    deployment: Deployment,
    settings: Settings,
    *,
    actor: str,
    dry_run: bool = False,
    record_empty: bool = True,
    now: datetime | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[store.Purged], None] | None = None,
) -> PurgeReport:
    """One purge run. ``should_stop`` is asked between batches (shutdown); what was purged
    until then is committed and audited."""
    now = now or utcnow()
    batch = settings.purge_batch
    groups = group_by_policy(
        deployment, defaults_of(settings), await store.routes_holding_content(engine)
    )
    total = store.Purged()
    stopped = False
    for policy, pairs in groups.items():
        for status in store.FINISHED:
            before = policy.finished_before(status, now)
            for leftovers in (False, True):
                if dry_run:
                    total += await store.count_due(
                        engine, status, before, pairs, leftovers=leftovers
                    )
                    continue
                while not (stopped := should_stop()):
                    done = await store.purge_batch(
                        engine, status, before, pairs, limit=batch, now=now, leftovers=leftovers
                    )
                    total += done
                    if on_batch is not None and done.applications:
                        on_batch(done)
                    if done.applications < batch:
                        break
    idempotency = await _idempotency(engine, settings, now, dry_run=dry_run, batch=batch)
    report = PurgeReport(total, idempotency, dry_run, stopped_early=stopped)
    if not dry_run and (record_empty or not report.empty):
        await audit.record(
            engine,
            audit.AuditEvent(actor=actor, action="retention.purged", details=report.details()),
        )
    if dry_run:
        log.info("retention.dry_run", **report.details())
    else:
        log.info("retention.purged", **report.details())
    return report


async def _idempotency(
    engine: AsyncEngine, settings: Settings, now: datetime, *, dry_run: bool, batch: int
) -> int:
    before = now - timedelta(hours=settings.idempotency_window_hours)
    if dry_run:
        return await idempotency_records.count_before(engine, before)
    deleted = 0
    while True:
        done = await idempotency_records.delete_before(engine, before, limit=batch)
        deleted += done
        if done < batch:
            return deleted


class PurgeTask:
    """The periodic purge of a worker process: a run at start, then every ``purge_interval``."""

    def __init__(
        self,
        engine: AsyncEngine,
        deployment: Callable[[], Deployment],
        settings: Settings,
        *,
        actor: str,
    ) -> None:
        """``deployment`` gives the configuration running now (it may be reloaded)."""
        self.engine = engine
        self.deployment = deployment
        self.settings = settings
        self.actor = actor
        self._stopping = asyncio.Event()
        self.runs = 0  # completed runs, for tests and diagnostics
        self.ran = asyncio.Event()  # set after each completed run

    def stop(self) -> None:
        """Finish the current batch, then return from `run`."""
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await purge(
                    self.engine,
                    self.deployment(),
                    self.settings,
                    actor=self.actor,
                    record_empty=False,  # an idle deployment should not fill the chain
                    should_stop=self._stopping.is_set,
                )
            except Exception:
                # The database away, or a bug: content stays until the next run, nothing lost.
                log.exception("retention.purge_failed")
            self.runs += 1
            self.ran.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.purge_interval)
