"""Fixtures shared by every tier: databases on both engines, migrated once per run via templates.

PostgreSQL: the server at OZGBRIDGE_TEST_PG (default postgresql://postgres@127.0.0.1:5432/test).
Each run migrates one template database; each test gets a fresh copy (CREATE DATABASE … TEMPLATE),
dropped afterwards. Without a reachable server the PostgreSQL cases skip loudly — except under
CI=true, where they fail, because CI must prove both engines.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit, audit_keys
from ozgbridge.dataprotection import keys as data_keys
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.store.engine import create_engine
from ozgbridge.store.migrate import upgrade

PG_ADMIN_DSN = os.environ.get("OZGBRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO_ROOT = Path(__file__).resolve().parent.parent


def sqlalchemy_pg_url(dsn: str, database: str) -> str:
    """The SQLAlchemy (asyncpg) URL of ``database`` on the server of the libpq-style ``dsn``."""
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def data_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data key file (one fresh key), as a deployment's OZGBRIDGE_DATA_KEYS would name it."""
    return data_keys.create_file(tmp_path_factory.mktemp("keys") / "data-keys.yaml").source


@pytest.fixture
def sealer(data_key_file: Path) -> Sealer:
    """Seals with the test data key, as a deployed process does."""
    return Sealer(data_keys.load(data_key_file))


@pytest.fixture(autouse=True)
def _data_keys_configured(data_key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every process a test starts seals content, as deployed; a test that means to run
    without keys says so (``Settings(data_keys=None)``)."""
    monkeypatch.setenv("OZGBRIDGE_DATA_KEYS", str(data_key_file))


@pytest.fixture(scope="session")
def audit_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An audit key file (one fresh key), as a deployment's OZGBRIDGE_AUDIT_KEY would name it."""
    path = tmp_path_factory.mktemp("audit") / "audit-key.yaml"
    audit_keys.create_file(path)
    return path


@pytest.fixture(autouse=True)
def _audit_key_configured(audit_key_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every process a test starts chains the audit log with a key, as deployed; each test
    starts with the process's keys unset (looked up in the environment on first use)."""
    monkeypatch.setenv("OZGBRIDGE_AUDIT_KEY", str(audit_key_file))
    audit.reset_keys()
    yield
    audit.reset_keys()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """Name of a migrated template database on the local PostgreSQL server."""
    try:
        asyncio.run(_pg_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {exc}"
        if IN_CI:
            pytest.fail(f"{message} — CI=true requires the PostgreSQL tests to run")
        pytest.skip(f"SKIPPING POSTGRESQL TESTS: {message}")
    name = f"ozgb_tmpl_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    asyncio.run(upgrade(sqlalchemy_pg_url(PG_ADMIN_DSN, name)))
    yield name
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "ozgbridge.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def postgres_url(pg_template: str) -> Iterator[str]:
    name = f"ozgb_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield sqlalchemy_pg_url(PG_ADMIN_DSN, name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A freshly migrated, empty database — once per engine."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()
