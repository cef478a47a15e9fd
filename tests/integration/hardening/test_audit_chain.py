"""The keyed audit chain on both engines: what someone with database access but without the key
can and cannot do unnoticed, older unkeyed chains, every break listed, checkpoints."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit, audit_keys
from ozgbridge.audit_keys import AuditKeyError, AuditKeys
from ozgbridge.audit_verify import Checkpoint, head, verify
from ozgbridge.store.tables import audit_events

KEYS = AuditKeys((audit_keys.new_key("2026-12"),))


async def write(engine: AsyncEngine, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        await audit.record(engine, audit.AuditEvent("test", "test.event", details={"n": n}))


async def rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(select(audit_events).order_by(audit_events.c.seq)))


async def recompute(engine: AsyncEngine, *, from_seq: int, key_id: str | None) -> None:
    """What an attacker with database access can do: rewrite events and recompute every hash
    after them with plain SHA-256 (the key is not in the database)."""
    prev = None
    for row in await rows(engine):
        if row.seq < from_seq:
            prev = row.hash
            continue
        details = json.loads(row.details)
        if row.seq == from_seq:
            details = {"n": 999}
        document = audit.keyed_document(
            audit.event_document(
                seq=row.seq,
                at=row.at,
                actor=row.actor,
                action=row.action,
                tenant_id=row.tenant_id,
                application_id=row.application_id,
                delivery_id=row.delivery_id,
                details=details,
            ),
            key_id,
        )
        assert prev is not None
        digest = audit.chain_hash(prev, document)
        async with engine.begin() as conn:
            await conn.execute(
                update(audit_events)
                .where(audit_events.c.seq == row.seq)
                .values(
                    details=audit.canonical_json(details),
                    prev_hash=prev,
                    hash=digest,
                    key_id=key_id,
                )
            )
        prev = digest


async def test_keyed_events_verify_with_the_key_and_name_it(engine: AsyncEngine) -> None:
    audit.use_keys(KEYS)
    await write(engine, 4)

    stored = await rows(engine)
    result = await verify(engine, keys=KEYS)

    assert {row.key_id for row in stored} == {"2026-12"}
    assert (result.ok, result.events, result.unkeyed, result.last_seq) == (True, 4, 0, 4)
    assert result.last_hash == stored[-1].hash
    other = AuditKeys((audit_keys.new_key("2026-12"),))  # same id, another secret
    assert not (await verify(engine, keys=other)).ok
    with pytest.raises(AuditKeyError, match="OZGBRIDGE_AUDIT_KEY"):
        await verify(engine, keys=None)


@pytest.mark.parametrize("key_id", ["2026-12", None])
async def test_a_chain_recomputed_without_the_key_fails(
    engine: AsyncEngine, key_id: str | None
) -> None:
    audit.use_keys(KEYS)
    await write(engine, 6)

    await recompute(engine, from_seq=3, key_id=key_id)
    result = await verify(engine, keys=KEYS)

    assert not result.ok
    assert result.first_bad_seq == 3
    assert [b.seq for b in result.breaks] == [3, 4, 5, 6]  # every rewritten event is named
    if key_id is None:
        assert "after keyed chaining began" in result.breaks[0].problem
    else:
        assert "recomputed without the key" in result.breaks[0].problem


async def test_an_unkeyed_chain_keeps_verifying_and_keyed_events_follow_it(
    engine: AsyncEngine,
) -> None:
    audit.use_keys(None)  # a chain written before audit keys existed
    await write(engine, 3)
    first = await rows(engine)
    assert [row.key_id for row in first] == [None] * 3
    plain = audit.event_document(
        seq=1,
        at=first[0].at,
        actor="test",
        action="test.event",
        tenant_id=None,
        application_id=None,
        delivery_id=None,
        details={"n": 0},
    )
    assert (
        first[0].hash
        == hashlib.sha256((audit.GENESIS_HASH + audit.canonical_json(plain)).encode()).hexdigest()
    )
    assert (await verify(engine, keys=None)).ok

    audit.use_keys(KEYS)
    await write(engine, 2, start=3)
    result = await verify(engine, keys=KEYS)

    assert (result.ok, result.events, result.unkeyed) == (True, 5, 3)
    with pytest.raises(AuditKeyError):
        await verify(engine, keys=None)
    audit.use_keys(None)  # a process without the key must not append to a keyed chain
    with pytest.raises(AuditKeyError, match="OZGBRIDGE_AUDIT_KEY"):
        await write(engine, 1)
    assert len(await rows(engine)) == 5


async def test_every_break_is_listed_up_to_the_limit(engine: AsyncEngine) -> None:
    audit.use_keys(KEYS)
    await write(engine, 9)
    async with engine.begin() as conn:
        for seq in (2, 5):
            await conn.execute(
                update(audit_events).where(audit_events.c.seq == seq).values(actor="someone")
            )
        await conn.execute(delete(audit_events).where(audit_events.c.seq.in_([7, 8])))

    result = await verify(engine, keys=KEYS)
    limited = await verify(engine, keys=KEYS, limit=2)

    assert [(b.seq, b.problem.split(" (")[0]) for b in result.breaks] == [
        (2, "content does not match its hash"),
        (5, "content does not match its hash"),
        (7, "events 7–8 are missing"),
    ]
    assert (result.checked, result.truncated) == (1, False)
    assert [b.seq for b in limited.breaks] == [2, 5]
    assert limited.truncated


async def test_a_checkpoint_catches_deleted_last_events_and_a_rewritten_past(
    engine: AsyncEngine,
) -> None:
    audit.use_keys(None)  # an unkeyed (older) chain: recomputable, which checkpoints catch
    await write(engine, 5)
    checkpoint = await head(engine)
    assert checkpoint.seq == 5
    audit.use_keys(KEYS)
    await write(engine, 2, start=5)
    assert (await verify(engine, keys=KEYS, checkpoints=[checkpoint])).checkpoints_reached == 1

    async with engine.begin() as conn:
        await conn.execute(delete(audit_events).where(audit_events.c.seq >= 5))
    truncated = await verify(engine, keys=KEYS)
    caught = await verify(engine, keys=KEYS, checkpoints=[checkpoint])

    assert truncated.ok  # without an anchor, the last events can go unnoticed …
    assert not caught.ok  # … with one, they cannot
    assert "chain ends at event 4" in caught.breaks[0].problem

    # Rewritten instead: an event changed and the unkeyed chain recomputed, up to a new event 5.
    audit.use_keys(None)
    await write(engine, 1, start=50)
    await recompute(engine, from_seq=2, key_id=None)
    assert (await verify(engine, keys=KEYS)).ok  # consistent in itself …
    rewritten = await verify(engine, keys=KEYS, checkpoints=[checkpoint])

    assert [b.seq for b in rewritten.breaks] == [5]  # … but not the chain that was anchored
    assert "rewritten" in rewritten.breaks[0].problem


async def test_a_checkpoint_of_the_empty_chain_is_reached(engine: AsyncEngine) -> None:
    empty = await head(engine)
    assert (empty.seq, empty.hash) == (0, audit.GENESIS_HASH)
    result = await verify(engine, keys=KEYS, checkpoints=[Checkpoint(0, audit.GENESIS_HASH)])
    assert (result.ok, result.checkpoints_reached) == (True, 1)
