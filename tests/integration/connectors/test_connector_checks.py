"""Route tests (`Connector.check`) against real servers: each connector proves its back-end is
reachable and accepts us — and none of them leaves anything a back-end would import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.filedrop import FileDropConnector
from ozgbridge.connector import ConnectorContext
from ozgbridge.errors import DeliveryError, PermanentDeliveryError, RetriableDeliveryError
from tests.integration.connectors.sftp_backend import SftpServer
from tests.integration.connectors.smtp_backend import RECIPIENTS, MailServer


@pytest.fixture
async def mail(tmp_path: Path) -> AsyncIterator[MailServer]:
    server = MailServer(tmp_path)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def sftp(tmp_path: Path) -> AsyncIterator[SftpServer]:
    server = SftpServer(tmp_path)
    await server.start()
    yield server
    await server.close()


async def test_smtp_check_logs_in_and_names_the_recipients_but_sends_nothing(
    mail: MailServer,
) -> None:
    receipt = await mail.connector().check()

    assert receipt.detail == f"{len(RECIPIENTS)} recipients accepted"
    assert mail.logins == 1
    assert mail.mails == []


async def test_smtp_check_reports_a_refused_recipient_and_a_wrong_password(
    mail: MailServer,
) -> None:
    mail.refuse_recipients = {RECIPIENTS[0]: "550 5.1.1 unknown"}
    with pytest.raises(PermanentDeliveryError, match="550"):
        await mail.connector().check()
    mail.refuse_recipients = {}
    with pytest.raises(PermanentDeliveryError, match="535"):
        await mail.connector(password="wrong").check()
    assert mail.mails == []


async def test_sftp_check_writes_and_removes_a_hidden_file(sftp: SftpServer) -> None:
    receipt = await sftp.connector().check()

    assert receipt.detail == "drop directory is writable"
    assert list(sftp.drop.iterdir()) == []


async def test_sftp_check_reports_a_missing_directory_and_a_wrong_password(
    sftp: SftpServer,
) -> None:
    with pytest.raises(RetriableDeliveryError, match="drop directory is missing"):
        await sftp.connector(directory="/nowhere").check()
    with pytest.raises(DeliveryError):
        await sftp.connector(password="wrong").check()


async def test_filedrop_check_writes_and_removes_a_hidden_file(tmp_path: Path) -> None:
    context = ConnectorContext(tenant_id="t", route_id="r", data_dir=tmp_path)
    drop = FileDropConnector.from_config({"directory": "drop"}, context=context, timeout=5)
    missing = FileDropConnector.from_config(
        {"directory": "gone", "create": False}, context=context, timeout=5
    )

    assert (await drop.check()).detail == "drop directory is writable"
    assert list((tmp_path / "drop").iterdir()) == []
    with pytest.raises(RetriableDeliveryError, match="missing"):
        await missing.check()
