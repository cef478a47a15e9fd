"""Events to the portal: signed (checked by the `standardwebhooks` reference library), in order
per application, retried along the ladder, failures visible and replayable — on both engines."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from structlog.testing import capture_logs

from tests.integration.events.portal import PortalReceiver
from tests.integration.events.support import GANGELT_AGS, Backend, running, write_config

NOTE = "Sehr geehrter Herr Mustermann, bitte reichen Sie die Gewerbeerlaubnis nach."


async def test_the_portal_hears_delivery_every_status_and_the_forwarding(
    database_url: str, tmp_path: Path, portal: PortalReceiver, backend: Backend
) -> None:
    # Erkelenz's Fachverfahren confirms receipt in its answer to the delivery.
    backend.answers = [(201, {"id": "FV-77", "status": "confirmed", "fileReference": "32.1-77"})]
    config = write_config(tmp_path, backend_url=backend.url, portal_url=portal.url)

    with capture_logs() as logs:
        async with running(config, database_url, tmp_path / "var") as bridge:
            application_id = await bridge.submit()
            await portal.until(lambda: len(portal.of(application_id)) >= 2)
            view = await bridge.until(application_id, lambda v: v["processingStatus"])
            await bridge.report(
                application_id, "erkelenz-staff", status="information_required", note=NOTE
            )
            # Erkelenz: the business is in Gangelt
            forwarded = await bridge.report(
                application_id, "erkelenz-staff", status="not_responsible",
                forwardTo={"ags": GANGELT_AGS},
            )  # fmt: skip
            await portal.until(
                lambda: portal.types(application_id).count("application.delivered") == 2
            )
            final = await bridge.until(application_id, lambda v: v["status"] == "delivered")
            page = await bridge.listed_until(
                "/v1/events",
                "portal",
                lambda page: all(i["state"] == "delivered" for i in page["items"]),
                application=application_id,
            )

    assert (view["status"], view["processingStatus"]) == ("delivered", "confirmed")
    assert view["statusHistory"][0]["source"] == "backend:erkelenz/gewerbe"
    assert view["statusHistory"][0]["fileReference"] == "32.1-77"
    assert forwarded["tenant"] == "gangelt"
    assert final["tenant"] == "gangelt"
    assert portal.types(application_id) == [
        "application.delivered",
        "application.status",
        "application.status",
        "application.status",
        "application.forwarded",
        "application.delivered",
    ]
    delivered, confirmed, asked, refused, moved, delivered_again = portal.of(application_id)
    for event in portal.of(application_id):
        assert set(event) == {"type", "id", "applicationId", "reference", "occurredAt", "data"}
        assert event["reference"] == "PORTAL-4711"
        assert datetime.fromisoformat(event["occurredAt"]).tzinfo is not None
    assert delivered["data"]["tenant"] == "erkelenz"
    assert delivered["data"]["deliveryId"] == view["deliveries"][0]["id"]
    assert confirmed["data"] == {
        "status": "confirmed", "note": None, "fileReference": "32.1-77", "tenant": "erkelenz",
    }  # fmt: skip
    assert (asked["data"]["status"], asked["data"]["note"]) == ("information_required", NOTE)
    assert refused["data"]["status"] == "not_responsible"
    assert moved["data"] == {"from": "erkelenz", "to": "gangelt"}
    assert delivered_again["data"]["tenant"] == "gangelt"
    # webhook-id is the event id; every event has its own
    assert [h["webhook-id"] for h in portal.headers] == [e["id"] for e in portal.events]
    assert len({e["id"] for e in portal.events}) == 6
    assert portal.refused_signatures == 0
    assert [item["state"] for item in page["items"]] == ["delivered"] * 6
    # the note went to the portal and into the history, never into a log line
    assert "Mustermann" not in repr(logs)


async def test_only_the_submitting_portal_hears_and_only_if_it_listens(
    sqlite_url: str, tmp_path: Path, portal: PortalReceiver, backend: Backend
) -> None:
    config = write_config(tmp_path, backend_url=backend.url, portal_url=portal.url)

    async with running(config, sqlite_url, tmp_path / "var") as bridge:
        quiet = await bridge.submit("quiet-portal", reference="QUIET-1")
        loud = await bridge.submit("portal", reference="LOUD-1")
        await bridge.report(quiet, "erkelenz-staff", status="confirmed")
        await portal.until(lambda: len(portal.of(loud)) >= 1)
        await bridge.until(quiet, lambda v: v["status"] == "delivered")
        status, page = await bridge.get("/v1/events", "operator")

    assert portal.of(quiet) == []
    assert status == 200
    assert {item["applicationId"] for item in page["items"]} == {loud}


async def test_a_failing_portal_gets_events_retried_and_in_order(
    database_url: str, tmp_path: Path, portal: PortalReceiver, backend: Backend
) -> None:
    portal.answers.extend([503, 503])  # the first event fails twice, the rest wait behind it
    config = write_config(tmp_path, backend_url=backend.url, portal_url=portal.url)

    async with running(config, database_url, tmp_path / "var") as bridge:
        application_id = await bridge.submit()
        await bridge.until(application_id, lambda v: v["status"] == "delivered")
        for code in ("confirmed", "in_progress", "completed"):
            await bridge.report(application_id, "erkelenz-staff", status=code)
        await portal.until(lambda: len(portal.of(application_id)) == 4)
        status, page = await bridge.get("/v1/events", "portal", application=application_id)

    assert portal.types(application_id) == ["application.delivered"] + ["application.status"] * 3
    assert [e["data"]["status"] for e in portal.of(application_id)[1:]] == [
        "confirmed",
        "in_progress",
        "completed",
    ]
    assert status == 200
    oldest = page["items"][-1]
    assert (oldest["type"], oldest["state"], oldest["attempts"]) == (
        "application.delivered",
        "delivered",
        3,
    )
    assert oldest["lastStatusCode"] == 204


async def test_a_refused_event_is_dead_visible_and_replayable(
    sqlite_url: str, tmp_path: Path, portal: PortalReceiver, backend: Backend
) -> None:
    portal.answers.append(410)  # permanent: no retry
    config = write_config(tmp_path, backend_url=backend.url, portal_url=portal.url)

    async with running(config, sqlite_url, tmp_path / "var") as bridge:
        application_id = await bridge.submit()
        await bridge.until(application_id, lambda v: v["status"] == "delivered")
        await bridge.report(application_id, "erkelenz-staff", status="confirmed")
        # the dead first event no longer holds back the second
        await portal.until(lambda: len(portal.of(application_id)) == 1)
        status, dead = await bridge.get("/v1/events", "operator", state="dead")
        assert status == 200
        [event] = dead["items"]
        by_tenant = await bridge.get("/v1/events", "erkelenz-staff")
        other_portal = await bridge.post(f"/v1/events/{event['id']}/replay", "quiet-portal")
        not_dead = await bridge.post(f"/v1/events/{portal.events[0]['id']}/replay", "portal")
        replayed = await bridge.post(f"/v1/events/{event['id']}/replay", "portal")
        await portal.until(lambda: len(portal.of(application_id)) == 2)

    assert (event["type"], event["attempts"], event["lastStatusCode"]) == (
        "application.delivered", 1, 410,
    )  # fmt: skip
    assert event["lastError"] == f"HTTP 410 from {portal.url}"
    assert by_tenant[0] == 403
    assert other_portal[0] == 404
    assert not_dead[0] == 409
    assert replayed[0] == 202
    assert replayed[1]["state"] == "pending"
    # the replayed event arrives after the later one: order holds only as far as retries allow
    assert portal.types(application_id) == ["application.status", "application.delivered"]


async def test_a_dead_delivery_is_an_event(
    sqlite_url: str, tmp_path: Path, portal: PortalReceiver, backend: Backend
) -> None:
    backend.answers = [(422, {"error": "Formular unvollständig"})]
    config = write_config(tmp_path, backend_url=backend.url, portal_url=portal.url)

    async with running(config, sqlite_url, tmp_path / "var") as bridge:
        application_id = await bridge.submit()
        await portal.until(lambda: len(portal.of(application_id)) == 1)

    [dead] = portal.of(application_id)
    assert dead["type"] == "application.dead"
    assert dead["data"]["tenant"] == "erkelenz"
    assert dead["data"]["attempts"] == 1


async def test_a_back_end_may_answer_not_responsible_and_the_application_moves_on(
    database_url: str, tmp_path: Path, portal: PortalReceiver, backend: Backend
) -> None:
    backend.answers = [
        (200, {"id": "FV-9", "status": "not_responsible", "forwardTo": {"ags": GANGELT_AGS}})
    ]
    config = write_config(tmp_path, backend_url=backend.url, portal_url=portal.url)

    async with running(config, database_url, tmp_path / "var") as bridge:
        application_id = await bridge.submit()
        await portal.until(lambda: len(portal.of(application_id)) == 4)
        view = await bridge.until(application_id, lambda v: v["status"] == "delivered")

    assert portal.types(application_id) == [
        "application.delivered",
        "application.status",
        "application.forwarded",
        "application.delivered",
    ]
    assert view["tenant"] == "gangelt"
    assert [m["by"] for m in view["forwardedFrom"]] == ["backend:erkelenz/gewerbe"]


async def test_an_invalid_status_in_the_answer_is_dropped_and_the_delivery_stands(
    sqlite_url: str, tmp_path: Path, portal: PortalReceiver, backend: Backend
) -> None:
    backend.answers = [(200, {"id": "FV-3", "status": "genehmigt", "note": "Mustermann"})]
    config = write_config(tmp_path, backend_url=backend.url, portal_url=portal.url)

    with capture_logs() as logs:
        async with running(config, sqlite_url, tmp_path / "var") as bridge:
            application_id = await bridge.submit()
            await portal.until(lambda: len(portal.of(application_id)) == 1)
            view = await bridge.until(application_id, lambda v: v["status"] == "delivered")

    assert (view["processingStatus"], view["statusHistory"]) == (None, [])
    [warning] = [e for e in logs if e["event"] == "http.status_answer_invalid"]
    assert warning["fields"] == ["status"]
    assert "genehmigt" not in repr(logs)
    assert "Mustermann" not in repr(logs)
