"""The SFTP connector against a real asyncssh SFTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from structlog.testing import capture_logs

from connectors.sftp import SftpConnector
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError
from ozgbridge.testing.contract import ConnectorContract
from ozgbridge.testing.factories import make_attachment, make_envelope
from tests.integration.connectors.folders import all_files, deliveries, read_delivery
from tests.integration.connectors.sftp_backend import SftpServer


async def started(tmp_path: Path) -> SftpServer:
    server = SftpServer(tmp_path)
    await server.start()
    return server


@pytest.fixture
async def sftp(tmp_path: Path) -> AsyncIterator[SftpServer]:
    server = await started(tmp_path)
    yield server
    await server.close()


class TestSftpContract(ConnectorContract):
    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[SftpServer]:
        server = await started(tmp_path)
        yield server
        await server.close()


def dot_entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


async def test_layout_is_the_folder_layout_of_filedrop(sftp: SftpServer) -> None:
    envelope = make_envelope()

    receipt = await sftp.connector().deliver(envelope)

    app = envelope.application_id
    assert receipt.remote_reference == app
    assert all_files(sftp.drop) == {
        app,
        f"{app}/envelope.json",
        f"{app}/data.json",
        f"{app}/attachments",
        f"{app}/attachments/01-Personalausweis Erika Mustermann.pdf",
        f"{app}/attachments/02-Grundriss Gaststätte Heideweg.jpg",
    }
    manifest = (sftp.drop / app / "envelope.json").read_text("utf-8")
    assert json.loads(manifest) == envelope.manifest()
    assert manifest.startswith('{\n  "applicationId"')


async def test_private_key_login(sftp: SftpServer) -> None:
    key = sftp.client_key.export_private_key().decode("ascii")

    await sftp.connector(password=None, private_key=key).deliver(make_envelope())

    assert len(deliveries(sftp.drop)) == 1
    assert sftp.logins == 0  # no password was used


# 16 bcrypt rounds is what ssh-keygen writes by default; the bcrypt package finds that few.
@pytest.mark.filterwarnings("ignore:Warning. bcrypt.kdf.. called with only 16 round:UserWarning")
async def test_passphrase_protected_private_key_login(sftp: SftpServer) -> None:
    key = sftp.client_key.export_private_key(passphrase="geheim", rounds=16).decode("ascii")

    connector = sftp.connector(password=None, private_key=key, private_key_passphrase="geheim")
    await connector.deliver(make_envelope())

    assert len(deliveries(sftp.drop)) == 1


async def test_wrong_host_key_is_permanent_and_says_why(sftp: SftpServer) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    connector = sftp.connector(known_hosts=sftp.known_hosts(impostor))

    with pytest.raises(PermanentDeliveryError) as caught:
        await connector.deliver(make_envelope())

    assert caught.value.detail.startswith(
        f"the SSH host key of 127.0.0.1:{sftp.port} does not match known_hosts"
    )
    assert isinstance(caught.value.__cause__, asyncssh.HostKeyNotVerifiable)
    assert sftp.logins == 0  # the password never left
    assert deliveries(sftp.drop) == []


async def test_wrong_password_is_permanent(sftp: SftpServer) -> None:
    with pytest.raises(PermanentDeliveryError, match="refused the login"):
        await sftp.connector(password="wrong").deliver(make_envelope())


async def test_server_dropping_mid_upload_is_retriable_and_leaves_no_visible_folder(
    sftp: SftpServer,
) -> None:
    envelope = make_envelope()
    connector = sftp.connector()
    sftp.drop_after = 50_000  # inside the second attachment (200 kB)

    with pytest.raises(RetriableDeliveryError) as caught:
        await connector.deliver(envelope)

    assert sftp.written > 50_000
    assert deliveries(sftp.drop) == []
    [leftover] = dot_entries(sftp.drop)
    assert leftover.startswith(f".tmp-{envelope.application_id}-{envelope.delivery_id}-1-")
    assert "Mustermann" not in caught.value.detail

    sftp.drop_after = None
    receipt = await connector.deliver(envelope.model_copy(update={"attempt": 2}))

    assert receipt.remote_reference == envelope.application_id
    assert dot_entries(sftp.drop) == []
    got = read_delivery(sftp.drop / envelope.application_id)
    assert got.attachments == tuple(a.content for a in envelope.attachments)


async def test_existing_complete_folder_counts_as_delivered(sftp: SftpServer) -> None:
    envelope = make_envelope()
    connector = sftp.connector()
    await connector.deliver(envelope)
    manifest = sftp.drop / envelope.application_id / "envelope.json"
    inode = manifest.stat().st_ino

    receipt = await connector.deliver(envelope.model_copy(update={"attempt": 2}))

    assert receipt.detail == "already delivered"
    assert manifest.stat().st_ino == inode
    assert json.loads(manifest.read_text("utf-8"))["attempt"] == 1
    assert os.listdir(sftp.drop) == [envelope.application_id]


async def test_folder_of_another_delivery_is_never_overwritten(sftp: SftpServer) -> None:
    first = make_envelope()
    connector = sftp.connector()
    await connector.deliver(first)

    with pytest.raises(PermanentDeliveryError, match="different delivery"):
        await connector.deliver(make_envelope(application_id=first.application_id))

    assert read_delivery(sftp.drop / first.application_id).delivery_id == first.delivery_id
    assert dot_entries(sftp.drop) == []


async def test_foreign_folder_without_manifest_is_retried(sftp: SftpServer) -> None:
    envelope = make_envelope()
    (sftp.drop / envelope.application_id).mkdir()

    with pytest.raises(RetriableDeliveryError, match=r"without a readable envelope\.json"):
        await sftp.connector().deliver(envelope)


async def test_a_file_in_the_folders_place_is_permanent(sftp: SftpServer) -> None:
    envelope = make_envelope()
    (sftp.drop / envelope.application_id).write_bytes(b"")

    with pytest.raises(PermanentDeliveryError, match="taken by a non-folder"):
        await sftp.connector().deliver(envelope)


async def test_missing_drop_directory_is_retriable(sftp: SftpServer) -> None:
    with pytest.raises(RetriableDeliveryError, match="drop directory is missing"):
        await sftp.connector(directory="/nowhere").deliver(make_envelope())


async def test_relative_directory_is_below_the_login_directory(sftp: SftpServer) -> None:
    envelope = make_envelope()

    await sftp.connector(directory="drop/").deliver(envelope)

    assert deliveries(sftp.drop) == [sftp.drop / envelope.application_id]


async def test_refused_write_is_retriable_and_cleans_up(sftp: SftpServer) -> None:
    async with sftp.failing():
        with pytest.raises(RetriableDeliveryError) as caught:
            await sftp.connector().deliver(make_envelope())

    assert caught.value.detail == (
        f"the SFTP server 127.0.0.1:{sftp.port} answered FX_PERMISSION_DENIED (3) to mkdir"
    )
    assert os.listdir(sftp.drop) == []


MALICIOUS = [
    ("../../etc/passwd", "passwd"),
    ("a\x00b.pdf", "ab.pdf"),
    ("..", "file"),
    ("/abs/path", "path"),
    ("C:\\x\\y.pdf", "y.pdf"),
    (".bashrc", "bashrc"),
    ("\u202egpj.exe", "gpj.exe"),
]


async def test_malicious_filenames_stay_inside_the_folder(sftp: SftpServer) -> None:
    envelope = make_envelope(
        attachments=tuple(
            make_attachment(filename=name, content=f"{i}".encode())
            for i, (name, _) in enumerate(MALICIOUS)
        )
    )
    before = all_files(sftp.root)

    await sftp.connector().deliver(envelope)

    attachments = sftp.drop / envelope.application_id / "attachments"
    assert sorted(os.listdir(attachments)) == sorted(
        f"{i + 1:02d}-{safe}" for i, (_, safe) in enumerate(MALICIOUS)
    )
    created = all_files(sftp.root) - before
    assert all(path.startswith(f"drop/{envelope.application_id}") for path in created)


async def test_concurrent_deliveries_share_one_connection(sftp: SftpServer) -> None:
    connector = sftp.connector()
    envelopes = [make_envelope() for _ in range(6)]

    with capture_logs() as events:
        await asyncio.gather(*(connector.deliver(e) for e in envelopes))

    assert len(deliveries(sftp.drop)) == 6
    assert [e["event"] for e in events].count("sftp.connected") == 1
    assert len(sftp.connections) == 1


async def test_lost_rename_race_counts_as_delivered(
    sftp: SftpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = make_envelope()
    connector = sftp.connector()
    await connector.deliver(envelope)
    real = SftpConnector._already_delivered
    calls = 0

    async def none_first(self: SftpConnector, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        return None if calls == 1 else await real(self, *args)

    # Another attempt finished between this attempt's check and its rename.
    monkeypatch.setattr(SftpConnector, "_already_delivered", none_first)

    receipt = await connector.deliver(envelope.model_copy(update={"attempt": 2}))

    assert receipt.detail == "already delivered"
    assert os.listdir(sftp.drop) == [envelope.application_id]


async def test_connection_refused_is_retriable(sftp: SftpServer) -> None:
    connector = sftp.connector()
    await sftp.close()

    with pytest.raises(RetriableDeliveryError) as caught:
        await connector.deliver(make_envelope())

    assert isinstance(caught.value.__cause__, OSError)


async def test_losing_the_rename_to_another_delivery_cleans_up_and_is_permanent(
    sftp: SftpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_envelope()
    connector = sftp.connector()
    await connector.deliver(other)
    real = SftpConnector._already_delivered
    calls = 0

    async def none_first(self: SftpConnector, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        return None if calls == 1 else await real(self, *args)

    monkeypatch.setattr(SftpConnector, "_already_delivered", none_first)

    with pytest.raises(PermanentDeliveryError, match="different delivery"):
        await connector.deliver(make_envelope(application_id=other.application_id))

    assert os.listdir(sftp.drop) == [other.application_id]
    assert read_delivery(sftp.drop / other.application_id).delivery_id == other.delivery_id
