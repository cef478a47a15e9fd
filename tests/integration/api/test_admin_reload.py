"""POST /v1/admin/reload: who may, what a valid reload changes, what an invalid one does not."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from ozgbridge.store.tables import audit_events
from ozgbridge.tenants import token_sha256
from tests.integration.api.support import Api, StartApi, auth, body, write_config

RELOAD = "/v1/admin/reload"


@pytest.fixture
async def setup(tmp_path: Path, database_url: str, start_api: StartApi) -> tuple[Api, Path]:
    config = write_config(tmp_path / "config")
    return await start_api(database_url, config_dir=config), config


@pytest.mark.parametrize(
    ("key_id", "status"),
    [("operator", 200), ("portal-a", 403), ("erkelenz-staff", 403), ("coordinator", 403)],
)
async def test_only_operators_may_reload(setup: tuple[Api, Path], key_id: str, status: int) -> None:
    api, _config = setup
    response = await api.client.post(RELOAD, headers=auth(key_id))
    assert response.status == status, await response.text()


async def test_without_a_key_it_is_401(setup: tuple[Api, Path]) -> None:
    api, _config = setup
    response = await api.client.post(RELOAD)
    assert response.status == 401


async def test_a_valid_configuration_is_swapped_in(setup: tuple[Api, Path]) -> None:
    api, config = setup
    keys_file = config / "keys.yaml"
    keys = yaml.safe_load(keys_file.read_text(encoding="utf-8"))
    keys["keys"].append({"id": "portal-new", "role": "portal", "sha256": token_sha256("new-t")})
    keys_file.write_text(yaml.safe_dump(keys), encoding="utf-8")
    new_key = {"Authorization": "Bearer new-t"}
    refused = await api.client.post("/v1/applications", json=body(), headers=new_key)
    assert refused.status == 401  # not yet

    response = await api.client.post(RELOAD, headers=auth("operator"))

    assert response.status == 200
    answer = await response.json()
    assert answer["status"] == "reloaded"
    assert answer["changed"] is True
    assert answer["fingerprint"] != answer["previousFingerprint"]
    assert (answer["tenants"], answer["keys"]) == (11, 10)
    accepted = await api.client.post("/v1/applications", json=body(), headers=new_key)
    assert accepted.status == 202
    again = await (await api.client.post(RELOAD, headers=auth("operator"))).json()
    assert again["changed"] is False
    assert again["rotated"] == []
    async with api.engine.connect() as conn:
        actions = (
            await conn.execute(
                select(audit_events.c.actor, audit_events.c.action).where(
                    audit_events.c.action == "config.reloaded"
                )
            )
        ).all()
    assert [tuple(row) for row in actions] == [("key:operator", "config.reloaded")] * 2


async def test_an_invalid_configuration_is_refused_and_the_running_one_stays(
    setup: tuple[Api, Path],
) -> None:
    api, config = setup
    kreis = config / "tenants" / "kreis-heinsberg.yaml"
    kreis.write_text(kreis.read_text(encoding="utf-8") + "  - timeout: [\n", encoding="utf-8")
    erkelenz = config / "tenants" / "erkelenz.yaml"
    document = yaml.safe_load(erkelenz.read_text(encoding="utf-8"))
    document["routes"][0]["timeout"] = 500  # longer than the lease
    erkelenz.write_text(yaml.safe_dump(document), encoding="utf-8")

    response = await api.client.post(RELOAD, headers=auth("operator"))

    assert response.status == 422
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["type"] == "urn:ozgbridge:problem:config-invalid"
    assert problem["detail"].startswith("configuration refused, the running one stays: ")
    fields = [error["field"] for error in problem["errors"]]
    assert fields[0].startswith("config/tenants/erkelenz.yaml:")
    assert fields[0].endswith(": routes[0].timeout")
    assert "500 s must be shorter than OZGBRIDGE_LEASE_SECONDS" in problem["errors"][0]["message"]
    assert fields[1].startswith("config/tenants/kreis-heinsberg.yaml:")
    assert "invalid YAML" in problem["errors"][1]["message"]
    # Still running with the previous configuration: it routes and accepts as before.
    accepted = await api.client.post("/v1/applications", json=body(), headers=auth("portal-a"))
    assert accepted.status == 202
    async with api.engine.connect() as conn:
        [details] = (
            await conn.execute(
                select(audit_events.c.details).where(
                    audit_events.c.action == "config.reload_refused"
                )
            )
        ).scalars()
    assert "routes[0].timeout" in details
