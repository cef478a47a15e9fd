"""/v1/routes: overview, pause, resume, test — and who may do what."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ozgbridge.domain import DeliveryState
from ozgbridge.store.tables import route_checks, route_transitions
from tests.integration.api.ops_support import HUND, events, seed
from tests.integration.api.support import Api, StartApi, auth, write_config
from tests.integration.ops_backend import SECRET, CountingBackend

OPERATOR = auth("operator")
ERKELENZ = auth("erkelenz-staff")
ROUTE_FIELDS = {
    "tenant", "route", "connector", "state", "pending", "delivering", "dead", "cancelled",
    "oldestPendingSeconds", "lastSuccessAt", "lastFailureAt", "consecutiveFailures", "openUntil",
    "maxInFlight", "rateLimit",
}  # fmt: skip


@pytest.fixture
async def backend() -> AsyncIterator[CountingBackend]:
    server = await CountingBackend().start()
    yield server
    await server.close()


@pytest.fixture
async def http_api(
    database_url: str,
    start_api: StartApi,
    backend: CountingBackend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Api:
    """Erkelenz's gewerbe route goes to a real webhook back-end; the rest are file drops."""
    monkeypatch.setenv("OPS_TEST_SECRET", SECRET)

    def tweak(tenant_id: str, document: dict[str, Any]) -> None:
        if tenant_id == "erkelenz":
            document["routes"][0] |= {
                "connector": "http",
                "options": {"url": backend.url, "signing_secret": "${env:OPS_TEST_SECRET}"},
                "max_in_flight": 4,
                "rate_limit": 2.5,
            }

    config = write_config(tmp_path / "http-config", tweak)
    return await start_api(database_url, config_dir=config, data_dir=tmp_path / "var")


async def test_operators_see_every_route_with_its_figures(http_api: Api) -> None:
    await seed(http_api.engine, count=2)
    await seed(http_api.engine, state=DeliveryState.DEAD)
    await seed(http_api.engine, route="hundesteuer", leika_key=HUND, state=DeliveryState.DELIVERED)

    response = await http_api.client.get("/v1/routes", headers=OPERATOR)

    assert response.status == 200
    routes = await response.json()
    assert len(routes) == 48  # every route of the example deployment
    by_key = {(r["tenant"], r["route"]): r for r in routes}
    gewerbe = by_key[("erkelenz", "gewerbe")]
    assert set(gewerbe) == ROUTE_FIELDS
    assert (gewerbe["connector"], gewerbe["state"], gewerbe["pending"], gewerbe["dead"]) == (
        "http", "active", 2, 1,
    )  # fmt: skip
    assert 0 <= gewerbe["oldestPendingSeconds"] < 60
    assert (gewerbe["maxInFlight"], gewerbe["rateLimit"]) == (4, 2.5)
    quiet = by_key[("gangelt", "gewerbe")]
    assert (quiet["pending"], quiet["dead"], quiet["oldestPendingSeconds"]) == (0, 0, None)


async def test_tenant_keys_see_their_own_routes_only(api: Api) -> None:
    own = await (await api.client.get("/v1/routes", headers=ERKELENZ)).json()
    other = await api.client.get("/v1/routes?tenant=gangelt", headers=ERKELENZ)
    filtered = await (await api.client.get("/v1/routes?tenant=gangelt", headers=OPERATOR)).json()

    assert {r["tenant"] for r in own} == {"erkelenz"}
    assert len(own) == 5
    assert other.status == 403
    assert {r["tenant"] for r in filtered} == {"gangelt"}
    for key in ("portal-a", "coordinator", "metrics"):
        assert (await api.client.get("/v1/routes", headers=auth(key))).status == 403
    assert (await api.client.get("/v1/routes")).status == 401
    assert (await api.client.get("/v1/routes?tenant=NO!", headers=OPERATOR)).status == 422


async def test_pause_and_resume(api_db: Api) -> None:
    paused = await api_db.client.post(
        "/v1/routes/erkelenz/gewerbe/pause", json={"reason": "Wartung Fachverfahren"},
        headers=ERKELENZ,
    )  # fmt: skip
    listed = await (await api_db.client.get("/v1/routes", headers=ERKELENZ)).json()
    again = await api_db.client.post("/v1/routes/erkelenz/gewerbe/pause", headers=OPERATOR)
    resumed = await api_db.client.post("/v1/routes/erkelenz/gewerbe/resume", headers=OPERATOR)

    assert paused.status == 200
    assert (await paused.json())["state"] == "paused"
    assert next(r for r in listed if r["route"] == "gewerbe")["state"] == "paused"
    assert (await again.json())["state"] == "paused"  # idempotent
    assert (await resumed.json())["state"] == "active"
    async with api_db.engine.connect() as conn:
        rows = list(await conn.execute(select(route_transitions).order_by(route_transitions.c.at)))
    assert [(r.from_state, r.to_state, r.actor) for r in rows] == [
        ("active", "paused", "key:erkelenz-staff"),
        ("paused", "active", "key:operator"),
    ]
    assert "Wartung Fachverfahren" in rows[0].reason
    [first, second] = await events(api_db.engine, "route.paused")
    assert first.actor == "key:erkelenz-staff"
    assert "Wartung" not in first.details
    assert json.loads(second.details)["from_state"] == "paused"
    assert len(await events(api_db.engine, "route.resumed")) == 1


async def test_route_actions_roles(api: Api) -> None:
    for path in ("pause", "resume", "test"):
        other = await api.client.post(f"/v1/routes/gangelt/gewerbe/{path}", headers=ERKELENZ)
        missing = await api.client.post(f"/v1/routes/erkelenz/nope/{path}", headers=OPERATOR)
        assert other.status == 404, path
        assert missing.status == 404, path
        for key in ("portal-a", "coordinator", "metrics"):
            answer = await api.client.post(f"/v1/routes/erkelenz/gewerbe/{path}", headers=auth(key))
            assert answer.status == 403, (path, key)
    assert await events(api.engine, "route.paused") == []


async def test_test_sends_a_signed_ping_and_stores_the_result(
    http_api: Api, backend: CountingBackend
) -> None:
    response = await http_api.client.post("/v1/routes/erkelenz/gewerbe/test", headers=ERKELENZ)

    assert response.status == 200
    result = await response.json()
    assert (result["ok"], result["statusCode"], result["error"]) == (True, 201, None)
    assert result["durationMs"] >= 0
    [seen] = backend.requests
    assert backend.bad_signatures == 0  # signed with the route's secret
    assert seen.body["type"] == "ping"
    assert seen.body["tenant"] == {"id": "erkelenz", "name": "erkelenz"}
    assert seen.body["attachments"] == []
    assert seen.body["reference"] is None
    async with http_api.engine.connect() as conn:
        [check] = list(await conn.execute(select(route_checks)))
    assert (check.tenant_id, check.route_id, check.ok, check.status_code, check.actor) == (
        "erkelenz", "gewerbe", True, 201, "key:erkelenz-staff",
    )  # fmt: skip
    [event] = await events(http_api.engine, "route.tested")
    assert json.loads(event.details)["ok"] is True
    # A ping is no delivery: nothing was stored as an application.
    assert (await http_api.stored())["deliveries"] == 0


async def test_test_reports_a_failing_back_end(http_api: Api, backend: CountingBackend) -> None:
    backend.failing = True

    result = await (
        await http_api.client.post("/v1/routes/erkelenz/gewerbe/test", headers=OPERATOR)
    ).json()

    expected = f"HTTP 503 from {backend.url}"
    assert (result["ok"], result["statusCode"], result["error"]) == (False, 503, expected)
    async with http_api.engine.connect() as conn:
        [check] = list(await conn.execute(select(route_checks)))
    assert (check.ok, check.status_code, check.error) == (False, 503, expected)


async def test_test_of_a_file_drop_writes_no_folder(http_api: Api, tmp_path: Path) -> None:
    result = await (
        await http_api.client.post("/v1/routes/erkelenz/melde/test", headers=OPERATOR)
    ).json()

    assert result["ok"] is True
    drop = tmp_path / "var" / "dropbox" / "erkelenz"
    assert drop.is_dir()
    assert list(drop.iterdir()) == []
