"""State a plug-in keeps in ozgbridge's database without SQL of its own (`Repository.plugin_state`).

A plug-in (a connector kind, an intake) gets named records: a key of its choosing, a short
``state`` it can list by ("what is still open?"), a JSON document, and optionally the
application and the delivery the record is about (deleted with them). Each plug-in sees only its
own records. What it keeps must be non-personal — ids, states, counters — like audit details:
it is operational state, not content.

Changes that belong together — a record, its audit events, a status reported back — go through
one `PluginTransaction`, so they commit together or not at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge import status as status_history
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import DeliveryState, utcnow
from ozgbridge.store import audit_log
from ozgbridge.store.tables import deliveries, plugin_records

__all__ = ["DeliveredByPlugin", "PluginRecord", "PluginState", "PluginTransaction"]

MAX_KEY_CHARS = 200
MAX_STATE_CHARS = 32
MAX_DATA_BYTES = 64 * 1024  # state, not content: ids and counters fit many times over
_PLUGIN_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class PluginRecord:
    key: str
    state: str | None
    data: dict[str, Any]
    application_id: str | None
    delivery_id: str | None
    # The delivery's route, when the record is about a delivery.
    tenant_id: str | None
    route_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeliveredByPlugin:
    """A delivery the plug-in's connector completed, which none of its records is about yet."""

    delivery_id: str
    application_id: str
    tenant_id: str
    route_id: str
    remote_reference: str | None


def _checked(key: str, state: str | None, data: Mapping[str, Any]) -> str:
    if not 0 < len(key) <= MAX_KEY_CHARS:
        raise ValueError(f"a plug-in record key has 1 to {MAX_KEY_CHARS} characters")
    if state is not None and not 0 < len(state) <= MAX_STATE_CHARS:
        raise ValueError(f"a plug-in record state has 1 to {MAX_STATE_CHARS} characters")
    text = json.dumps(dict(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode("utf-8")) > MAX_DATA_BYTES:
        raise ValueError(f"a plug-in record's data is at most {MAX_DATA_BYTES} bytes of JSON")
    return text


def _record(row: Any) -> PluginRecord:
    return PluginRecord(
        key=row.key,
        state=row.state,
        data=json.loads(row.data),
        application_id=row.application_id,
        delivery_id=row.delivery_id,
        tenant_id=row.tenant_id,
        route_id=row.route_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class PluginTransaction:
    """One transaction on one plug-in's records; see `PluginState.transaction`."""

    def __init__(self, conn: AsyncConnection, plugin: str, sealer: Sealer) -> None:
        self._conn = conn
        self.plugin = plugin
        self._sealer = sealer  # seals the portal event a status report makes (never the plug-in's)

    def _select(self) -> Any:
        return select(plugin_records, deliveries.c.tenant_id, deliveries.c.route_id).outerjoin(
            deliveries, deliveries.c.id == plugin_records.c.delivery_id
        )

    async def get(self, key: str) -> PluginRecord | None:
        row = (
            await self._conn.execute(
                self._select().where(
                    plugin_records.c.plugin == self.plugin, plugin_records.c.key == key
                )
            )
        ).first()
        return _record(row) if row is not None else None

    async def find(self, *, state: str | None = None, limit: int = 1000) -> list[PluginRecord]:
        """Records (in key order), only those in ``state`` if given; at most ``limit``."""
        query = self._select().where(plugin_records.c.plugin == self.plugin)
        if state is not None:
            query = query.where(plugin_records.c.state == state)
        rows = (await self._conn.execute(query.order_by(plugin_records.c.key).limit(limit))).all()
        return [_record(row) for row in rows]

    async def put(
        self,
        key: str,
        *,
        state: str | None = None,
        data: Mapping[str, Any] | None = None,
        application_id: str | None = None,
        delivery_id: str | None = None,
        only_if_new: bool = False,
    ) -> bool:
        """Create the record, or replace everything but its creation time; with ``only_if_new``
        an existing record stays as it is. Returns whether anything was written."""
        now = utcnow()
        values = {
            "plugin": self.plugin,
            "key": key,
            "state": state,
            "data": _checked(key, state, data or {}),
            "application_id": application_id,
            "delivery_id": delivery_id,
            "created_at": now,
            "updated_at": now,
        }
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(plugin_records).values(values)
        changed = ("state", "data", "application_id", "delivery_id", "updated_at")
        statement = (
            statement.on_conflict_do_nothing(index_elements=["plugin", "key"])
            if only_if_new
            else statement.on_conflict_do_update(
                index_elements=["plugin", "key"],
                set_={name: statement.excluded[name] for name in changed},
            )
        )
        result = await self._conn.execute(statement)
        return bool(result.rowcount)

    async def audit(self, *events: audit_log.AuditEvent) -> None:
        """Audit events in this transaction (non-personal details only, as always)."""
        await audit_log.append(self._conn, *events)

    async def record_status(
        self,
        *,
        application_id: str,
        source: str,
        status: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """What another system decided about an application (see `ozgbridge.status.record`)."""
        await status_history.record(
            self._conn,
            application_id=application_id,
            source=source,
            status=status,
            detail=detail,
            sealer=self._sealer,
        )


class PluginState:
    """The records of one plug-in, by its name (a connector or intake kind)."""

    def __init__(self, engine: AsyncEngine, plugin: str, *, sealer: Sealer) -> None:
        """``sealer``: the process's data keys, for what a status report stores (notes, portal
        event bodies)."""
        if not _PLUGIN_NAME.fullmatch(plugin):
            raise ValueError(f"{plugin!r} is not a plug-in name ([a-z][a-z0-9_-]*, 64 at most)")
        self.engine = engine
        self.plugin = plugin
        self._sealer = sealer

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PluginTransaction]:
        """Everything done through the yielded object commits together, or not at all."""
        async with self.engine.begin() as conn:
            yield PluginTransaction(conn, self.plugin, self._sealer)

    async def get(self, key: str) -> PluginRecord | None:
        async with self.engine.connect() as conn:
            return await PluginTransaction(conn, self.plugin, self._sealer).get(key)

    async def find(self, *, state: str | None = None, limit: int = 1000) -> list[PluginRecord]:
        async with self.engine.connect() as conn:
            tx = PluginTransaction(conn, self.plugin, self._sealer)
            return await tx.find(state=state, limit=limit)

    async def put(self, key: str, **fields: Any) -> bool:
        async with self.transaction() as tx:
            return await tx.put(key, **fields)

    async def untracked_deliveries(self, *, limit: int = 500) -> list[DeliveredByPlugin]:
        """Delivered deliveries of the connector kind named like this plug-in that no record of
        it is about yet: what a connector that follows up on its deliveries has still to pick up.
        """
        tracked = exists().where(
            and_(
                plugin_records.c.plugin == self.plugin,
                plugin_records.c.delivery_id == deliveries.c.id,
            )
        )
        query = (
            select(
                deliveries.c.id,
                deliveries.c.application_id,
                deliveries.c.tenant_id,
                deliveries.c.route_id,
                deliveries.c.remote_reference,
            )
            .where(
                deliveries.c.connector == self.plugin,
                deliveries.c.state == DeliveryState.DELIVERED,
                ~tracked,
            )
            .order_by(deliveries.c.delivered_at, deliveries.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            DeliveredByPlugin(
                delivery_id=row.id,
                application_id=row.application_id,
                tenant_id=row.tenant_id,
                route_id=row.route_id,
                remote_reference=row.remote_reference,
            )
            for row in rows
        ]
