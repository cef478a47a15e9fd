"""Retention: content past its time is purged in batches, metadata stays — on both engines."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.dataprotection.purge import purge
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import AttemptOutcome, DeliveryState, RegionRef, utcnow
from ozgbridge.errors import PermanentDeliveryError
from ozgbridge.reporting import build_report, parse_period
from ozgbridge.settings import Settings
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.records import AttemptResult, IdempotencyRecord
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import (
    applications,
    attachments,
    attempts,
    audit_events,
    deliveries,
    idempotency_keys,
)
from ozgbridge.tenants import Deployment, load_deployment
from tests.factories import new_application
from tests.integration.dataprotection.support import finish, write_retention_config

NOW = utcnow()
MELDE = "99115005000000"


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    return load_deployment(write_retention_config(tmp_path / "config"))


@pytest.fixture
def repo(engine: AsyncEngine, sealer: Sealer) -> Repository:
    return Repository(engine, sealer=sealer)


def settings(**values: object) -> Settings:
    return Settings.model_validate({"database_url": "sqlite+aiosqlite:///unused.sqlite3", **values})


async def stored(
    repo: Repository, state: DeliveryState | None, age: timedelta, **fields: object
) -> str:
    new = new_application(**fields)
    await repo.accept(new)
    if state is not None:
        await finish(repo.engine, new.id, state, NOW - age)
    return new.id


async def content_rows(engine: AsyncEngine, application_id: str) -> tuple[object, ...]:
    async with engine.connect() as conn:
        app = (
            await conn.execute(
                select(
                    applications.c.data,
                    applications.c.data_key_id,
                    applications.c.content_purged_at,
                    applications.c.data_size,
                    applications.c.data_sha256,
                ).where(applications.c.id == application_id)
            )
        ).one()
        files = (
            await conn.execute(
                select(
                    attachments.c.filename,
                    attachments.c.content,
                    attachments.c.key_id,
                    attachments.c.size,
                    attachments.c.sha256,
                ).where(attachments.c.application_id == application_id)
            )
        ).all()
    return (tuple(app), [tuple(f) for f in files])


async def test_due_content_is_purged_and_metadata_kept(
    repo: Repository, deployment: Deployment
) -> None:
    day = timedelta(days=1)
    due = {
        "delivered 8 days ago": await stored(repo, DeliveryState.DELIVERED, 8 * day),
        "dead 31 days ago": await stored(repo, DeliveryState.DEAD, 31 * day),
        "melde route keeps 0 days": await stored(
            repo, DeliveryState.DELIVERED, timedelta(seconds=1), route_id="melde",
            leika_key=MELDE,
        ),
        "gangelt keeps dead 1 day": await stored(
            repo, DeliveryState.DEAD, 2 * day, tenant_id="gangelt", route_id="alles",
            region=RegionRef.of(ags="05370008"),
        ),
    }  # fmt: skip
    kept = {
        "delivered 6 days ago": await stored(repo, DeliveryState.DELIVERED, 6 * day),
        "dead 29 days ago": await stored(repo, DeliveryState.DEAD, 29 * day),
        "still pending, old": await stored(repo, None, 60 * day),
        "gangelt delivered 2 days ago": await stored(
            repo, DeliveryState.DELIVERED, 2 * day, tenant_id="gangelt", route_id="alles",
            region=RegionRef.of(ags="05370008"),
        ),
    }  # fmt: skip
    before = {i: await content_rows(repo.engine, i) for i in [*due.values(), *kept.values()]}
    period = parse_period((NOW - 90 * day).date().isoformat(), NOW.date().isoformat())
    report_before = await build_report(repo.engine, deployment, period)

    report = await purge(repo.engine, deployment, settings(purge_batch=2), actor="test", now=NOW)

    assert (report.purged.applications, report.purged.attachments) == (4, 4)
    assert report.purged.content_bytes == sum(
        before[i][0][3] + sum(f[3] for f in before[i][1]) for i in due.values()
    )
    for what, application_id in due.items():
        (data, key_id, purged_at, size, digest), files = await content_rows(
            repo.engine, application_id
        )
        assert (data, key_id, purged_at) == (b"", None, NOW), what
        assert (size, digest) == before[application_id][0][3:], what
        assert [f[:3] for f in files] == [(b"", b"", None)], what
        assert [f[3:] for f in files] == [f[3:] for f in before[application_id][1]], what
        view = await repo.get_application(application_id)
        assert view is not None
        assert view.content_purged_at == NOW
        assert (view.data_size, view.attachment_count) == (size, 1)
        assert await repo.content_purged_at(application_id) == NOW
    for what, application_id in kept.items():
        assert await content_rows(repo.engine, application_id) == before[application_id], what
        assert await repo.content_purged_at(application_id) is None

    # reports and the audit chain only ever read metadata
    report_after = await build_report(repo.engine, deployment, period)
    assert report_after.usage == report_before.usage
    assert report_after.tenant_services == report_before.tenant_services
    assert (await audit.verify(repo.engine)).ok
    async with repo.engine.connect() as conn:
        [event] = (
            await conn.execute(
                select(audit_events.c.actor, audit_events.c.details).where(
                    audit_events.c.action == "retention.purged"
                )
            )
        ).all()
    assert event.actor == "test"
    assert json.loads(event.details) == {
        "applications": 4,
        "attachments": 4,
        "content_bytes": report.purged.content_bytes,
        "notes": 0,
        "event_bodies": 0,
        "idempotency_records": 0,
        "complete": True,
    }

    again = await purge(repo.engine, deployment, settings(), actor="test", now=NOW)
    assert again.purged.applications == 0


async def test_a_purged_application_cannot_be_delivered(
    repo: Repository, deployment: Deployment
) -> None:
    application_id = await stored(repo, DeliveryState.DEAD, timedelta(days=40))
    await purge(repo.engine, deployment, settings(), actor="test", now=NOW)
    # as a replay would: the delivery back in the queue
    async with repo.engine.begin() as conn:
        await conn.execute(
            update(deliveries).values(state="pending", next_attempt_at=NOW - timedelta(seconds=1))
        )
    [claimed] = await DeliveryQueue(repo.engine).claim("w", limit=5, lease_seconds=30)

    assert await repo.load_envelopes([claimed], {}) == {}
    with pytest.raises(
        PermanentDeliveryError, match=f"content of application {application_id} was purged"
    ):
        await repo.load_envelope(claimed, tenant_name="x")


async def test_dry_run_counts_and_changes_nothing(repo: Repository, deployment: Deployment) -> None:
    application_id = await stored(repo, DeliveryState.DELIVERED, timedelta(days=9))
    before = await content_rows(repo.engine, application_id)

    report = await purge(repo.engine, deployment, settings(), actor="test", dry_run=True, now=NOW)

    assert (report.dry_run, report.purged.applications, report.purged.attachments) == (True, 1, 1)
    assert await content_rows(repo.engine, application_id) == before
    async with repo.engine.connect() as conn:
        actions = (await conn.execute(select(audit_events.c.action))).scalars().all()
    assert "retention.purged" not in actions


async def test_idempotency_records_past_their_window_are_deleted(
    repo: Repository, deployment: Deployment
) -> None:
    # An intake plug-in's record (a FIT-Connect submission id) is how it knows the submission is
    # stored; the Zustelldienst lists it until its accept arrives, which may be days later.
    plugin = "fitconnect:9ff9e4e5-5f2b-4a0c-8c7a-7a6c2b1f5d11"
    for owner, key in (("portal-test", "old"), ("portal-test", "fresh"), (plugin, "old")):
        record = IdempotencyRecord(owner, key, "a" * 64, 202, "{}")
        await repo.accept(new_application(), idempotency=record)
    async with repo.engine.begin() as conn:
        await conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.key == "old")
            .values(created_at=NOW - timedelta(days=30))
        )

    dry = await purge(repo.engine, deployment, settings(), actor="t", now=NOW, dry_run=True)
    report = await purge(repo.engine, deployment, settings(), actor="test", now=NOW)

    assert dry.idempotency_records == report.idempotency_records == 1
    assert await repo.find_idempotent("portal-test", "old") is None
    assert await repo.find_idempotent("portal-test", "fresh") is not None
    assert await repo.find_idempotent(plugin, "old") is not None


async def test_many_due_are_purged_in_batches(repo: Repository, deployment: Deployment) -> None:
    ids = [await stored(repo, DeliveryState.DELIVERED, timedelta(days=8)) for _ in range(5)]
    batches: list[int] = []

    report = await purge(
        repo.engine,
        deployment,
        settings(purge_batch=2),
        actor="test",
        now=NOW,
        on_batch=lambda done: batches.append(done.applications),
    )

    assert report.purged.applications == 5
    assert batches == [2, 2, 1]
    for application_id in ids:
        assert await repo.content_purged_at(application_id) == NOW


async def test_back_end_answers_go_with_the_content(
    repo: Repository, deployment: Deployment, sealer: Sealer
) -> None:
    new = new_application()
    await repo.accept(new)
    queue = DeliveryQueue(repo.engine, sealer=sealer)
    [claimed] = await queue.claim("w", limit=1, lease_seconds=30)
    answer = AttemptResult(
        AttemptOutcome.PERMANENT, NOW, 422, "HTTP 422", response_excerpt="Erika unbekannt"
    )
    await queue.record(claimed, "w", answer)
    await finish(repo.engine, new.id, DeliveryState.DEAD, NOW - timedelta(days=31))

    await purge(repo.engine, deployment, settings(), actor="test", now=NOW)

    async with repo.engine.connect() as conn:
        [row] = (await conn.execute(select(attempts))).all()
    assert (row.response_excerpt, row.response_key_id) == (None, None)
    assert (row.status_code, row.error) == (422, "HTTP 422")  # the attempt itself stays
    view = await repo.get_application(new.id)
    assert view is not None
    assert view.deliveries[0].last_response is None
