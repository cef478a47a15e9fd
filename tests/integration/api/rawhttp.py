"""Requests written byte by byte over a real socket: what aiohttp's client would never send."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def exchange(port: int, request: bytes, *, timeout: float = 30.0) -> RawAnswer:
    """Send ``request`` as it is (it should say ``Connection: close``) and read the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(int(status_line.split()[1]), headers, body)


def get(path: str, *headers: bytes) -> bytes:
    """A GET with these header lines (each ``b"Name: value"``) and ``Connection: close``."""
    return (
        b"".join([f"GET {path} HTTP/1.1\r\n".encode(), *(h + b"\r\n" for h in headers)])
        + b"Connection: close\r\n\r\n"
    )


def post(path: str, body: bytes, *headers: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1\r\n".encode(), *(h + b"\r\n" for h in headers)]
    lines.append(f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
    return b"".join(lines) + body
