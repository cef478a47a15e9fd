"""The benchmarks' lean load generator counts only what a real server answered, as it answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.benchmarks.common import free_port
from tests.benchmarks.load_client import LoadClient, LoadError


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []

    async def inbox(request: web.Request) -> web.StreamResponse:
        bodies.append(await request.read())
        if request.headers.get("Authorization") != "Bearer t":
            return web.json_response({"error": "who"}, status=401)
        return web.json_response({"id": f"a{len(bodies)}"}, status=202)

    async def chunked(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=202)
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"{}")
        await response.write_eof()
        return response

    async def hang_up(request: web.Request) -> web.StreamResponse:
        await request.read()
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(0.1)
        return web.Response()

    app = web.Application()
    app.router.add_post("/inbox", inbox)
    app.router.add_post("/chunked", chunked)
    app.router.add_post("/hang-up", hang_up)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", bodies
    finally:
        await runner.cleanup()


async def test_every_request_is_sent_once_and_every_answer_read(
    server: tuple[str, list[bytes]],
) -> None:
    url, bodies = server
    answers: list[tuple[int, str]] = []
    body = json.dumps({"pad": "x" * 2000}).encode()
    async with LoadClient(url, "/inbox", {"Authorization": "Bearer t"}, body, 8) as client:
        await client.closed_loops(
            101, lambda status, answer, _latency: answers.append((status, json.loads(answer)["id"]))
        )
        status, one_more = await client.post()
    assert len(bodies) == 102
    assert all(b == body for b in bodies)
    assert [status for status, _ in answers] == [202] * 101
    assert status == 202
    # each answer is the server's own, in full: ids are unique and none was read twice
    assert len({answer_id for _, answer_id in answers} | {json.loads(one_more)["id"]}) == 102


async def test_an_error_status_is_handed_back_not_counted_as_success(
    server: tuple[str, list[bytes]],
) -> None:
    url, _ = server
    async with LoadClient(url, "/inbox", {"Authorization": "Bearer wrong"}, b"{}", 1) as client:
        status, answer = await client.post()
    assert (status, json.loads(answer)) == (401, {"error": "who"})


async def test_answers_it_cannot_follow_are_errors(server: tuple[str, list[bytes]]) -> None:
    url, _ = server
    async with LoadClient(url, "/chunked", {}, b"{}", 1) as client:
        with pytest.raises(LoadError, match="unsupported answer header"):
            await client.post()
    async with LoadClient(url, "/hang-up", {}, b"{}", 1) as client:
        with pytest.raises((LoadError, ConnectionError)):
            await client.post()
