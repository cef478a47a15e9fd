"""What a database holds, for ``ozgbridge db check``: schema, row counts, the oldest open delivery.

Read-only, one short transaction, on both engines. Counting is exact (``COUNT(*)``): the check
is run by hand or by a monitoring job now and then, not per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store import migrate
from ozgbridge.store.tables import UNFINISHED_SQL, deliveries, metadata


@dataclass(frozen=True)
class OpenDelivery:
    """The unfinished delivery waiting longest (ids and states only)."""

    delivery_id: str
    application_id: str
    tenant_id: str
    route_id: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None


@dataclass(frozen=True)
class Inventory:
    dialect: str
    revision: str | None
    head: str
    rows: dict[str, int]  # table → rows, for the ozgbridge tables that exist
    delivery_states: dict[str, int]
    oldest_open: OpenDelivery | None

    @property
    def schema_current(self) -> bool:
        return self.revision == self.head


async def inventory(engine: AsyncEngine) -> Inventory:
    revision = await migrate.current_revision(engine)
    async with engine.connect() as conn:
        existing = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        rows: dict[str, int] = {}
        for table in metadata.sorted_tables:
            if table.name in existing:
                count = select(func.count()).select_from(table)
                rows[table.name] = int((await conn.execute(count)).scalar_one())
        states: dict[str, int] = {}
        oldest: OpenDelivery | None = None
        if deliveries.name in existing:
            by_state = select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
            states = {state: int(n) for state, n in (await conn.execute(by_state)).all()}
            row = (
                await conn.execute(
                    select(
                        deliveries.c.id,
                        deliveries.c.application_id,
                        deliveries.c.tenant_id,
                        deliveries.c.route_id,
                        deliveries.c.state,
                        deliveries.c.attempts,
                        deliveries.c.created_at,
                        deliveries.c.next_attempt_at,
                        deliveries.c.last_error,
                    )
                    .where(text(UNFINISHED_SQL))
                    .order_by(deliveries.c.created_at, deliveries.c.id)
                    .limit(1)
                )
            ).first()
            if row is not None:
                oldest = OpenDelivery(*row)
    return Inventory(
        dialect=engine.dialect.name,
        revision=revision,
        head=migrate.head_revision(),
        rows=rows,
        delivery_states=states,
        oldest_open=oldest,
    )
