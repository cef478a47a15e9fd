"""API keys that expire, rotated tokens, and "last used" — on both engines."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from ozgbridge.domain import utcnow
from ozgbridge.store.key_usage import key_usage, record_key_usage
from ozgbridge.tenants import token_sha256
from tests.integration.api.support import StartApi, auth, body, token, write_config

OLD_TOKEN = "test-portal-a-token-before-rotation"
MISSING = "01NOTTHERE000000000000000"


def with_keys(directory: Path, change: dict[str, dict[str, Any]]) -> Path:
    """The test deployment with some keys' entries changed (fields merged in)."""
    config = write_config(directory)
    document = yaml.safe_load((config / "keys.yaml").read_text())
    for entry in document["keys"]:
        entry.update(change.get(entry["id"], {}))
    (config / "keys.yaml").write_text(yaml.safe_dump(document))
    return config


async def test_expired_key_gets_401_saying_so(
    database_url: str, start_api: StartApi, tmp_path: Path
) -> None:
    past, future = utcnow() - timedelta(minutes=1), utcnow() + timedelta(days=1)
    config = with_keys(
        tmp_path / "config",
        {"portal-a": {"expires": past.isoformat()}, "portal-b": {"expires": future.isoformat()}},
    )
    api = await start_api(database_url, config_dir=config)

    expired = await api.client.post("/v1/applications", json=body(), headers=auth("portal-a"))
    valid = await api.client.post("/v1/applications", json=body(), headers=auth("portal-b"))

    assert expired.status == 401
    problem = await expired.json()
    assert problem["detail"].startswith("API key 'portal-a' expired at ")
    assert "ask the operator for a new one" in problem["detail"]
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    assert valid.status == 202
    assert (await api.stored())["applications"] == 1


async def test_rotated_token_works_until_its_expiry(
    database_url: str, start_api: StartApi, tmp_path: Path
) -> None:
    later, earlier = utcnow() + timedelta(days=7), utcnow() - timedelta(seconds=1)
    config = with_keys(
        tmp_path / "config",
        {
            "portal-a": {"previous": [{"sha256": token_sha256(OLD_TOKEN), "expires": later}]},
            "portal-b": {"previous": [{"sha256": token_sha256("replaced-b"), "expires": earlier}]},
        },
    )
    api = await start_api(database_url, config_dir=config)

    with_new = await api.client.post("/v1/applications", json=body(), headers=auth("portal-a"))
    with_old = await api.client.post(
        "/v1/applications", json=body(), headers={"Authorization": f"Bearer {OLD_TOKEN}"}
    )
    replaced = await api.client.post(
        "/v1/applications", json=body(), headers={"Authorization": "Bearer replaced-b"}
    )

    assert (with_new.status, with_old.status) == (202, 202)
    # the same key: what either token submitted, both see
    seen = await api.client.get(
        f"/v1/applications/{(await with_old.json())['id']}", headers=auth("portal-a")
    )
    assert seen.status == 200
    assert replaced.status == 401
    assert "was replaced by a rotation and stopped working" in (await replaced.json())["detail"]


async def test_last_use_is_written_in_batches_and_only_moves_forward(
    database_url: str, start_api: StartApi
) -> None:
    api = await start_api(database_url, key_usage_flush_seconds=3600)  # no flush during the test
    for _ in range(3):
        response = await api.client.get(
            "/v1/applications/01NOTTHERE000000000000000", headers=auth("portal-b")
        )
        assert response.status == 404
    await api.client.get("/v1/applications/x", headers={"Authorization": "Bearer unknown"})

    assert await key_usage(api.engine) == {}  # not a write per request
    await api.client.close()  # the app's shutdown flushes what is pending

    used = await key_usage(api.engine)
    assert set(used) == {"portal-b"}
    assert utcnow() - used["portal-b"] < timedelta(minutes=1)
    # an older use flushed late (another process) does not move it back
    await record_key_usage(api.engine, {"portal-b": used["portal-b"] - timedelta(hours=1)})
    assert await key_usage(api.engine) == used
    newer = used["portal-b"] + timedelta(seconds=5)
    await record_key_usage(api.engine, {"portal-b": newer, "operator": newer})
    assert await key_usage(api.engine) == {"portal-b": newer, "operator": newer}


async def test_expired_key_cannot_sign_in_to_the_dashboard(
    sqlite_url: str, start_api: StartApi, tmp_path: Path
) -> None:
    config = with_keys(
        tmp_path / "config", {"coordinator": {"expires": (utcnow() - timedelta(days=1)).date()}}
    )
    api = await start_api(sqlite_url, config_dir=config, ui_session_secret="s" * 40)

    response = await api.client.post(
        "/ui/login", data={"token": token("coordinator")}, allow_redirects=False
    )

    assert response.status == 401
    assert "abgelaufen" in await response.text()
