"""Dashboard sign-in and sessions: throttled per client and token prefix, audited, constant time;
sign-out revoked in the database for every process; the client address behind trusted proxies."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import ClientResponse
from sqlalchemy import select
from structlog.testing import capture_logs

from ozgbridge.store.tables import audit_events, ui_revoked_sessions
from ozgbridge.ui.signin import ANSWER_SECONDS
from tests.integration.api.support import Api, StartApi, token

SECRET = "test-session-secret-0123456789abcdef"
PROXY = {"trusted_proxies": ["127.0.0.1"], "ui_session_secret": SECRET}


async def sign_in(api: Api, secret: str, client: str | None = None) -> ClientResponse:
    headers = {"X-Forwarded-For": client} if client else {}
    return await api.client.post(
        "/ui/login", data={"token": secret}, headers=headers, allow_redirects=False
    )


async def audited(api: Api, action: str) -> list[dict[str, Any]]:
    async with api.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_events.c.actor, audit_events.c.details).where(
                audit_events.c.action == action
            )
        )
        return [{"actor": r.actor, **json.loads(r.details)} for r in rows]


async def test_ten_failures_from_one_client_throttle_it(
    sqlite_url: str, start_api: StartApi
) -> None:
    api = await start_api(sqlite_url, **PROXY)

    failed = [await sign_in(api, f"guess-{i:02d}-abcdefgh", "203.0.113.7") for i in range(10)]
    throttled = await sign_in(api, token("coordinator"), "203.0.113.7")  # even the right token
    elsewhere = await sign_in(api, token("coordinator"), "198.51.100.1")

    assert [r.status for r in failed] == [401] * 10
    assert throttled.status == 429
    assert 250 <= int(throttled.headers["Retry-After"]) <= 300
    assert "Zu viele" in await throttled.text()
    assert "ozgb_ui" not in throttled.cookies
    assert elsewhere.status == 303  # another client is not affected
    failures = await audited(api, "ui.sign_in_failed")
    assert len(failures) == 10
    assert {f["actor"] for f in failures} == {"client:203.0.113.7"}
    assert {f["client"] for f in failures} == {"203.0.113.7"}
    [started] = await audited(api, "ui.sign_in_throttled")
    assert started["by"] == ["client"]
    # Neither the tokens tried nor their beginnings are stored or audited.
    assert "guess-" not in repr(failures)
    [signed_in] = await audited(api, "ui.signed_in")
    assert signed_in == {
        "actor": "key:coordinator",
        "client": "198.51.100.1",
        "role": "coordinator",
    }


async def test_failures_at_one_token_prefix_from_many_clients_throttle_the_prefix(
    sqlite_url: str, start_api: StartApi
) -> None:
    api = await start_api(sqlite_url, **PROXY)
    prefix = "ozgb_Xy7Qk9p"  # 12 characters: what the throttle counts by

    failed = [await sign_in(api, f"{prefix}guess{i}", f"203.0.113.{i}") for i in range(10)]
    same_prefix = await sign_in(api, f"{prefix}another", "198.51.100.77")
    other_prefix = await sign_in(api, "ozgb_OTHERxx-guess", "198.51.100.77")

    assert [r.status for r in failed] == [401] * 10
    assert same_prefix.status == 429
    assert other_prefix.status == 401
    [started] = await audited(api, "ui.sign_in_throttled")
    assert started["by"] == ["prefix"]


async def test_without_trusted_proxies_x_forwarded_for_is_ignored(
    sqlite_url: str, start_api: StartApi
) -> None:
    api = await start_api(sqlite_url, ui_sign_in_limit=3)

    with capture_logs() as logs:
        # A client cannot escape the throttle by naming a new address each time.
        answers = [await sign_in(api, f"guess-{i:02d}-zzzz", f"203.0.113.{i}") for i in range(4)]

    assert [r.status for r in answers] == [401, 401, 401, 429]
    clients = {e["client"] for e in logs if e["event"] == "http.request"}
    assert clients == {"127.0.0.1"}


async def test_the_access_log_names_the_forwarded_client(
    sqlite_url: str, start_api: StartApi
) -> None:
    api = await start_api(sqlite_url, **PROXY)

    with capture_logs() as logs:
        await api.client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9, 127.0.0.1"})
        await api.client.get("/healthz")

    clients = [e["client"] for e in logs if e["event"] == "http.request"]
    assert clients == ["203.0.113.9", "127.0.0.1"]


async def test_every_sign_in_answer_takes_the_same_minimum_time(
    sqlite_url: str, start_api: StartApi
) -> None:
    api = await start_api(sqlite_url, ui_sign_in_limit=2)

    durations = {}
    for name, secret in [
        ("right", token("coordinator")),
        ("unknown", "guess-00-aaaa"),
        ("role", token("portal-a")),
        ("unknown2", "guess-01-aaaa"),
        ("throttled", "guess-02-aaaa"),
    ]:
        started = time.perf_counter()
        response = await sign_in(api, secret)
        durations[name] = (response.status, time.perf_counter() - started)

    assert [status for status, _ in durations.values()] == [303, 401, 403, 401, 429]
    assert all(seconds >= ANSWER_SECONDS for _, seconds in durations.values()), durations


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


async def test_sign_out_ends_the_session_in_every_process(
    database_url: str, start_api: StartApi
) -> None:
    first = await start_api(database_url, ui_session_secret=SECRET)
    second = await start_api(database_url, ui_session_secret=SECRET)  # another API process
    signed_in = await sign_in(first, token("operator"))
    cookie = signed_in.cookies["ozgb_ui"]
    copy = {"Cookie": f"ozgb_ui={cookie.value}"}

    before = await second.client.get("/ui/", headers=copy, allow_redirects=False)
    page = await (await first.client.get("/ui/")).text()
    out = await first.client.post("/ui/logout", data={"csrf": csrf_of(page)}, allow_redirects=False)
    after_here = await first.client.get("/ui/", headers=copy, allow_redirects=False)
    after_there = await second.client.get("/ui/", headers=copy, allow_redirects=False)

    assert before.status == 200
    assert out.status == 303
    assert after_here.status == 303
    assert after_there.status == 303
    assert after_there.headers["Location"] == "/ui/login"
    async with first.engine.connect() as conn:
        [row] = (await conn.execute(select(ui_revoked_sessions))).all()
    # The revocation lasts exactly as long as the session would have.
    expires = datetime.now(UTC).timestamp() + 8 * 3600
    assert abs(row.expires_at.timestamp() - expires) < 120
    [event] = await audited(first, "ui.signed_out")
    assert event == {"actor": "key:operator", "session": row.session_id}
