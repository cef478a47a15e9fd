"""What a database error says: never the statement's parameters (form data, names), on either
engine. (PostgreSQL's own DETAIL quotes the values of a violated unique key; ozgbridge's unique
keys hold ids, hashes and Idempotency-Keys, not form data.)"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ozgbridge.store.engine import create_engine, unusable

PERSONAL = "Erika Mustermann, Heinsberger Str. 1"


async def test_an_error_does_not_carry_the_parameters(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("CREATE TABLE engine_errors (id INTEGER PRIMARY KEY, name TEXT)")
            )
        insert = text("INSERT INTO engine_errors (id, name) VALUES (1, :name)")
        async with engine.begin() as conn:
            await conn.execute(insert, {"name": PERSONAL})
        with pytest.raises(IntegrityError) as caught:
            async with engine.begin() as conn:
                await conn.execute(insert, {"name": PERSONAL})
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS engine_errors"))
        await engine.dispose()

    assert "Mustermann" not in str(caught.value)
    assert "hidden" in str(caught.value)  # SQLAlchemy says so instead
    message = str(unusable(database_url, caught.value))
    assert "Mustermann" not in message
    assert "\n" not in message
