"""A data key rotation without a restart: a reload reads the key file again (README, "How keys
rotate"); a broken key file refuses the reload and the keys in use stay."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
import yaml
from sqlalchemy import select

from ozgbridge import audit
from ozgbridge.assembly import Service
from ozgbridge.dataprotection import keys
from ozgbridge.settings import Settings
from ozgbridge.store.tables import applications, attachments, audit_events
from tests.integration.reload_support import (
    OPERATOR,
    submit_and_wait_delivered,
    write_reload_config,
)
from tests.integration.serving import free_port, serving


def write_ring(path: Path, *ring: keys.DataKey) -> None:
    path.write_text(yaml.safe_dump({"keys": [keys.entry(k) for k in ring]}), encoding="utf-8")
    path.chmod(0o600)


async def sealed_under(service: Service, application_id: str) -> set[str | None]:
    async with service.engine.connect() as conn:
        data = await conn.scalar(
            select(applications.c.data_key_id).where(applications.c.id == application_id)
        )
        files = (
            await conn.scalars(
                select(attachments.c.key_id).where(attachments.c.application_id == application_id)
            )
        ).all()
    return {data, *files}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    ring = tmp_path / "secrets" / "data-keys.yaml"
    ring.parent.mkdir()
    write_ring(ring, keys.new_key("2026-01"))
    config = write_reload_config(tmp_path / "config")
    return Settings(
        database_url=database_url,
        config_dir=config,
        data_dir=tmp_path / "var",
        data_keys=ring,
        port=free_port(),
        poll_interval=0.05,
        pg_notify=False,
    )


async def test_a_reload_rotates_the_data_keys(settings: Settings) -> None:
    assert settings.data_keys is not None
    old = keys.load(settings.data_keys).primary
    url = f"http://127.0.0.1:{settings.port}"
    async with serving(settings) as service, aiohttp.ClientSession(base_url=url) as http:
        before = await submit_and_wait_delivered(http)

        write_ring(settings.data_keys, keys.new_key("2026-12"), old)  # the new key first
        async with http.post("/v1/admin/reload", headers=OPERATOR) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
        assert answer["sealingKey"] == "2026-12"
        # The configuration directory is as it was; the key file is not.
        assert answer["changed"] is True
        assert answer["rotated"] == ["data_keys"]
        after = await submit_and_wait_delivered(http)

        assert await sealed_under(service, before) == {"2026-01"}
        assert await sealed_under(service, after) == {"2026-12"}
        async with service.engine.connect() as conn:
            [details] = (
                await conn.scalars(
                    select(audit_events.c.details).where(
                        audit_events.c.action == "data_keys.reloaded"
                    )
                )
            ).all()
        assert {k: v for k, v in json.loads(details).items() if k != "process"} == {
            "sealing_key": "2026-12",
            "previous_sealing_key": "2026-01",
            "key_ids": ["2026-12", "2026-01"],
            "removed": [],
        }
        assert (await audit.verify(service.engine)).ok


async def test_a_broken_key_file_refuses_the_reload_and_the_keys_stay(
    settings: Settings,
) -> None:
    assert settings.data_keys is not None
    url = f"http://127.0.0.1:{settings.port}"
    async with serving(settings) as service, aiohttp.ClientSession(base_url=url) as http:
        settings.data_keys.write_text("keys:\n  - {id: 2026-12, key: dG9vIHNob3J0}\n")

        result = await service.live.reload(actor="signal:SIGHUP")

        assert not result.ok
        [problem] = result.problems
        assert problem.file == str(settings.data_keys)
        assert "data-keys.yaml:2" in problem.message  # the line of the broken entry
        assert "dG9vIHNob3J0" not in problem.message  # never key material
        after = await submit_and_wait_delivered(http)
        assert await sealed_under(service, after) == {"2026-01"}


async def test_a_process_without_keys_stays_without(settings: Settings) -> None:
    plain = settings.model_copy(update={"data_keys": None, "allow_plaintext": True})
    url = f"http://127.0.0.1:{plain.port}"
    async with serving(plain) as service, aiohttp.ClientSession(base_url=url) as http:
        result = await service.live.reload(actor="signal:SIGHUP")

        assert result.ok, result.problems
        after = await submit_and_wait_delivered(http)
        assert await sealed_under(service, after) == {None}


async def test_a_watching_process_rotates_when_the_key_file_changes(settings: Settings) -> None:
    # Kubernetes updates a mounted Secret in place, as it does a ConfigMap; nobody sends SIGHUP.
    assert settings.data_keys is not None
    watching = settings.model_copy(update={"config_watch_seconds": 0.05})
    old = keys.load(settings.data_keys).primary
    url = f"http://127.0.0.1:{watching.port}"
    async with serving(watching) as service, aiohttp.ClientSession(base_url=url) as http:
        staged = settings.data_keys.with_name(".staged.yaml")
        write_ring(staged, keys.new_key("2026-12"), old)
        staged.replace(settings.data_keys)

        async with asyncio.timeout(10):
            while service.repository.sealer.key_id != "2026-12":
                await asyncio.sleep(0.02)
        after = await submit_and_wait_delivered(http)
        assert await sealed_under(service, after) == {"2026-12"}
