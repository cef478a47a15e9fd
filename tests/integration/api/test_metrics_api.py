"""GET /metrics: Prometheus text for operator and metrics keys; figures from the database."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from ozgbridge.domain import DeliveryState
from ozgbridge.metrics_http import worker_metrics_app
from tests.integration.api.ops_support import seed
from tests.integration.api.support import Api, auth, body


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[Any, float], name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


async def scrape(api: Api, key: str = "metrics") -> dict[Any, float]:
    response = await api.client.get("/metrics", headers=auth(key))
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(await response.text())


async def test_database_figures(api_db: Api) -> None:
    await seed(api_db.engine, count=2)
    await seed(api_db.engine, tenant="gangelt", state=DeliveryState.DEAD)
    await api_db.client.post("/v1/routes/erkelenz/melde/pause", headers=auth("operator"))

    found = await scrape(api_db, "operator")

    pending = value(
        found, "ozgbridge_deliveries", state="pending", tenant="erkelenz", route="gewerbe"
    )
    dead = value(found, "ozgbridge_deliveries", state="dead", tenant="gangelt", route="gewerbe")
    assert (pending, dead) == (2, 1)
    assert value(found, "ozgbridge_deliveries", state="dead", tenant="erkelenz", route="melde") == 0
    oldest = value(found, "ozgbridge_oldest_pending_seconds", tenant="erkelenz", route="gewerbe")
    assert oldest is not None
    assert 0 <= oldest < 60
    assert (
        value(found, "ozgbridge_route_state", tenant="erkelenz", route="melde", state="paused") == 1
    )
    assert (
        value(found, "ozgbridge_route_state", tenant="erkelenz", route="melde", state="active") == 0
    )
    assert (
        value(found, "ozgbridge_route_state", tenant="erkelenz", route="gewerbe", state="active")
        == 1
    )
    assert value(found, "ozgbridge_database_up") == 1


async def test_counters_of_this_process(api: Api) -> None:
    before = await scrape(api)
    received = await api.client.post("/v1/applications", json=body(), headers=auth("portal-a"))
    assert received.status == 202
    after = await scrape(api)

    def delta(name: str, **labels: str) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    service = {"tenant": "erkelenz", "service": "99050012104000"}
    assert delta("ozgbridge_applications_received_total", **service) == 1
    submit = {"handler": "/v1/applications", "method": "POST", "status": "202"}
    assert delta("ozgbridge_http_requests_total", **submit) == 1
    count = {"handler": "/v1/applications", "method": "POST"}
    assert delta("ozgbridge_http_request_duration_seconds_count", **count) == 1
    assert value(after, "ozgbridge_build_info", version="0.1.0") == 1


async def test_every_request_counts_in_its_series(api: Api) -> None:
    # The middleware keeps each labelled series after its first use (api/app.py): later requests
    # must land in the same series, and a new status in a new one.
    before = await scrape(api)
    for _ in range(3):
        assert (
            await api.client.post("/v1/applications", json=body(), headers=auth("portal-a"))
        ).status == 202
    assert (
        await api.client.post("/v1/applications", json={}, headers=auth("portal-a"))
    ).status == 422
    after = await scrape(api)

    def delta(name: str, **labels: str) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    submit = {"handler": "/v1/applications", "method": "POST"}
    assert delta("ozgbridge_http_requests_total", **submit, status="202") == 3
    assert delta("ozgbridge_http_requests_total", **submit, status="422") == 1
    assert delta("ozgbridge_http_request_duration_seconds_count", **submit) == 4


async def test_unmatched_paths_share_one_label(api: Api) -> None:
    await api.client.get("/no/such/path/4711")

    text = await (await api.client.get("/metrics", headers=auth("metrics"))).text()

    assert "4711" not in text
    assert 'handler="unmatched"' in text


async def test_cached_for_a_few_seconds(api: Api) -> None:
    await scrape(api)
    await seed(api.engine)

    found = await scrape(api)

    # Served from the cache: the new delivery shows up only after it expires.
    assert (
        value(found, "ozgbridge_deliveries", state="pending", tenant="erkelenz", route="gewerbe")
        == 0
    )


async def test_roles(api: Api) -> None:
    for key in ("portal-a", "coordinator", "erkelenz-staff"):
        assert (await api.client.get("/metrics", headers=auth(key))).status == 403, key
    assert (await api.client.get("/metrics")).status == 401
    # A metrics key may read metrics, and nothing else.
    assert (await api.client.get("/v1/deliveries", headers=auth("metrics"))).status == 403
    assert (await api.client.get("/v1/reports/ozg", headers=auth("metrics"))).status == 403
    assert (
        await api.client.post("/v1/applications", json=body(), headers=auth("metrics"))
    ).status == 403


async def test_worker_listener_serves_process_metrics_without_a_key() -> None:
    client: TestClient[Any, Any] = TestClient(TestServer(worker_metrics_app(), host="127.0.0.1"))
    await client.start_server()
    try:
        response = await client.get("/metrics")
        text = await response.text()
    finally:
        await client.close()

    assert response.status == 200
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"ozgbridge_worker_last_claim_timestamp_seconds", "ozgbridge_delivery_attempts"} <= names
    assert "ozgbridge_deliveries" not in names  # database figures are the API's
