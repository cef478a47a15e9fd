"""Intake and read side of the store: accepting applications, idempotency, status views."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit, metrics
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import Envelope, utcnow
from ozgbridge.errors import IdempotencyKeyTaken
from ozgbridge.store.acceptance import (
    Acceptance,
    AcceptanceRows,
    acceptance_size,
    content_size,
    seal_content,
)
from ozgbridge.store.application_view import read_application
from ozgbridge.store.batching import Failed, GroupCommit
from ozgbridge.store.bulk_insert import insert_rows
from ozgbridge.store.demand import record_refusal
from ozgbridge.store.envelopes import as_delivery_error, read_envelopes
from ozgbridge.store.idempotency_records import find_many
from ozgbridge.store.notify import CHANNEL
from ozgbridge.store.payloads import payload_sizes
from ozgbridge.store.plugin_state import PluginState
from ozgbridge.store.purge import purged_at_for_update
from ozgbridge.store.records import (
    ApplicationView,
    ClaimedDelivery,
    IdempotencyRecord,
    NewApplication,
)
from ozgbridge.store.tables import (
    applications,
    attachments,
    deliveries,
    idempotency_keys,
)

# Content beyond this is sealed on a thread and committed in the group of large acceptances.
LARGE_CONTENT = 256 * 1024

__all__ = ["IdempotencyKeyTaken", "Repository"]


class Repository:
    """The one interface to stored applications; works the same on SQLite and PostgreSQL."""

    def __init__(
        self, engine: AsyncEngine, *, notify: bool = True, sealer: Sealer | None = None
    ) -> None:
        """``sealer`` seals content at rest; without one it is stored in plaintext, which a
        process only does when the operator allowed it (see `ozgbridge.dataprotection.startup`).
        """
        self.engine = engine
        self.sealer = sealer if sealer is not None else Sealer.plaintext()
        # On PostgreSQL, tell workers in other processes that work arrived (see notify.py).
        self.notify = notify and engine.dialect.name == "postgresql"
        # Small acceptances, one transaction at a time: those that arrive during a flush share
        # the next one. A second flusher overlapped little (both queue on the audit chain's lock,
        # then commit) and halved the batches: each transaction costs about 1 ms of CPU in this
        # process whatever its size, so halving them cut the API's CPU per application by ~10 %.
        self._group: GroupCommit[Acceptance, None] = GroupCommit(
            self._flush, size_of=acceptance_size, flushers=1
        )
        # Large ones (each near a batch's byte limit on its own) gain nothing from company, and
        # writing their content is most of their transaction: two flushes overlap those writes.
        # Queued one at a time, ten 20 MiB uploads waited for each other with their content in
        # memory (peak +70 MiB in `./dev bench --only memory`).
        self._large: GroupCommit[Acceptance, None] = GroupCommit(
            self._flush, size_of=acceptance_size, flushers=2
        )
        # Idempotency-Key lookups that arrive together share one query (see `find_idempotent`).
        self._lookups: GroupCommit[tuple[str, str], IdempotencyRecord | None] = GroupCommit(
            self._find_idempotent_many
        )

    def plugin_state(self, plugin: str) -> PluginState:
        """The records plug-in ``plugin`` (a connector or intake kind) keeps in this store."""
        return PluginState(self.engine, plugin, sealer=self.sealer)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def find_idempotent(self, api_key_id: str, key: str) -> IdempotencyRecord | None:
        """The stored answer to ``key`` of API key ``api_key_id``, if there is one.

        Every submission with an Idempotency-Key asks this first. Asked one query each, the
        round trips cost more than the rest of the submission; so lookups that arrive while
        another is running are answered together by the next query (a lone one at once).
        """
        return await self._lookups.submit((api_key_id, key))

    async def _find_idempotent_many(
        self, wanted: list[tuple[str, str]]
    ) -> list[IdempotencyRecord | None]:
        return await find_many(self.engine, wanted)

    async def accept(
        self, new: NewApplication, *, idempotency: IdempotencyRecord | None = None
    ) -> None:
        """Store application, attachments, delivery, idempotency answer and audit events.

        Returns once committed — together with whatever other acceptances arrived meanwhile (see
        batching.py). Raises `IdempotencyKeyTaken` when a concurrent request with the same key
        won the race.
        """
        # Sealed here, per request, so the serialised group commit does no cryptography; large
        # content off the event loop, as the API parses it (about 4 ms per MB here).
        large = content_size(new) > LARGE_CONTENT
        if self.sealer.sealing and large:
            sealed = await asyncio.to_thread(seal_content, new, self.sealer)
        else:
            sealed = seal_content(new, self.sealer)
        await (self._large if large else self._group).submit((new, idempotency, sealed))
        metrics.APPLICATIONS_RECEIVED.labels(new.tenant_id, new.leika_key).inc()

    async def record_unmet_demand(self, leika_key: str, ars: str) -> bool:
        """Count a submission refused because nobody is responsible (see store/demand.py)."""
        return await record_refusal(self.engine, leika_key, ars, utcnow())

    async def _flush(self, items: list[Acceptance]) -> list[Failed | None]:
        try:
            await self._store(items)
        except IntegrityError as exc:
            if len(items) == 1:
                return [await self._explain(items[0], exc)]
            # One bad apple (usually an Idempotency-Key race): give each its own transaction so
            # only that request fails.
            return [await self._store_alone(item) for item in items]
        return [None] * len(items)

    async def _store_alone(self, item: Acceptance) -> Failed | None:
        try:
            await self._store([item])
        except IntegrityError as exc:
            return await self._explain(item, exc)
        except Exception as exc:
            return Failed(exc)
        return None

    async def _explain(self, item: Acceptance, exc: IntegrityError) -> Failed:
        idempotency = item[1]
        if idempotency is not None and await self.find_idempotent(
            idempotency.api_key_id, idempotency.key
        ):
            taken = IdempotencyKeyTaken(idempotency.key)
            taken.__cause__ = exc
            return Failed(taken)
        return Failed(exc)

    async def _store(self, items: list[Acceptance]) -> None:
        """Write a batch of acceptances in one transaction (one lock hold, one fsync).

        Every statement is a round trip to the database; each costs more than writing another
        row of a batch, so there are as few as possible: one per table (none for a table without
        rows), and the workers' wake-up (NOTIFY) rides on the audit chain's lock statement. Rows
        go in through `insert_rows`, which spares SQLAlchemy's work per row.
        """
        rows = AcceptanceRows.of(items, utcnow())
        async with self.engine.begin() as conn:
            await insert_rows(conn, applications, rows.applications)
            await insert_rows(conn, attachments, rows.attachments)
            await insert_rows(conn, deliveries, rows.deliveries)
            await insert_rows(conn, idempotency_keys, rows.idempotency_keys)
            # Last, so the chain's lock is held as briefly as possible.
            await audit.append(conn, *rows.events, notify=CHANNEL if self.notify else None)

    async def get_application(self, application_id: str) -> ApplicationView | None:
        """The status view of one application (no content), or None."""
        return await read_application(self.engine, self.sealer, application_id)

    async def payload_sizes(self, application_ids: Sequence[str]) -> dict[str, int]:
        """Bytes of content (form data and attachments) of each application, by id."""
        return await payload_sizes(self.engine, application_ids)

    async def load_envelope(self, claimed: ClaimedDelivery, *, tenant_name: str) -> Envelope:
        """Everything the connector needs for this attempt, contents opened.

        Raises a `DeliveryError` when the content cannot be opened (see `envelopes`).
        """
        found, unreadable = await read_envelopes(
            self.engine, self.sealer, [claimed], {claimed.tenant_id: tenant_name}
        )
        if claimed.id in unreadable:
            problem = unreadable[claimed.id]
            raise as_delivery_error(problem) from problem
        return found[claimed.id]

    async def load_envelopes(
        self,
        claimed: Sequence[ClaimedDelivery],
        tenant_names: Mapping[str, str],
        *,
        max_size: int | None = None,
    ) -> dict[str, Envelope]:
        """Envelopes for a whole claimed batch in a few queries, keyed by delivery id; with
        ``max_size``, only those with at most that many bytes of content.

        A delivery whose content cannot be opened is left out; `load_envelope` then tells why.
        """
        found, _unreadable = await read_envelopes(
            self.engine, self.sealer, claimed, tenant_names, max_size=max_size
        )
        return found

    async def content_purged_at(self, application_id: str) -> datetime | None:
        """When retention purged this application's content; None while it is kept.

        A replay must refuse a purged application (409). To decide that race-free, check under
        the application's row lock in the replay's own transaction: `purged_at_for_update`.
        """
        async with self.engine.connect() as conn:
            return await purged_at_for_update(conn, application_id, lock=False)
