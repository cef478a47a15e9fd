"""OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS: deliveries reach only allowed addresses — checked after
DNS resolution when they connect (http, smtp, sftp), and for literal addresses in the
configuration (config validate, start)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.http import HttpConnector
from connectors.sftp import SftpConnector
from connectors.smtp import SmtpConnector
from ozgbridge.connector import ConnectorContext
from ozgbridge.egress import EgressPolicy
from ozgbridge.errors import ConfigError, PermanentDeliveryError
from ozgbridge.settings import Settings
from ozgbridge.tenants import load_deployment
from tests.contract.factories import make_envelope
from tests.integration.api.support import auth, body, write_config
from tests.integration.connectors.http_backend import HttpBackend
from tests.integration.connectors.sftp_backend import SftpServer
from tests.integration.connectors.smtp_backend import MailServer
from tests.integration.hardening.served import served

LOOPBACK = EgressPolicy.of([ip_network("127.0.0.0/8"), ip_network("::1/128")])
ELSEWHERE = EgressPolicy.of([ip_network("10.20.0.0/16")])


def context(tmp_path: Path, policy: EgressPolicy) -> ConnectorContext:
    return ConnectorContext("heinsberg", "gewerbe", tmp_path, egress=policy)


@pytest.fixture
async def backend() -> AsyncIterator[HttpBackend]:
    server = HttpBackend()
    await server.start()
    yield server
    await server.close()


def by_name(url: str) -> str:
    """The back-end's URL with the host name ``localhost``: resolved at delivery time."""
    return url.replace("127.0.0.1", "localhost")


async def test_a_name_resolving_outside_the_allowed_networks_is_refused(
    backend: HttpBackend, tmp_path: Path
) -> None:
    connector = HttpConnector.from_config(
        {"url": by_name(backend.url)}, context=context(tmp_path, ELSEWHERE), timeout=5
    )
    try:
        with pytest.raises(PermanentDeliveryError) as refused:
            await connector.deliver(make_envelope())
    finally:
        await connector.aclose()

    assert "outside OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS" in refused.value.detail
    assert "localhost" in refused.value.detail
    assert backend.requests == []


async def test_a_name_resolving_inside_them_is_delivered(
    backend: HttpBackend, tmp_path: Path
) -> None:
    connector = HttpConnector.from_config(
        {"url": by_name(backend.url)}, context=context(tmp_path, LOOPBACK), timeout=5
    )
    try:
        receipt = await connector.deliver(make_envelope())
    finally:
        await connector.aclose()

    assert receipt.status_code == 200
    assert len(backend.requests) == 1


async def test_a_literal_address_outside_them_stops_the_connector_being_built(
    backend: HttpBackend, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1 is outside"):
        HttpConnector.from_config(
            {"url": backend.url}, context=context(tmp_path, ELSEWHERE), timeout=5
        )


async def test_behind_a_proxy_the_targets_addresses_are_checked(
    backend: HttpBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # never reached
    connector = HttpConnector.from_config(
        {"url": "http://localhost:9/inbox"}, context=context(tmp_path, ELSEWHERE), timeout=5
    )
    try:
        with pytest.raises(PermanentDeliveryError, match="outside OZGBRIDGE_CONNECTOR_ALLOWED"):
            await connector.deliver(make_envelope())
    finally:
        await connector.aclose()


def tenant_with_http(url: str) -> Any:
    def tweak(tenant_id: str, document: dict[str, Any]) -> None:
        if tenant_id == "erkelenz":
            for route in document["routes"]:
                route["connector"] = "http"
                route["options"] = {"url": url}
                route["retry_schedule"] = [0, 0.1]

    return tweak


async def test_config_validate_names_a_literal_address_outside_the_networks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "config", tenant_with_http("http://169.254.169.254/latest"))
    assert load_deployment(config)  # unset: anywhere

    monkeypatch.setenv("OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS", "10.20.0.0/16, 2001:db8::/32")
    with pytest.raises(ConfigError) as refused:
        load_deployment(config)
    messages = [str(problem) for problem in refused.value.problems]
    assert len(messages) == 5  # one per route of Erkelenz
    assert all("erkelenz.yaml:" in m and "routes[" in m for m in messages)
    assert all(
        m.endswith("options.url: 169.254.169.254 is outside OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS")
        for m in messages
    )

    monkeypatch.setenv("OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS", "10.20.0.0/16, nonsense")
    with pytest.raises(ConfigError, match="'nonsense' is not a network"):
        load_deployment(config)


async def test_a_served_instance_never_delivers_outside_the_networks(
    backend: HttpBackend, tmp_path: Path, sqlite_url: str
) -> None:
    write_config(tmp_path / "config", tenant_with_http(by_name(backend.url)))
    async with (
        served(tmp_path, sqlite_url, connector_allowed_networks=["10.20.0.0/16"]) as instance,
        aiohttp.ClientSession(instance.url) as http,
    ):
        async with http.post("/v1/applications", json=body(), headers=auth("portal-a")) as answer:
            assert answer.status == 202
            application_id = (await answer.json())["id"]
        for _ in range(200):
            async with http.get(
                f"/v1/applications/{application_id}", headers=auth("operator")
            ) as answer:
                status = await answer.json()
            if status["status"] == "dead":
                break
            await asyncio.sleep(0.05)
    assert status["status"] == "dead"
    (delivery,) = status["deliveries"]
    assert delivery["attempts"] == 1  # permanent: no retry against a forbidden address
    assert "outside OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS" in delivery["lastError"]
    assert backend.requests == []

    shutil.rmtree(tmp_path / "var", ignore_errors=True)
    async with (
        served(tmp_path, sqlite_url, connector_allowed_networks=["127.0.0.0/8"]) as instance,
        aiohttp.ClientSession(instance.url) as http,
    ):
        async with http.post("/v1/applications", json=body(), headers=auth("portal-a")) as answer:
            assert answer.status == 202
        await backend.wait_for_requests(1)


async def test_smtp_connects_only_to_allowed_addresses(tmp_path: Path) -> None:
    mail = MailServer(tmp_path)
    await mail.start()
    try:
        refused = SmtpConnector.from_config(
            mail.options(), context=context(tmp_path, ELSEWHERE), timeout=5
        )
        with pytest.raises(PermanentDeliveryError, match="outside OZGBRIDGE_CONNECTOR_ALLOWED"):
            await refused.deliver(make_envelope())
        assert mail.mails == []

        allowed = SmtpConnector.from_config(
            mail.options(), context=context(tmp_path, LOOPBACK), timeout=5
        )
        await allowed.deliver(make_envelope())  # over the socket egress.connect opened
        assert len(mail.mails) == 1
        for connector in (refused, allowed):
            await connector.aclose()
    finally:
        await mail.close()


async def test_sftp_connects_only_to_allowed_addresses(tmp_path: Path) -> None:
    sftp = SftpServer(tmp_path)
    await sftp.start()
    try:
        refused = SftpConnector.from_config(
            sftp.options(), context=context(tmp_path, ELSEWHERE), timeout=5
        )
        with pytest.raises(PermanentDeliveryError, match="outside OZGBRIDGE_CONNECTOR_ALLOWED"):
            await refused.deliver(make_envelope())
        assert sftp.connections == []

        allowed = SftpConnector.from_config(
            sftp.options(), context=context(tmp_path, LOOPBACK), timeout=5
        )
        await allowed.deliver(make_envelope())  # host key still checked by its known_hosts name
        assert len(await sftp.received()) == 1
        for connector in (refused, allowed):
            await connector.aclose()
    finally:
        await sftp.close()


def test_settings_read_the_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS", "10.20.0.0/16, 2001:db8::/32")
    assert Settings().connector_allowed_networks == [
        ip_network("10.20.0.0/16"),
        ip_network("2001:db8::/32"),
    ]
