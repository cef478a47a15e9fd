"""The http connector against misbehaving servers on 127.0.0.1: refused and cut connections,
garbage, TLS, redirects, huge answers and proxies. Every failure names the target."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors.http import HttpAnswer, HttpConnector
from connectors.http.answer import MAX_RESPONSE_BYTES
from ozgbridge.connector import ConnectorContext, Receipt
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError
from ozgbridge.testing.factories import make_envelope
from tests.integration.connectors.http_backend import CONTEXT, http_connector

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that talks whatever ``handler`` writes; yields its port."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:] if line)
    lowered = {k.lower(): v for k, v in headers.items()}
    body = await reader.readexactly(int(lowered.get("content-length", "0")))
    return head[0], lowered, body


async def deliver(url: str, **options: object) -> Receipt:
    connector = http_connector(url, **options)
    try:
        return await connector.deliver(make_envelope())
    finally:
        await connector.aclose()


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_connection_refused_names_the_target() -> None:
    port = unused_port()  # nothing listens on it any more

    with pytest.raises(RetriableDeliveryError) as caught:
        await deliver(f"http://127.0.0.1:{port}/deliveries?token=geheim")

    assert caught.value.detail == f"connection refused by http://127.0.0.1:{port}/deliveries"
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)


async def test_credentials_in_the_url_stay_out_of_the_detail() -> None:
    port = unused_port()

    with pytest.raises(RetriableDeliveryError) as caught:
        await deliver(f"http://fv:geheim@127.0.0.1:{port}/in")

    assert caught.value.detail == f"connection refused by http://127.0.0.1:{port}/in"


async def test_closed_without_an_answer() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()

    async with raw_server(hang_up) as port:
        with pytest.raises(RetriableDeliveryError) as caught:
            await deliver(f"http://127.0.0.1:{port}/in")

    assert caught.value.detail == (
        f"http://127.0.0.1:{port}/in closed the connection without an answer"
    )


async def test_garbage_instead_of_http() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SMTP ready, not HTTP\r\n\r\n")
        await writer.drain()
        writer.close()

    async with raw_server(garbage) as port:
        with pytest.raises(RetriableDeliveryError) as caught:
            await deliver(f"http://127.0.0.1:{port}/in")

    assert caught.value.detail == f"invalid HTTP answer from http://127.0.0.1:{port}/in"


async def test_answer_that_breaks_off() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
        await writer.drain()
        writer.close()

    async with raw_server(cut) as port:
        with pytest.raises(RetriableDeliveryError) as caught:
            await deliver(f"http://127.0.0.1:{port}/in")

    assert caught.value.detail == f"the answer from http://127.0.0.1:{port}/in broke off"


async def test_huge_answer_is_read_only_up_to_the_limit() -> None:
    # A reference at the start of a body far beyond the limit: cut JSON, so no reference.
    padding = b"x" * (4 * MAX_RESPONSE_BYTES)
    body = b'{"id": "FV-1", "padding": "' + padding + b'"}'

    async def huge(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, content_type="application/json")

    seen: list[int] = []

    class Recording(HttpConnector):
        def classify_response(self, response: HttpAnswer) -> Receipt:
            seen.append(len(response.content))
            return super().classify_response(response)

    async with web_server(huge) as url:
        recording = Recording(http_connector(url).options, context=CONTEXT, timeout=5)
        try:
            receipt = await recording.deliver(make_envelope())
            again = await recording.deliver(make_envelope())  # the cut connection is not reused
        finally:
            await recording.aclose()

    assert (receipt.status_code, receipt.remote_reference) == (200, None)
    assert again.status_code == 200
    assert seen == [MAX_RESPONSE_BYTES] * 2


async def test_redirects_are_not_followed() -> None:
    elsewhere: list[str] = []

    async def other(request: web.Request) -> web.Response:
        elsewhere.append(request.method)
        return web.json_response({"id": "stolen"})

    async with web_server(other) as other_url:

        async def redirect(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(status=307, headers={"Location": other_url})

        async with web_server(redirect) as url:
            with pytest.raises(PermanentDeliveryError) as caught:
                await deliver(url)

    assert caught.value.status_code == 307
    assert elsewhere == []


@asynccontextmanager
async def web_server(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/in", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}/in"
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fachverfahren Test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return directory / "cert.pem", directory / "key.pem"


@asynccontextmanager
async def tls_server(certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)

    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"id": "FV-tls"}, status=201)

    async with web_server(ok, ssl_context=context) as url:
        yield url


async def test_unknown_certificate_is_a_retriable_tls_error(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    async with tls_server(certificate) as url:
        with pytest.raises(RetriableDeliveryError) as caught:
            await deliver(url)

    assert caught.value.detail.startswith(f"TLS certificate of {url.replace('/in', '')}")
    assert caught.value.detail.endswith("not accepted: self-signed certificate")


async def test_ca_file_makes_the_certificate_trusted(certificate: tuple[Path, Path]) -> None:
    cert_file, _key = certificate
    context = ConnectorContext("heinsberg", "gewerbe", data_dir=cert_file.parent)
    async with tls_server(certificate) as url:
        receipt = await deliver(url, ca_file="cert.pem", context=context)

    assert receipt.remote_reference == "FV-tls"


async def test_ssl_cert_file_is_honoured_as_httpx_did(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    async with tls_server(certificate) as url:
        receipt = await deliver(url)

    assert receipt.remote_reference == "FV-tls"


async def test_verify_tls_false_accepts_any_certificate(certificate: tuple[Path, Path]) -> None:
    async with tls_server(certificate) as url:
        receipt = await deliver(url, verify_tls=False)

    assert receipt.remote_reference == "FV-tls"


async def test_http_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        body = b'{"id": "via-proxy"}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    async with raw_server(proxy) as port:
        monkeypatch.setenv("HTTP_PROXY", f"http://ozgb:proxy-pw@127.0.0.1:{port}")
        monkeypatch.setenv("NO_PROXY", "localhost")
        # Only the proxy can reach this name: a direct connection would fail to resolve it.
        receipt = await deliver("http://fachverfahren.invalid/in")

    assert receipt.remote_reference == "via-proxy"
    [(request_line, headers, body)] = seen
    assert request_line == "POST http://fachverfahren.invalid/in HTTP/1.1"
    assert headers["proxy-authorization"] == "Basic " + base64.b64encode(b"ozgb:proxy-pw").decode()
    assert headers["webhook-id"] == headers["idempotency-key"]
    assert body.startswith(b"{")


async def test_no_proxy_connects_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"id": "direct"})

    # The proxy's port is closed: only a direct connection can succeed.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{unused_port()}")
    monkeypatch.setenv("NO_PROXY", "example.org,127.0.0.0/8")
    async with web_server(ok) as url:
        receipt = await deliver(url)

    assert receipt.remote_reference == "direct"


async def test_unreachable_proxy_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{unused_port()}")

    with pytest.raises(RetriableDeliveryError) as caught:
        await deliver("http://fachverfahren.invalid/in")

    assert caught.value.detail.startswith(
        "cannot connect to the proxy for http://fachverfahren.invalid:80/in"
    )


async def test_https_through_the_proxy_tunnel(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    connects: list[tuple[str, dict[str, str]]] = []
    arrived: list[dict[str, str]] = []

    async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        connects.append(
            (head[0], {k.lower(): v for k, v in (h.split(": ", 1) for h in head[1:] if h)})
        )
        host, port = head[0].split(" ")[1].rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            finally:
                sink.close()

        await asyncio.gather(
            pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True
        )

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)

    async def ok(request: web.Request) -> web.Response:
        await request.read()
        arrived.append({k.lower(): v for k, v in request.headers.items()})
        return web.json_response({"id": "FV-tunnel"}, status=201)

    connector_context = ConnectorContext("heinsberg", "gewerbe", data_dir=certificate[0].parent)
    async with raw_server(tunnel) as proxy_port, web_server(ok, ssl_context=context) as url:
        monkeypatch.setenv("HTTPS_PROXY", f"http://ozgb:proxy-pw@127.0.0.1:{proxy_port}")
        receipt = await deliver(url, ca_file="cert.pem", context=connector_context)

    assert receipt.remote_reference == "FV-tunnel"
    [(request_line, headers)] = connects
    assert request_line == f"CONNECT {url.split('/')[2]} HTTP/1.1"
    assert headers["proxy-authorization"] == "Basic " + base64.b64encode(b"ozgb:proxy-pw").decode()
    [backend_headers] = arrived
    assert "proxy-authorization" not in backend_headers  # the credentials stay with the proxy
