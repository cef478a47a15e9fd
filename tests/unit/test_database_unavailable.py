"""Which database errors mean "away now, try again" (HTTP 503) and which are bugs (500)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc as sa

from ozgbridge.store.engine import unavailable


def _wrapped(kind: type[sa.DBAPIError], *, invalidated: bool = False) -> sa.DBAPIError:
    return kind("SELECT 1", None, Exception("driver"), connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("error", "away"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (TimeoutError(), True),
        (OSError(28, "No space left on device"), True),
        (_wrapped(sa.OperationalError), True),
        (_wrapped(sa.InterfaceError), True),
        (sa.TimeoutError("QueuePool limit reached"), True),
        (_wrapped(sa.DBAPIError, invalidated=True), True),  # the connection broke mid-statement
        (asyncpg.InvalidPasswordError("password authentication failed"), True),
        (asyncpg.InvalidCatalogNameError('database "x" does not exist'), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.TooManyConnectionsError("too many clients"), True),
        (asyncpg.ConnectionDoesNotExistError("connection was closed"), True),
        (_wrapped(sa.IntegrityError), False),  # a statement's fault: our bug, not an outage
        (_wrapped(sa.ProgrammingError), False),
        (_wrapped(sa.DBAPIError), False),
        (asyncpg.UniqueViolationError("duplicate key"), False),
        (ValueError("not a database error"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_unavailable(error: BaseException, away: bool) -> None:
    assert unavailable(error) is away
