"""/ui/deliveries and /ui/routes: who sees them, what they show, and every button."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ozgbridge.domain import DeliveryState
from tests.integration.api.ops_support import events, row, seed
from tests.integration.ui.ops_support import OpsUi, ops_ui


@pytest.fixture
async def ui(sqlite_url: str, tmp_path: Path) -> AsyncIterator[OpsUi]:
    async with ops_ui(sqlite_url, tmp_path) as running:
        yield running


async def test_signed_out_visitors_are_sent_to_sign_in(ui: OpsUi) -> None:
    for path in ("/ui/deliveries", "/ui/routes", "/ui/deliveries/01NOTTHERE000000000000000"):
        response = await ui.client.get(path, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == "/ui/login"
    posted = await ui.post("/ui/routes/erkelenz/gewerbe/pause", csrf="x")
    assert posted.status == 303


async def test_coordinators_do_not_see_them(ui: OpsUi) -> None:
    await ui.sign_in("coordinator")

    report = await ui.client.get("/ui/")
    deliveries = await ui.client.get("/ui/deliveries")
    routes = await ui.client.get("/ui/routes")

    assert report.status == 200
    assert "/ui/deliveries" not in await report.text()
    assert deliveries.status == 403
    assert routes.status == 403


async def test_operator_lists_filters_and_replays(ui: OpsUi) -> None:
    [dead] = await seed(ui.engine, state=DeliveryState.DEAD)
    [pending] = await seed(ui.engine, tenant="gangelt")
    await ui.sign_in("operator")

    everything = await ui.page("/ui/deliveries")
    only_dead = await ui.page("/ui/deliveries?state=dead")
    shown = await ui.page(f"/ui/deliveries/{dead}")

    assert dead in everything
    assert pending in everything
    assert 'href="/ui/deliveries" aria-current="page"' in everything
    assert dead in only_dead
    assert pending not in only_dead
    assert "gescheitert" in shown
    assert "HTTP 503 from back-end" in shown

    csrf = await ui.csrf("/ui/deliveries")
    response = await ui.post(
        f"/ui/deliveries/{dead}/replay", csrf=csrf, back="/ui/deliveries?state=dead"
    )

    assert response.status == 303
    assert response.headers["Location"] == "/ui/deliveries?state=dead&done=replayed"
    assert (await row(ui.engine, dead)).state == "pending"
    [event] = await events(ui.engine, "delivery.replayed")
    assert event.actor == "key:operator"
    assert "erneut versucht" in await ui.page(response.headers["Location"])


async def test_cancel_needs_a_reason(ui: OpsUi) -> None:
    [pending] = await seed(ui.engine)
    await ui.sign_in("erkelenz-staff")
    csrf = await ui.csrf("/ui/deliveries")

    missing = await ui.post(f"/ui/deliveries/{pending}/cancel", csrf=csrf, reason=" ")
    done = await ui.post(f"/ui/deliveries/{pending}/cancel", csrf=csrf, reason="Dublette")

    assert missing.status == 422
    assert done.status == 303
    stored = await row(ui.engine, pending)
    assert (stored.state, stored.cancel_reason) == ("cancelled", "Dublette")


async def test_bulk_replay_button_replays_the_filtered_dead_ones(ui: OpsUi) -> None:
    dead = await seed(ui.engine, state=DeliveryState.DEAD, count=3)
    [other] = await seed(ui.engine, tenant="gangelt", state=DeliveryState.DEAD)
    await ui.sign_in("operator")
    page = await ui.page("/ui/deliveries?state=dead&tenant=erkelenz")
    assert "Alle gescheiterten (Filter) erneut zustellen" in page
    csrf = await ui.csrf("/ui/deliveries?state=dead&tenant=erkelenz")

    response = await ui.post("/ui/deliveries/replay", csrf=csrf, tenant="erkelenz")

    assert response.status == 303
    assert "replayed=3" in response.headers["Location"]
    assert {(await row(ui.engine, d)).state for d in dead} == {"pending"}
    assert (await row(ui.engine, other)).state == "dead"


async def test_forms_need_the_csrf_token_and_our_origin(ui: OpsUi) -> None:
    [dead] = await seed(ui.engine, state=DeliveryState.DEAD)
    await ui.sign_in("operator")
    csrf = await ui.csrf()

    no_token = await ui.post(f"/ui/deliveries/{dead}/replay")
    wrong = await ui.post(f"/ui/deliveries/{dead}/replay", csrf="forged")
    foreign = await ui.client.post(
        f"/ui/deliveries/{dead}/replay",
        data={"csrf": csrf},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    pause = await ui.post("/ui/routes/erkelenz/gewerbe/pause", csrf="forged")

    assert [no_token.status, wrong.status, foreign.status, pause.status] == [403] * 4
    assert (await row(ui.engine, dead)).state == "dead"
    assert await events(ui.engine, "route.paused") == []


async def test_tenant_keys_see_and_touch_only_their_own(ui: OpsUi) -> None:
    [mine] = await seed(ui.engine, state=DeliveryState.DEAD)
    [theirs] = await seed(ui.engine, tenant="gangelt", state=DeliveryState.DEAD)
    await ui.sign_in("erkelenz-staff")
    csrf = await ui.csrf()

    listing = await ui.page("/ui/deliveries")
    routes = await ui.page("/ui/routes")
    other_filter = await ui.client.get("/ui/deliveries?tenant=gangelt")
    other_item = await ui.client.get(f"/ui/deliveries/{theirs}")
    other_replay = await ui.post(f"/ui/deliveries/{theirs}/replay", csrf=csrf)
    other_pause = await ui.post("/ui/routes/gangelt/gewerbe/pause", csrf=csrf)

    assert mine in listing
    assert theirs not in listing
    assert 'name="tenant"' not in listing  # no tenant choice for a tenant key
    assert "erkelenz/gewerbe" in routes
    assert "gangelt/" not in routes
    assert [other_filter.status, other_item.status, other_replay.status, other_pause.status] == [
        403, 404, 404, 404,
    ]  # fmt: skip
    assert (await row(ui.engine, theirs)).state == "dead"


async def test_routes_pause_resume_and_test(ui: OpsUi, tmp_path: Path) -> None:
    await ui.sign_in("operator")
    csrf = await ui.csrf()

    paused = await ui.post("/ui/routes/erkelenz/gewerbe/pause", csrf=csrf)
    after_pause = await ui.page("/ui/routes?done=paused")
    resumed = await ui.post("/ui/routes/erkelenz/gewerbe/resume", csrf=csrf)
    tested = await ui.post("/ui/routes/erkelenz/melde/test", csrf=csrf)

    assert (paused.status, paused.headers["Location"]) == (303, "/ui/routes?done=paused")
    assert "Die Route ist pausiert." in after_pause
    assert "pausiert" in after_pause.split('id="r-erkelenz-gewerbe"')[1].split("</tr>")[0]
    assert resumed.status == 303
    only_gangelt = await ui.page("/ui/routes?tenant=gangelt")
    assert "gangelt/gewerbe" in only_gangelt
    assert "erkelenz/gewerbe" not in only_gangelt
    assert tested.status == 200
    assert "Test erkelenz/melde: erfolgreich" in await tested.text()
    [paused_event] = await events(ui.engine, "route.paused")
    assert paused_event.actor == "key:operator"
    [check] = await events(ui.engine, "route.tested")
    assert json.loads(check.details)["ok"] is True
    assert not any((tmp_path / "var" / "dropbox" / "erkelenz").iterdir())


async def test_pages_load_nothing_from_elsewhere(ui: OpsUi) -> None:
    await seed(ui.engine, state=DeliveryState.DEAD)
    await ui.sign_in("operator")

    response = await ui.client.get("/ui/deliveries")

    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "<script" not in await response.text()
