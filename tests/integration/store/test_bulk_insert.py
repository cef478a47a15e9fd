"""`insert_rows` and `execute_rows` write what `Connection.execute(statement, rows)` writes, on
both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge.ids import new_id
from ozgbridge.store.bulk_insert import execute_rows, insert_rows
from ozgbridge.store.tables import UTCDateTime, api_key_usage, audit_events

WHEN = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)


def events(first_seq: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "seq": first_seq + n,
            # another zone on purpose: the column type must turn it into UTC
            "at": (WHEN + timedelta(seconds=n)).astimezone(timezone(timedelta(hours=2))),
            "actor": "key:portal",
            "action": "application.received",
            "tenant_id": "erkelenz" if n % 2 else None,
            "application_id": new_id(),
            "delivery_id": None,
            "details": '{"ä":1}',
            "prev_hash": "0" * 64,
            "hash": f"{n:064x}",
            "key_id": None,
        }
        for n in range(count)
    ]


async def stored(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(audit_events).order_by(audit_events.c.seq))).all()
    return [tuple(row)[1:] for row in rows]  # without seq, which differs on purpose


async def test_rows_read_back_as_sqlalchemy_wrote_them(engine: AsyncEngine) -> None:
    by_sqlalchemy, by_insert_rows = events(1, 3), events(101, 3)
    for mine, theirs in zip(by_insert_rows, by_sqlalchemy, strict=True):
        mine.update({k: v for k, v in theirs.items() if k != "seq"})
    async with engine.begin() as conn:
        await conn.execute(audit_events.insert(), by_sqlalchemy)
    expected = await stored(engine)
    async with engine.begin() as conn:
        await conn.execute(delete(audit_events))
        await insert_rows(conn, audit_events, by_insert_rows)
    assert await stored(engine) == expected
    assert expected[0][0] == WHEN  # aware UTC, whatever zone it was given in


async def test_one_row_and_no_rows(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await insert_rows(conn, api_key_usage, [])
        await insert_rows(conn, api_key_usage, [{"key_id": "portal", "last_used_at": WHEN}])
    async with engine.connect() as conn:
        rows = (await conn.execute(select(api_key_usage))).all()
    assert [tuple(row) for row in rows] == [("portal", WHEN)]


async def test_a_duplicate_key_is_an_integrity_error(engine: AsyncEngine) -> None:
    row = {"key_id": "portal", "last_used_at": WHEN}
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await insert_rows(conn, api_key_usage, [row, dict(row)])


async def test_rows_must_share_their_columns(engine: AsyncEngine) -> None:
    first, second = events(1, 2)
    del second["key_id"]
    async with engine.begin() as conn:
        with pytest.raises(ValueError, match="same columns"):
            await insert_rows(conn, audit_events, [first, second])


# `execute_rows`: any statement built once, run with one parameter set per row.
_STAMP = (
    update(api_key_usage)
    .where(api_key_usage.c.key_id == bindparam("b_key"))
    .values(last_used_at=bindparam("b_at", type_=UTCDateTime))
)
# A constant of the statement's own, sent as compiled, beside a parameter the rows give.
_RESET = (
    update(api_key_usage)
    .where(api_key_usage.c.key_id == bindparam("b_key"))
    .values(last_used_at=WHEN)
)


async def test_execute_rows_writes_what_sqlalchemy_writes(engine: AsyncEngine) -> None:
    keys = [{"key_id": k, "last_used_at": WHEN} for k in ("a", "b", "c")]
    later = (WHEN + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5)))
    stamps = [{"b_key": "a", "b_at": later}, {"b_key": "c", "b_at": later + timedelta(1)}]
    async with engine.begin() as conn:
        await insert_rows(conn, api_key_usage, keys)
        await conn.execute(_STAMP, stamps)
    expected = await _usage(engine)
    async with engine.begin() as conn:
        await execute_rows(conn, _RESET, [{"b_key": k["key_id"]} for k in keys])
        assert await _usage(engine, conn) == [(k, WHEN) for k in "abc"]
        await execute_rows(conn, _STAMP, stamps)
        await execute_rows(conn, _STAMP, [])
    assert await _usage(engine) == expected
    assert expected[0] == ("a", WHEN + timedelta(hours=1))  # aware UTC again


async def test_execute_rows_refuses_what_it_cannot_send_as_given(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        with pytest.raises(ValueError, match="'b_at'"):
            await execute_rows(conn, _STAMP, [{"b_key": "a"}])
        with pytest.raises(ValueError, match="same columns"):
            await execute_rows(conn, _RESET, [{"b_key": "a"}, {"b_key": "b", "x": 1}])
        with pytest.raises(ValueError, match="no parameters"):
            await execute_rows(conn, _RESET, [{"b_key": "a", "b_at": WHEN}])
        with_default = Table(
            "with_default",
            MetaData(),
            Column("id", String, primary_key=True),
            Column("at", String, default=lambda: "now"),
        )
        with pytest.raises(ValueError, match="Python-side column defaults"):
            await execute_rows(conn, with_default.insert(), [{"id": "x"}])


async def _usage(engine: AsyncEngine, conn: AsyncConnection | None = None) -> list[Any]:
    query = select(api_key_usage).order_by(api_key_usage.c.key_id)
    if conn is not None:
        return [tuple(row) for row in (await conn.execute(query)).all()]
    async with engine.connect() as fresh:
        return [tuple(row) for row in (await fresh.execute(query)).all()]
