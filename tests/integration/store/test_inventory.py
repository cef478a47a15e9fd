"""`inventory` (behind `ozgbridge db check`), both engines: schema, counts, oldest open one."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.domain import utcnow
from ozgbridge.store.inventory import inventory
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import deliveries
from tests.factories import new_application


async def test_an_empty_database(engine: AsyncEngine) -> None:
    found = await inventory(engine)
    assert found.schema_current
    assert found.rows["applications"] == 0
    assert found.delivery_states == {}
    assert found.oldest_open is None


async def test_counts_and_the_oldest_open_delivery(engine: AsyncEngine) -> None:
    repo = Repository(engine)
    first, second, third = new_application(), new_application(), new_application()
    for application in (first, second, third):
        await repo.accept(application)
    # The first is delivered; of the two still open, the second is older than the third.
    async with engine.begin() as conn:
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.id == first.delivery_id)
            .values(state="delivered", delivered_at=utcnow())
        )

    found = await inventory(engine)

    assert found.dialect == engine.dialect.name
    assert found.rows["applications"] == 3
    assert found.rows["attachments"] == 3
    assert found.rows["audit_events"] >= 3
    assert found.delivery_states == {"delivered": 1, "pending": 2}
    assert found.oldest_open is not None
    assert found.oldest_open.delivery_id == second.delivery_id
    assert found.oldest_open.tenant_id == "erkelenz"
    assert found.oldest_open.created_at.tzinfo is not None
