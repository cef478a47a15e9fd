"""not_responsible: forwarding between town and Kreis, ping-pong refused, unroutable."""

from __future__ import annotations

from tests.integration.api.status_support import (
    ERKELENZ_AGS,
    GANGELT_AGS,
    KREIS_AGS,
    audit_details,
    bauantrag,
    delivery_rows,
    report,
    submit,
    view,
)
from tests.integration.api.support import Api, auth


async def test_town_forwards_a_bauantrag_to_the_kreis_and_loses_sight_of_it(api_db: Api) -> None:
    application_id = await bauantrag(api_db)
    before = await view(api_db, application_id)
    assert before["tenant"] == "erkelenz"
    [first_delivery] = before["deliveries"]
    wakeups = len(api_db.wakeups)

    answer = await report(
        api_db, application_id, "erkelenz-staff", status="not_responsible", note="Kreissache"
    )

    assert answer.status == 202, await answer.text()
    accepted = await answer.json()
    assert (accepted["tenant"], accepted["applicationStatus"]) == ("kreis-heinsberg", "received")
    assert len(api_db.wakeups) > wakeups  # the worker is told a new delivery waits
    after = await view(api_db, application_id, "kreis-staff")
    assert (after["id"], after["tenant"], after["status"]) == (
        application_id,
        "kreis-heinsberg",
        "received",
    )
    [moved] = after["forwardedFrom"]
    assert (moved["tenant"], moved["by"]) == ("erkelenz", "key:erkelenz-staff")
    assert after["processingStatus"] == "not_responsible"
    old, new = after["deliveries"]
    assert old["id"] == first_delivery["id"]
    # the old delivery was still waiting: it must not reach Erkelenz any more
    assert (old["state"], old["lastError"]) == (
        "cancelled",
        "cancelled: the application was forwarded to kreis-heinsberg",
    )
    assert (new["state"], new["routeId"], new["attempts"]) == ("pending", "bauaufsicht", 0)
    assert new["id"] != old["id"]
    rows = await delivery_rows(api_db.engine, application_id)
    assert [(r.tenant_id, r.state) for r in rows] == [
        ("erkelenz", "cancelled"),
        ("kreis-heinsberg", "pending"),
    ]
    # The operators' delivery view says when and why it was cancelled, as for a manual cancel.
    assert rows[0].cancelled_at is not None
    assert rows[0].cancel_reason == "the application was forwarded to kreis-heinsberg"
    # Erkelenz no longer sees it, nor may it report on it; the portal still sees it
    gone = await api_db.client.get(
        f"/v1/applications/{application_id}", headers=auth("erkelenz-staff")
    )
    assert gone.status == 404
    again = await report(api_db, application_id, "erkelenz-staff", status="in_progress")
    assert again.status == 404
    assert (await view(api_db, application_id, "portal-a"))["tenant"] == "kreis-heinsberg"
    actions = [action for action, _ in await audit_details(api_db.engine)]
    assert {"application.status", "application.forwarded", "delivery.cancelled"} <= set(actions)


async def test_the_kreis_cannot_send_it_back_to_the_town(api_db: Api) -> None:
    application_id = await bauantrag(api_db)
    assert (
        await report(api_db, application_id, "erkelenz-staff", status="not_responsible")
    ).status == 202

    back = await report(
        api_db,
        application_id,
        "kreis-staff",
        status="not_responsible",
        forwardTo={"ags": ERKELENZ_AGS},
    )

    assert back.status == 409
    problem = await back.json()
    assert "erkelenz" in problem["detail"]
    assert "circles" in problem["detail"]
    seen = await view(api_db, application_id)
    # nothing changed: still with the Kreis, no new entry, no new delivery
    assert seen["tenant"] == "kreis-heinsberg"
    assert [e["status"] for e in seen["statusHistory"]] == ["not_responsible"]
    assert len(seen["deliveries"]) == 2


async def test_forward_to_names_the_region_and_routing_decides_who(api_db: Api) -> None:
    # Erkelenz: the plot is in Gangelt, whose Bauaufsicht is the Kreis (by delegation).
    application_id = await bauantrag(api_db)

    answer = await report(
        api_db,
        application_id,
        "erkelenz-staff",
        status="not_responsible",
        forwardTo={"ags": GANGELT_AGS},
    )

    assert answer.status == 202
    assert (await answer.json())["tenant"] == "kreis-heinsberg"
    seen = await view(api_db, application_id)
    assert seen["statusHistory"][0]["detail"] == {"forwardTo": "053700008008"}


async def test_kreis_to_town_and_on_through_several_hops(api_db: Api) -> None:
    # A Bauantrag sent for Gangelt reaches the Kreis; the Kreis says it is Erkelenz's.
    application_id = await bauantrag(api_db, GANGELT_AGS)
    assert (await view(api_db, application_id))["tenant"] == "kreis-heinsberg"

    to_town = await report(
        api_db, application_id, "kreis-staff", status="not_responsible",
        forwardTo={"ags": ERKELENZ_AGS},
    )  # fmt: skip

    assert to_town.status == 202
    seen = await view(api_db, application_id, "erkelenz-staff")
    assert seen["tenant"] == "erkelenz"
    assert [m["tenant"] for m in seen["forwardedFrom"]] == ["kreis-heinsberg"]
    # and Erkelenz may not return it to the Kreis either way
    for document in ({}, {"forwardTo": {"ags": KREIS_AGS}}):
        answer = await report(
            api_db, application_id, "erkelenz-staff", status="not_responsible", **document
        )
        if document:
            assert answer.status == 409
        else:  # without forwardTo: nobody left who has not had it
            assert answer.status == 202
            assert (await answer.json())["applicationStatus"] == "unroutable"


async def test_nobody_responsible_makes_it_unroutable_for_operators(api_db: Api) -> None:
    application_id = await bauantrag(api_db)
    await report(api_db, application_id, "erkelenz-staff", status="not_responsible")

    answer = await report(api_db, application_id, "kreis-staff", status="not_responsible")

    assert answer.status == 202
    assert (await answer.json())["applicationStatus"] == "unroutable"
    seen = await view(api_db, application_id)
    assert (seen["status"], seen["tenant"]) == ("unroutable", "kreis-heinsberg")
    listed = await api_db.client.get("/v1/applications?status=unroutable", headers=auth("operator"))
    assert listed.status == 200
    page = await listed.json()
    assert [item["id"] for item in page["items"]] == [application_id]
    assert page["items"][0]["processingStatus"] == "not_responsible"
    assert "application.unroutable" in [action for action, _ in await audit_details(api_db.engine)]
    # not even an operator sends it back to a tenant that had it
    refused = await report(
        api_db, application_id, "operator", status="not_responsible",
        forwardTo={"ags": ERKELENZ_AGS},
    )  # fmt: skip
    assert refused.status == 409


async def test_an_unroutable_application_can_be_forwarded_by_an_operator(api_db: Api) -> None:
    # a Gewerbeanmeldung Erkelenz refuses; the Kreis has no Gewerbe route: unroutable at once
    application_id = await submit(api_db)
    first = await report(api_db, application_id, "erkelenz-staff", status="not_responsible")
    assert (await first.json())["applicationStatus"] == "unroutable"
    # Erkelenz disclaimed it: its still waiting delivery is not attempted any more
    [waiting] = (await view(api_db, application_id))["deliveries"]
    assert (waiting["state"], waiting["lastError"]) == (
        "cancelled",
        "cancelled: the tenant is not responsible and nobody else is",
    )

    settled = await report(
        api_db, application_id, "operator", status="not_responsible",
        forwardTo={"ags": GANGELT_AGS},
    )  # fmt: skip

    assert settled.status == 202
    seen = await view(api_db, application_id, "gangelt-staff")
    assert (seen["tenant"], seen["status"]) == ("gangelt", "received")
    assert [m["tenant"] for m in seen["forwardedFrom"]] == ["erkelenz"]


async def test_application_lists_by_role(api_db: Api) -> None:
    mine = await submit(api_db, "portal-a")
    theirs = await submit(api_db, "portal-b", region={"ags": GANGELT_AGS})

    async def listed(key: str, query: str = "") -> tuple[int, list[str]]:
        response = await api_db.client.get(f"/v1/applications{query}", headers=auth(key))
        if response.status != 200:
            return response.status, []
        return 200, [item["id"] for item in (await response.json())["items"]]

    assert await listed("operator") == (200, [theirs, mine])
    assert await listed("operator", "?tenant=gangelt") == (200, [theirs])
    assert await listed("portal-a") == (200, [mine])
    assert await listed("erkelenz-staff") == (200, [mine])
    assert await listed("gangelt-staff", "?tenant=erkelenz") == (403, [])
    assert await listed("coordinator") == (403, [])
    assert await listed("operator", "?status=nonsense") == (422, [])
    assert await listed("operator", "?limit=0") == (422, [])
    # paging: newest first, `next` leads on
    first = await api_db.client.get("/v1/applications?limit=1", headers=auth("operator"))
    page = await first.json()
    assert [i["id"] for i in page["items"]] == [theirs]
    second = await api_db.client.get(
        f"/v1/applications?limit=1&before={page['next']}", headers=auth("operator")
    )
    assert [i["id"] for i in (await second.json())["items"]] == [mine]
