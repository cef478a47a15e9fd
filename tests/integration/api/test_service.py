"""Probes, the OpenAPI document, error answers outside the handlers, and request logging."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from ozgbridge.api import auth as auth_module
from ozgbridge.api import health
from ozgbridge.api.openapi import build_document
from ozgbridge.domain import RegionRef
from ozgbridge.store.records import ApplicationView
from ozgbridge.store.repository import Repository
from tests.integration.api.support import Api, StartApi, auth, body


async def test_healthz_needs_nothing(api: Api) -> None:
    response = await api.client.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_when_the_database_answers(api_db: Api) -> None:
    response = await api_db.client.get("/readyz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_when_the_database_is_gone(
    sqlite_template: Path, tmp_path: Path, start_api: StartApi
) -> None:
    directory = tmp_path / "db"
    directory.mkdir()
    shutil.copyfile(sqlite_template, directory / "ozgbridge.sqlite3")
    api = await start_api(f"sqlite+aiosqlite:///{directory / 'ozgbridge.sqlite3'}")
    assert (await api.client.get("/readyz")).status == 200

    await api.engine.dispose()
    shutil.rmtree(directory)
    before = set(threading.enumerate())
    with capture_logs() as logs:
        response = await api.client.get("/readyz")
    # aiosqlite stops the worker thread of a failed connect without awaiting it; let it finish
    # while this test's event loop still runs, or it reports into a closed loop later.
    for thread in set(threading.enumerate()) - before:
        await asyncio.to_thread(thread.join, 5)

    assert response.status == 503
    assert response.content_type == "application/problem+json"
    document = await response.json(content_type=None)
    assert document["detail"] == "the database is not reachable"
    assert "sqlite" not in (await response.text()).lower()
    assert any(e["event"] == "health.not_ready" for e in logs)


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never says a word."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_readyz_when_the_database_hangs(
    silent_server: int,
    start_api: StartApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(health, "READY_TIMEOUT_SECONDS", 0.3)
    api = await start_api(f"postgresql+asyncpg://nobody@127.0.0.1:{silent_server}/nothing")

    started = asyncio.get_running_loop().time()
    response = await api.client.get("/readyz")

    assert response.status == 503
    assert asyncio.get_running_loop().time() - started < 5


async def test_openapi_document_is_served_without_auth(api: Api) -> None:
    response = await api.client.get("/v1/openapi.json")

    assert response.status == 200
    assert await response.json() == build_document()


async def test_openapi_lists_every_route_the_app_serves(api: Api) -> None:
    document = build_document()
    app = api.client.server.app
    assert app is not None
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        # the dashboard's HTML pages are not part of the JSON API
        and not route.resource.canonical.startswith("/ui")
    }

    documented = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }

    assert documented == served


async def test_unknown_route_and_wrong_method_are_problems(api: Api) -> None:
    missing = await api.client.get("/v1/nothing-here")
    wrong = await api.client.delete("/v1/applications", headers=auth("portal-a"))

    assert missing.status == 404
    assert missing.content_type == "application/problem+json"
    assert wrong.status == 405
    assert wrong.content_type == "application/problem+json"
    assert wrong.headers["Allow"] == "GET, HEAD, POST"


class _BrokenRepository(Repository):
    async def get_application(self, application_id: str) -> ApplicationView | None:
        raise RuntimeError("SELECT secret_column FROM applications -- internal detail")


class _CorruptRepository(Repository):
    """Returns a row that fails the response model: our bug, not a client's invalid request."""

    async def get_application(self, application_id: str) -> ApplicationView | None:
        RegionRef(ars="secret_column", ags="x")
        return None


@pytest.mark.parametrize("repository_class", [_BrokenRepository, _CorruptRepository])
async def test_unexpected_error_is_logged_not_shown(
    sqlite_url: str, start_api: StartApi, repository_class: type[Repository]
) -> None:
    api = await start_api(sqlite_url, repository_class=repository_class)

    with capture_logs() as logs:
        response = await api.client.get(
            "/v1/applications/01ARZ3NDEKTSV4RRFFQ69G5FAV",
            headers={**auth("operator"), "X-Request-Id": "trace-42"},
        )

    assert response.status == 500
    assert response.content_type == "application/problem+json"
    text = await response.text()
    for leak in ("secret_column", "RuntimeError", "ValidationError", "Traceback"):
        assert leak not in text
    assert (await response.json(content_type=None))["requestId"] == "trace-42"
    [error] = [e for e in logs if e["event"] == "http.unhandled_error"]
    assert error["log_level"] == "error"
    assert error["exc_info"] is True


async def test_one_access_log_line_per_request(api: Api) -> None:
    with capture_logs() as logs:
        submitted = await api.client.post(
            "/v1/applications?debug=1",
            json=body(),
            headers={**auth("portal-a"), "X-Request-Id": "portal-req-7"},
        )
        application_id = (await submitted.json())["id"]
        await api.client.get(f"/v1/applications/{application_id}", headers=auth("operator"))
        await api.client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})

    lines = [e for e in logs if e["event"] == "http.request"]
    assert [(e["method"], e["path"], e["status"], e["key_id"]) for e in lines] == [
        ("POST", "/v1/applications", 202, "portal-a"),
        ("GET", "/v1/applications/{id}", 200, "operator"),
        ("GET", "/healthz", 200, None),
    ]
    assert all(isinstance(e["duration_ms"], float) for e in lines)
    assert {e["client"] for e in lines} == {"127.0.0.1"}  # who called: the peer address
    assert submitted.headers["X-Request-Id"] == "portal-req-7"
    # Form content and file names are personal data: they never reach the log.
    logged = repr(logs)
    for personal in ("Testbäckerei", "nachweis.pdf", "HS-TEST-1"):
        assert personal not in logged


async def test_request_id_is_generated_when_missing_or_unsafe(api: Api) -> None:
    unsafe = await api.client.get("/healthz", headers={"X-Request-Id": "a\u00e4b"})
    plain = await api.client.get("/healthz")

    assert unsafe.headers["X-Request-Id"] != "a\u00e4b"
    assert len(plain.headers["X-Request-Id"]) == 26


async def test_demo_key_use_is_warned_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_module, "_demo_keys_warned", set())
    with capture_logs() as logs:
        for _ in range(3):
            response = await api.client.post(
                "/v1/applications", json=body(), headers=auth("demo-portal")
            )
            assert response.status == 202

    warnings = [e for e in logs if e["event"] == "auth.demo_key_used"]
    assert len(warnings) == 1
    assert (warnings[0]["log_level"], warnings[0]["key_id"]) == ("warning", "demo-portal")
