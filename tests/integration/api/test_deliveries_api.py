"""/v1/deliveries: listing, one delivery, replay, bulk replay, cancel — and who may do what."""

from __future__ import annotations

import json

import pytest

from ozgbridge.domain import DeliveryState
from tests.integration.api.ops_support import (
    HUND,
    chain_ok,
    events,
    fail_then_die,
    row,
    seed,
)
from tests.integration.api.support import Api, auth

OPERATOR = auth("operator")
ERKELENZ = auth("erkelenz-staff")


async def test_list_is_newest_first_with_every_field(api_db: Api) -> None:
    [old] = await seed(api_db.engine, state=DeliveryState.DEAD)
    [new] = await seed(api_db.engine, tenant="gangelt", route="hundesteuer", leika_key=HUND)

    response = await api_db.client.get("/v1/deliveries", headers=OPERATOR)

    assert response.status == 200
    page = await response.json()
    assert [i["id"] for i in page["items"]] == [new, old]
    assert page["next"] is None
    first = page["items"][1]
    assert set(first) == {
        "id", "applicationId", "tenant", "route", "connector", "service", "state", "attempts",
        "lastError", "lastStatusCode", "nextAttemptAt", "createdAt", "updatedAt", "deliveredAt",
        "cancelledAt",
    }  # fmt: skip
    assert (first["tenant"], first["route"], first["state"], first["attempts"]) == (
        "erkelenz", "gewerbe", "dead", 3,
    )  # fmt: skip
    assert first["lastError"] == "HTTP 503 from back-end"
    assert first["nextAttemptAt"] is None
    assert page["items"][0]["nextAttemptAt"] is not None  # pending


async def test_filters(api_db: Api) -> None:
    dead = await seed(api_db.engine, state=DeliveryState.DEAD, count=2)
    hund = await seed(api_db.engine, route="hundesteuer", leika_key=HUND)
    gangelt = await seed(api_db.engine, tenant="gangelt")

    async def ids(query: str) -> list[str]:
        response = await api_db.client.get(f"/v1/deliveries?{query}", headers=OPERATOR)
        assert response.status == 200, await response.text()
        return [i["id"] for i in (await response.json())["items"]]

    assert sorted(await ids("state=dead")) == sorted(dead)
    assert await ids("route=hundesteuer") == hund
    assert await ids(f"service={HUND}") == hund
    assert await ids("tenant=gangelt") == gangelt
    assert await ids("since=2999-01-01T00:00:00Z") == []
    assert len(await ids("until=2999-01-01")) == 4
    assert await ids("state=pending&tenant=erkelenz") == hund


async def test_keyset_pages_are_stable_while_new_deliveries_arrive(api: Api) -> None:
    ids = await seed(api.engine, count=5)  # oldest first

    first = await (await api.client.get("/v1/deliveries?limit=2", headers=OPERATOR)).json()
    await seed(api.engine, count=3)  # newer ones arrive between the pages
    second = await (
        await api.client.get(f"/v1/deliveries?limit=2&cursor={first['next']}", headers=OPERATOR)
    ).json()
    third = await (
        await api.client.get(f"/v1/deliveries?limit=2&cursor={second['next']}", headers=OPERATOR)
    ).json()

    assert [i["id"] for i in first["items"]] == ids[::-1][:2]
    assert [i["id"] for i in second["items"]] == ids[::-1][2:4]
    assert [i["id"] for i in third["items"]] == ids[:1]
    assert third["next"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("state=leased", "state"),
        ("since=yesterday", "since"),
        ("service=123", "service"),
        ("tenant=Not_A_Slug", "tenant"),
    ],
)
async def test_bad_parameters_are_422_naming_the_field(api: Api, query: str, field: str) -> None:
    response = await api.client.get(f"/v1/deliveries?{query}", headers=OPERATOR)

    assert response.status == 422
    problem = await response.json()
    assert problem["errors"][0]["field"] == field


async def test_a_cursor_we_did_not_hand_out_is_422(api: Api) -> None:
    response = await api.client.get("/v1/deliveries?cursor=bm9wZQ", headers=OPERATOR)

    assert response.status == 422
    assert "cursor" in (await response.json())["detail"]


async def test_limit_bounds(api: Api) -> None:
    await seed(api.engine, count=3)

    page = await (await api.client.get("/v1/deliveries?limit=1", headers=OPERATOR)).json()
    full = await (await api.client.get("/v1/deliveries?limit=500", headers=OPERATOR)).json()

    assert len(page["items"]) == 1
    assert page["next"] is not None
    assert len(full["items"]) == 3


async def test_roles_on_the_list(api: Api) -> None:
    mine = await seed(api.engine)
    await seed(api.engine, tenant="gangelt")

    own = await api.client.get("/v1/deliveries", headers=ERKELENZ)
    own_explicit = await api.client.get("/v1/deliveries?tenant=erkelenz", headers=ERKELENZ)
    other = await api.client.get("/v1/deliveries?tenant=gangelt", headers=ERKELENZ)

    assert [i["id"] for i in (await own.json())["items"]] == mine
    assert [i["id"] for i in (await own_explicit.json())["items"]] == mine
    assert other.status == 403
    for key in ("portal-a", "coordinator", "metrics"):
        assert (await api.client.get("/v1/deliveries", headers=auth(key))).status == 403, key
    assert (await api.client.get("/v1/deliveries")).status == 401


async def test_show_has_every_attempt(api_db: Api) -> None:
    [delivery_id] = await seed(api_db.engine)
    await fail_then_die(api_db.engine, delivery_id)

    response = await api_db.client.get(f"/v1/deliveries/{delivery_id}", headers=OPERATOR)

    assert response.status == 200
    shown = await response.json()
    assert (shown["id"], shown["state"], shown["attemptCount"]) == (delivery_id, "dead", 2)
    assert [(a["number"], a["outcome"], a["statusCode"]) for a in shown["attempts"]] == [
        (1, "retriable", 503),
        (2, "permanent", 400),
    ]
    assert all(a["durationMs"] >= 0 and a["startedAt"] for a in shown["attempts"])
    assert shown["attempts"][1]["error"] == "HTTP 400 from back-end"


async def test_show_roles(api: Api) -> None:
    [mine] = await seed(api.engine)
    [theirs] = await seed(api.engine, tenant="gangelt")

    assert (await api.client.get(f"/v1/deliveries/{mine}", headers=ERKELENZ)).status == 200
    assert (await api.client.get(f"/v1/deliveries/{theirs}", headers=ERKELENZ)).status == 404
    assert (
        await api.client.get("/v1/deliveries/01NOTTHERE000000000000000", headers=OPERATOR)
    ).status == 404
    assert (await api.client.get("/v1/deliveries/x", headers=OPERATOR)).status == 404
    for key in ("portal-a", "coordinator", "metrics"):
        assert (await api.client.get(f"/v1/deliveries/{mine}", headers=auth(key))).status == 403


async def test_replay_of_a_dead_delivery_keeps_its_id_and_restarts_the_ladder(api_db: Api) -> None:
    [delivery_id] = await seed(api_db.engine)
    await fail_then_die(api_db.engine, delivery_id)

    response = await api_db.client.post(f"/v1/deliveries/{delivery_id}/replay", headers=ERKELENZ)

    assert response.status == 202
    assert await response.json() == {"id": delivery_id, "state": "pending"}
    stored = await row(api_db.engine, delivery_id)
    assert (stored.state, stored.rung, stored.attempts) == ("pending", 0, 2)  # numbering goes on
    assert stored.next_attempt_at <= stored.updated_at
    [event] = await events(api_db.engine, "delivery.replayed")
    assert (event.actor, event.delivery_id) == ("key:erkelenz-staff", delivery_id)
    assert json.loads(event.details) == {"previous_state": "dead", "force": False}
    assert api_db.wakeups  # the worker was told
    assert await chain_ok(api_db.engine)


async def test_replay_of_cancelled_and_forced_delivered(api: Api) -> None:
    [cancelled] = await seed(api.engine, state=DeliveryState.CANCELLED)
    [delivered] = await seed(api.engine, state=DeliveryState.DELIVERED)

    again = await api.client.post(f"/v1/deliveries/{cancelled}/replay", headers=OPERATOR)
    refused = await api.client.post(f"/v1/deliveries/{delivered}/replay", headers=OPERATOR)
    forced = await api.client.post(
        f"/v1/deliveries/{delivered}/replay", json={"force": True}, headers=OPERATOR
    )

    assert again.status == 202
    assert refused.status == 409
    assert "force" in (await refused.json())["detail"]
    assert forced.status == 202
    assert (await row(api.engine, delivered)).state == "pending"


@pytest.mark.parametrize("state", [DeliveryState.PENDING, DeliveryState.DELIVERING])
async def test_replay_of_unfinished_is_409_even_forced(api: Api, state: DeliveryState) -> None:
    [delivery_id] = await seed(api.engine, state=state)

    response = await api.client.post(
        f"/v1/deliveries/{delivery_id}/replay", json={"force": True}, headers=OPERATOR
    )

    assert response.status == 409
    assert (await response.json())["type"] == "urn:ozgbridge:problem:state-conflict"
    assert (await row(api.engine, delivery_id)).state == state


async def test_replay_roles(api: Api) -> None:
    [theirs] = await seed(api.engine, tenant="gangelt", state=DeliveryState.DEAD)

    assert (
        await api.client.post(f"/v1/deliveries/{theirs}/replay", headers=ERKELENZ)
    ).status == 404
    for key in ("portal-a", "coordinator", "metrics"):
        answer = await api.client.post(f"/v1/deliveries/{theirs}/replay", headers=auth(key))
        assert answer.status == 403
    assert (await row(api.engine, theirs)).state == "dead"
    assert await events(api.engine, "delivery.replayed") == []


async def test_bad_replay_bodies(api: Api) -> None:
    [dead] = await seed(api.engine, state=DeliveryState.DEAD)

    broken = await api.client.post(
        f"/v1/deliveries/{dead}/replay",
        data=b"{",
        headers={**OPERATOR, "Content-Type": "application/json"},
    )
    unknown = await api.client.post(
        f"/v1/deliveries/{dead}/replay", json={"forse": True}, headers=OPERATOR
    )

    assert broken.status == 400
    assert unknown.status == 422
    assert (await row(api.engine, dead)).state == "dead"


async def test_cancel(api_db: Api) -> None:
    [pending] = await seed(api_db.engine)
    [delivered] = await seed(api_db.engine, state=DeliveryState.DELIVERED)
    reason = "Antrag doppelt eingereicht"

    response = await api_db.client.post(
        f"/v1/deliveries/{pending}/cancel", json={"reason": reason}, headers=ERKELENZ
    )
    refused = await api_db.client.post(
        f"/v1/deliveries/{delivered}/cancel", json={"reason": reason}, headers=OPERATOR
    )
    twice = await api_db.client.post(
        f"/v1/deliveries/{pending}/cancel", json={"reason": reason}, headers=OPERATOR
    )

    assert response.status == 200
    item = await response.json()
    assert (item["id"], item["state"], item["nextAttemptAt"]) == (pending, "cancelled", None)
    assert item["cancelledAt"] is not None
    assert refused.status == 409
    assert twice.status == 409
    shown = await (await api_db.client.get(f"/v1/deliveries/{pending}", headers=OPERATOR)).json()
    assert shown["cancelReason"] == reason
    [event] = await events(api_db.engine, "delivery.cancelled")
    assert event.actor == "key:erkelenz-staff"
    assert reason not in event.details  # free text stays out of the audit log
    assert set(json.loads(event.details)) == {"previous_state", "reason_sha256", "reason_chars"}
    app = await (await api_db.client.get(f"/v1/applications/{item['applicationId']}",
                                         headers=OPERATOR)).json()  # fmt: skip
    assert app["status"] == "cancelled"


async def test_cancel_needs_a_reason_and_respects_roles(api: Api) -> None:
    [theirs] = await seed(api.engine, tenant="gangelt")

    missing = await api.client.post(f"/v1/deliveries/{theirs}/cancel", json={}, headers=OPERATOR)
    other = await api.client.post(
        f"/v1/deliveries/{theirs}/cancel", json={"reason": "x"}, headers=ERKELENZ
    )
    portal = await api.client.post(
        f"/v1/deliveries/{theirs}/cancel", json={"reason": "x"}, headers=auth("portal-a")
    )

    assert missing.status == 422
    assert other.status == 404
    assert portal.status == 403
    assert (await row(api.engine, theirs)).state == "pending"


async def test_bulk_replay_dry_run_then_for_real(api_db: Api) -> None:
    dead = await seed(api_db.engine, state=DeliveryState.DEAD, count=3)
    await seed(api_db.engine, route="hundesteuer", leika_key=HUND, state=DeliveryState.DEAD)
    await seed(api_db.engine, tenant="gangelt", state=DeliveryState.DEAD)
    await seed(api_db.engine)  # pending: never part of a bulk replay
    body = {"filter": {"state": "dead", "route": "gewerbe"}}

    dry = await api_db.client.post(
        "/v1/deliveries/replay", json={**body, "dryRun": True}, headers=ERKELENZ
    )
    real = await api_db.client.post("/v1/deliveries/replay", json=body, headers=ERKELENZ)

    assert await dry.json() == {"matched": 3, "replayed": 0}
    assert await real.json() == {"matched": 3, "replayed": 3}
    assert {(await row(api_db.engine, d)).state for d in dead} == {"pending"}
    [summary] = await events(api_db.engine, "deliveries.bulk_replayed")
    details = json.loads(summary.details)
    assert (summary.actor, details["tenants"], details["replayed"]) == (
        "key:erkelenz-staff", ["erkelenz"], 3,
    )  # fmt: skip
    assert len(await events(api_db.engine, "delivery.replayed")) == 3
    assert await chain_ok(api_db.engine)


async def test_bulk_replay_roles_and_filters(api: Api) -> None:
    other = await api.client.post(
        "/v1/deliveries/replay", json={"filter": {"tenant": "gangelt"}}, headers=ERKELENZ
    )
    pending = await api.client.post(
        "/v1/deliveries/replay", json={"filter": {"state": "pending"}}, headers=OPERATOR
    )
    coordinator = await api.client.post(
        "/v1/deliveries/replay", json={}, headers=auth("coordinator")
    )

    assert other.status == 403
    assert pending.status == 422
    assert coordinator.status == 403
