"""A bare HTTP client loop in its own process: the delivery benchmark's ceiling.

    python -m tests.benchmarks.bare_client aiohttp|httpx REQUEST_FILE URL CONCURRENCY COUNT

REQUEST_FILE is JSON ``{"headers": {...}, "body": "<base64>"}``: one request the http connector
really sent. The process opens its connections, prints ``ready``, waits for a line on stdin, then
POSTs the request COUNT times over CONCURRENCY connections and prints the seconds it took. Each
answer must be 2xx. `bare_rate` runs several such processes at once, like the workers they are
compared with.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx

# Set by the client library itself; sending the captured values would only duplicate them.
_HOP_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding", "accept"})


async def _loop(post: Callable[[], Awaitable[None]], concurrency: int, count: int) -> float:
    numbers = iter(range(count))

    async def one_connection() -> None:
        for _ in numbers:
            await post()

    await asyncio.gather(*(post() for _ in range(concurrency)))  # open every connection first
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    started = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(concurrency)))
    return time.perf_counter() - started


async def run_aiohttp(
    url: str, headers: dict[str, str], body: bytes, concurrency: int, count: int
) -> float:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post() -> None:
            async with session.post(url, data=body, headers=headers) as answer:
                await answer.read()
                answer.raise_for_status()

        return await _loop(post, concurrency, count)


async def run_httpx(
    url: str, headers: dict[str, str], body: bytes, concurrency: int, count: int
) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def post() -> None:
            answer = await client.post(url, content=body, headers=headers)
            answer.raise_for_status()

        return await _loop(post, concurrency, count)


CLIENTS = {"aiohttp": run_aiohttp, "httpx": run_httpx}


def main() -> None:
    client, request_file, url, concurrency, count = sys.argv[1:6]
    request = json.loads(Path(request_file).read_text())
    headers = {k: v for k, v in request["headers"].items() if k.lower() not in _HOP_HEADERS}
    body = base64.b64decode(request["body"])
    seconds = asyncio.run(CLIENTS[client](url, headers, body, int(concurrency), int(count)))
    print(f"{seconds:.6f}", flush=True)


if __name__ == "__main__":
    main()
