"""Upgrading a database that holds applications from before encryption: they keep working, and
`rewrap` seals them. Also: what a worker gets for content it cannot open."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.dataprotection import keys
from ozgbridge.dataprotection.rewrap import rewrap
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.errors import RetriableDeliveryError
from ozgbridge.store.engine import create_engine
from ozgbridge.store.migrate import upgrade
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.repository import Repository
from tests.factories import new_application
from tests.sealed import stored

BEFORE_ENCRYPTION = "0002"  # the schema this feature's migration starts from

INSERTS = [
    """INSERT INTO applications (id, tenant_id, leika_key, service_name, ars, ags, reference,
        submitted_by, status, data_mime_type, data_schema_uri, data_sha256, data_size, data,
        received_at, updated_at)
       VALUES ('01JOLDAPPLICATION000000001', 'erkelenz', '99050012104000', 'Gewerbe',
        '053700004004', '05370004', NULL, 'portal', 'received', 'application/json', NULL,
        :digest, 9, :data, :at, :at)""",
    """INSERT INTO attachments (id, application_id, position, filename, mime_type, purpose,
        sha256, size, content)
       VALUES ('01JOLDATTACHMENT0000000001', '01JOLDAPPLICATION000000001', 0,
        'Müller Ausweis.pdf', 'application/pdf', 'attachment', :digest, 4, :content)""",
    """INSERT INTO deliveries (id, application_id, tenant_id, route_id, connector, state,
        attempts, next_attempt_at, created_at, updated_at)
       VALUES ('01JOLDDELIVERY000000000001', '01JOLDAPPLICATION000000001', 'erkelenz',
        'gewerbe', 'filedrop', 'pending', 0, :at, :at, :at)""",
]


async def test_content_from_before_encryption_reads_and_rewraps(
    empty_database_url: str, sealer: Sealer
) -> None:
    await upgrade(empty_database_url, BEFORE_ENCRYPTION)
    engine = create_engine(empty_database_url)
    try:
        values = {
            "digest": "0" * 64,
            "data": b'{"a": 1}\n',
            "content": b"%PDF",
            "at": datetime(2026, 11, 1, tzinfo=UTC).replace(tzinfo=None),
        }
        async with engine.begin() as conn:
            for insert in INSERTS:
                await conn.execute(text(insert), values)
        await upgrade(empty_database_url)

        [claimed] = await DeliveryQueue(engine).claim("w", limit=5, lease_seconds=30)
        envelope = await Repository(engine, sealer=sealer).load_envelope(claimed, tenant_name="E")
        assert envelope.data.content == b'{"a": 1}\n'
        [attachment] = envelope.attachments
        assert (attachment.filename, attachment.content) == ("Müller Ausweis.pdf", b"%PDF")

        assert await rewrap(engine, sealer, batch=10, actor="test") == 1
        content = await stored(engine, sealer, claimed.application_id)
        assert content.data_key_id == sealer.key_id
        assert content.attachments == [("Müller Ausweis.pdf", b"%PDF")]
        assert b"M\xc3\xbcller" not in content.raw_attachments[0][0]
    finally:
        await engine.dispose()


async def test_content_under_a_missing_key_fails_only_its_delivery(
    engine: AsyncEngine, sealer: Sealer, tmp_path: Path
) -> None:
    lost = Sealer(keys.create_file(tmp_path / "lost.yaml", keys.new_key("lost")))
    missing = new_application()
    await Repository(engine, sealer=lost).accept(missing)
    fine = new_application()
    repo = Repository(engine, sealer=sealer)
    await repo.accept(fine)
    claimed = await DeliveryQueue(engine).claim("w", limit=5, lease_seconds=30)

    envelopes = await repo.load_envelopes(claimed, {})

    assert [e.application_id for e in envelopes.values()] == [fine.id]
    [broken] = [c for c in claimed if c.application_id == missing.id]
    with pytest.raises(RetriableDeliveryError, match="data key 'lost' is not configured"):
        await repo.load_envelope(broken, tenant_name="E")
