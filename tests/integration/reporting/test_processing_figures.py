"""The report's processing figures (completed and its median, forwarded, unroutable) against a
hand-built data set, on SQLite and PostgreSQL alike; and the dashboard block that shows them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.reporting import build_report
from ozgbridge.reporting.processing import ProcessingRow, fmt_duration
from ozgbridge.reporting.render_flat import render_csv, render_json
from ozgbridge.reporting.render_html import report_sections
from ozgbridge.store.tables import applications, forwardings, status_history
from tests.integration.reporting.support import GEWERBE, HUND, OCTOBER, deployment, running_app
from tests.integration.ui.test_dashboard import sign_in

DAY = 86400.0
_n = iter(range(1, 10_000))


def at(day: int, hour: int = 8) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


def application(tenant: str, key: str, received: datetime, **values: Any) -> dict[str, Any]:
    return {
        "id": f"PRC{next(_n):023d}",
        "tenant_id": tenant,
        "leika_key": key,
        "ars": "053700004004",
        "ags": "05370004",
        "submitted_by": "portal",
        "status": "delivered",
        "data_mime_type": "application/json",
        "data_sha256": "0" * 64,
        "data_size": 2,
        "data": b"{}",
        "received_at": received,
        "updated_at": received,
        **values,
    }


def entry(app: dict[str, Any], status: str, after_days: float) -> dict[str, Any]:
    return {
        "id": f"STE{next(_n):023d}",
        "application_id": app["id"],
        "at": app["received_at"] + timedelta(days=after_days),
        "source": "key:test",
        "status": status,
        "detail": "{}",
        "note": b"Frau Musterfrau, Ihr Antrag ist beschieden.",  # a plaintext note (key id NULL)
    }


async def seed(engine: AsyncEngine) -> None:
    apps, entries, moves = [], [], []

    def add(app: dict[str, Any], *history: tuple[str, float]) -> dict[str, Any]:
        apps.append(app)
        entries.extend(entry(app, status, days) for status, days in history)
        if history:
            app["processing_status"] = history[-1][0]
        return app

    # town-a Gewerbe: completed after 1, 2 and 4 days (median 2 days), one rejected, one
    # withdrawn, one still in progress, one completed and then reopened by an operator.
    add(application("town-a", GEWERBE, at(1)), ("confirmed", 0.1), ("completed", 1))
    add(application("town-a", GEWERBE, at(2)), ("completed", 2))
    add(application("town-a", GEWERBE, at(3)), ("in_progress", 1), ("completed", 4))
    add(application("town-a", GEWERBE, at(4)), ("rejected", 3))
    add(application("town-a", GEWERBE, at(5)), ("withdrawn", 1))
    add(application("town-a", GEWERBE, at(6)), ("in_progress", 1))
    add(application("town-a", GEWERBE, at(7)), ("completed", 1), ("in_progress", 2))
    # a Hundesteuer town-a passed on to the Kreis, which completed it after 5 days: the
    # forwarding counts at town-a, the completion at the Kreis
    moved = add(application("kreis", HUND, at(8)), ("not_responsible", 0.5), ("completed", 5))
    moves.append(
        {
            "id": f"FWD{next(_n):023d}",
            "application_id": moved["id"],
            "from_tenant": "town-a",
            "to_tenant": "kreis",
            "delivery_id": f"DLV{next(_n):023d}",
            "status_entry_id": entries[-2]["id"],
            "at": moved["received_at"] + timedelta(days=0.5),
            "by": "key:town-a-staff",
        }
    )
    # town-b: one nobody is responsible for
    add(application("town-b", GEWERBE, at(9), status="unroutable"), ("not_responsible", 1))
    # outside October: in no figure
    add(application("town-a", GEWERBE, datetime(2026, 9, 30, 23, tzinfo=UTC)), ("completed", 1))
    async with engine.begin() as conn:
        await conn.execute(applications.insert(), apps)
        await conn.execute(status_history.insert(), entries)
        await conn.execute(forwardings.insert(), moves)


async def test_processing_figures(engine: AsyncEngine, tmp_path: Path) -> None:
    await seed(engine)

    report = await build_report(engine, deployment(tmp_path), OCTOBER)

    assert list(report.processing) == [
        ProcessingRow("kreis", "Kreis Beispiel", HUND, report.processing[0].service_name,
                      completed=1, completion_median_s=5 * DAY, rejected=0, withdrawn=0,
                      forwarded=0, unroutable=0),
        ProcessingRow("town-a", "Stadt A", GEWERBE, report.processing[1].service_name,
                      completed=3, completion_median_s=2 * DAY, rejected=1, withdrawn=1,
                      forwarded=0, unroutable=0),
        ProcessingRow("town-a", "Stadt A", HUND, report.processing[2].service_name,
                      completed=0, completion_median_s=None, rejected=0, withdrawn=0,
                      forwarded=1, unroutable=0),
        ProcessingRow("town-b", "Gemeinde B", GEWERBE, report.processing[3].service_name,
                      completed=0, completion_median_s=None, rejected=0, withdrawn=0,
                      forwarded=0, unroutable=1),
    ]  # fmt: skip
    assert report.processing[1].service_name == "Gewerbe Anmeldung"


async def test_processing_figures_follow_the_tenant_scope(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)

    report = await build_report(engine, deployment(tmp_path), OCTOBER, ["town-a"])

    assert {(r.tenant, r.leika_key) for r in report.processing} == {
        ("town-a", GEWERBE),
        ("town-a", HUND),
    }


async def test_processing_view_in_json_csv_and_html(engine: AsyncEngine, tmp_path: Path) -> None:
    await seed(engine)
    report = await build_report(engine, deployment(tmp_path), OCTOBER)

    document = render_json(report)
    rows = list(csv.DictReader(io.StringIO(render_csv(report, "processing").decode("utf-8"))))
    html = report_sections(report)

    assert b'"processing": [' in document
    assert rows[1]["completed"] == "3"
    assert rows[1]["completion_median_s"] == "172800.0"
    assert 'id="table-processing"' in html
    assert "weitergeleitet (unzuständig)" in html
    assert "2,0 Tage" in html
    # notes are application content: never in a report
    for text in (document.decode(), html, render_csv(report, "processing").decode()):
        assert "Musterfrau" not in text


def test_durations_read_the_german_way() -> None:
    assert fmt_duration(None) == "–"
    assert fmt_duration(90) == "1,5 min"
    assert fmt_duration(5400) == "1,5 Std."
    assert fmt_duration(2.5 * DAY) == "2,5 Tage"
    assert fmt_duration(1234 * DAY) == "1.234,0 Tage"


async def test_the_dashboard_shows_the_processing_block(sqlite_url: str, tmp_path: Path) -> None:
    async with running_app(sqlite_url, tmp_path / "config") as ui:
        await seed(ui.engine)
        await sign_in(ui, "coordinator")
        page = await ui.client.get("/ui/", params={"from": "2026-10-01", "to": "2026-10-31"})

        text = await page.text()
    assert page.status == 200
    assert '<h2 id="h-processing">Bearbeitung</h2>' in text
    assert "ohne Zuständigkeit" in text
