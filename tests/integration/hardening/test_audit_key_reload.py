"""An audit key rotation without a restart: a reload reads the audit key file again (README,
"Audit key and checkpoints"); events from then on are chained with the new first key, the whole
log verifies with the file, and a broken file refuses the reload."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit, audit_keys
from ozgbridge.settings import Settings
from ozgbridge.store.tables import audit_events
from tests.integration.reload_support import (
    OPERATOR,
    submit_and_wait_delivered,
    write_reload_config,
)
from tests.integration.serving import free_port, serving


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    ring = tmp_path / "secrets" / "audit-key.yaml"
    audit_keys.create_file(ring, audit_keys.new_key("2026-01"))
    config = write_reload_config(tmp_path / "config")
    return Settings(
        database_url=database_url,
        config_dir=config,
        data_dir=tmp_path / "var",
        audit_key=ring,
        port=free_port(),
        poll_interval=0.05,
        pg_notify=False,
    )


async def key_ids(engine: AsyncEngine) -> list[str | None]:
    async with engine.connect() as conn:
        return list(
            (await conn.scalars(select(audit_events.c.key_id).order_by(audit_events.c.seq))).all()
        )


async def test_a_reload_chains_with_the_new_first_key(settings: Settings) -> None:
    assert settings.audit_key is not None
    url = f"http://127.0.0.1:{settings.port}"
    async with serving(settings) as service, aiohttp.ClientSession(base_url=url) as http:
        await submit_and_wait_delivered(http)
        before = len(await key_ids(service.engine))

        audit_keys.add_first(settings.audit_key, audit_keys.new_key("2026-12"))
        async with http.post("/v1/admin/reload", headers=OPERATOR) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
        assert answer["chainingKey"] == "2026-12"
        assert answer["changed"] is True
        assert answer["rotated"] == ["audit_key"]
        await submit_and_wait_delivered(http)

        chained = await key_ids(service.engine)
        assert set(chained[:before]) == {"2026-01"}
        assert set(chained[before:]) == {"2026-12"}
        async with service.engine.connect() as conn:
            action, details = (
                await conn.execute(
                    select(audit_events.c.action, audit_events.c.details).where(
                        audit_events.c.seq == before + 1
                    )
                )
            ).one()
        assert action == "audit_key.reloaded"  # the first event under the new key says so
        assert '"previous_chaining_key":"2026-01"' in details
        result = await audit.verify(service.engine, keys=audit_keys.load(settings.audit_key))
        assert result.ok, result


async def test_a_broken_audit_key_file_refuses_the_reload(settings: Settings) -> None:
    assert settings.audit_key is not None
    url = f"http://127.0.0.1:{settings.port}"
    async with serving(settings) as service, aiohttp.ClientSession(base_url=url) as http:
        settings.audit_key.write_text("keys:\n  - {id: 2026-12, key: dG9vIHNob3J0}\n")

        result = await service.live.reload(actor="signal:SIGHUP")

        assert not result.ok
        [problem] = result.problems
        assert problem.file == str(settings.audit_key)
        assert "audit-key.yaml:2" in problem.message
        assert "dG9vIHNob3J0" not in problem.message
        await submit_and_wait_delivered(http)
        assert set(await key_ids(service.engine)) == {"2026-01"}


async def test_an_unkeyed_process_stays_unkeyed(settings: Settings) -> None:
    plain = settings.model_copy(update={"audit_key": None, "audit_unkeyed": True})
    url = f"http://127.0.0.1:{plain.port}"
    async with serving(plain) as service, aiohttp.ClientSession(base_url=url) as http:
        result = await service.live.reload(actor="signal:SIGHUP")

        assert result.ok, result.problems
        await submit_and_wait_delivered(http)
        assert set(await key_ids(service.engine)) == {None}
