"""The file drop connector against a real directory."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from connectors import filedrop, folder_layout
from connectors.filedrop import FileDropConnector
from ozgbridge.connector import Connector, ConnectorContext
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError
from ozgbridge.testing.contract import ConnectorContract, Received
from ozgbridge.testing.factories import make_attachment, make_envelope
from tests.integration.connectors.folders import all_files, deliveries, read_delivery


class FileDropStandIn:
    """A drop directory under ``root``; implements the contract's `BackendStandIn`."""

    def __init__(self, root: Path) -> None:
        self.data_dir = root / "var"
        self.directory = root / "var" / "drop"
        self._connectors: list[Connector[Any]] = []

    def connector(self, *, timeout: float = 10.0, **options: Any) -> FileDropConnector:
        raw = {"directory": str(self.directory), **options}
        context = ConnectorContext(
            tenant_id="heinsberg", route_id="gewerbe", data_dir=self.data_dir
        )
        connector = FileDropConnector.from_config(raw, context=context, timeout=timeout)
        assert isinstance(connector, FileDropConnector)
        self._connectors.append(connector)
        return connector

    async def received(self) -> list[Received]:
        return [read_delivery(folder) for folder in deliveries(self.directory)]

    @asynccontextmanager
    async def stalled(self) -> AsyncIterator[None]:
        with hanging_writes() as _:
            yield

    @asynccontextmanager
    async def failing(self) -> AsyncIterator[None]:
        # A file where the directory should be: fails the same way for root and for others.
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        moved = self.directory.with_name("drop.moved")
        if self.directory.exists():
            self.directory.rename(moved)
        self.directory.write_bytes(b"")
        try:
            yield
        finally:
            self.directory.unlink()
            if moved.exists():
                moved.rename(self.directory)

    async def close(self) -> None:
        for connector in self._connectors:
            await connector.aclose()


@contextmanager
def hanging_writes() -> Iterator[threading.Event]:
    """File writes block (like a hung network mount) until the block ends; yields 'finished'."""
    release, finished = threading.Event(), threading.Event()
    original = filedrop._write_file

    def hanging(path: Path, content: bytes) -> None:
        try:
            release.wait(timeout=30)
            original(path, content)
        finally:
            finished.set()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(filedrop, "_write_file", hanging)
        try:
            yield finished
        finally:
            release.set()


@pytest.fixture
async def drop(tmp_path: Path) -> AsyncIterator[FileDropStandIn]:
    stand_in = FileDropStandIn(tmp_path)
    yield stand_in
    await stand_in.close()


class TestFileDropContract(ConnectorContract):
    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[FileDropStandIn]:
        stand_in = FileDropStandIn(tmp_path)
        yield stand_in
        await stand_in.close()


async def test_layout_of_one_delivery(drop: FileDropStandIn) -> None:
    envelope = make_envelope()

    receipt = await drop.connector().deliver(envelope)

    folder = drop.directory / envelope.application_id
    assert receipt.remote_reference == envelope.application_id
    assert all_files(drop.directory) == {
        envelope.application_id,
        f"{envelope.application_id}/envelope.json",
        f"{envelope.application_id}/data.json",
        f"{envelope.application_id}/attachments",
        f"{envelope.application_id}/attachments/01-Personalausweis Erika Mustermann.pdf",
        f"{envelope.application_id}/attachments/02-Grundriss Gaststätte Heideweg.jpg",
    }
    assert json.loads((folder / "envelope.json").read_text("utf-8")) == envelope.manifest()
    assert (folder / "envelope.json").read_text("utf-8").startswith('{\n  "applicationId"')


@pytest.mark.parametrize(
    ("mime_type", "name"),
    [("application/xml", "data.xml"), ("application/pdf", "data.pdf"), ("image/png", "data.bin")],
)
async def test_data_file_named_by_mime_type(
    drop: FileDropStandIn, mime_type: str, name: str
) -> None:
    envelope = make_envelope()
    envelope = envelope.model_copy(
        update={"data": envelope.data.model_copy(update={"mime_type": mime_type})}
    )

    await drop.connector().deliver(envelope)

    assert (drop.directory / envelope.application_id / name).read_bytes() == envelope.data.content


async def test_relative_directory_lives_under_the_data_dir(drop: FileDropStandIn) -> None:
    envelope = make_envelope()

    await drop.connector(directory="drops/heinsberg").deliver(envelope)

    assert (drop.data_dir / "drops" / "heinsberg" / envelope.application_id).is_dir()


MALICIOUS = [
    ("../../etc/passwd", "passwd"),
    ("a\x00b.pdf", "ab.pdf"),
    ("..", "file"),
    ("/abs/path", "path"),
    ("C:\\x\\y.pdf", "y.pdf"),
    (".bashrc", "bashrc"),
    ("x" * 500 + ".pdf", "x" * 116 + ".pdf"),
    ("\u202egpj.exe", "gpj.exe"),
    ("", "file"),
]


async def test_malicious_filenames_stay_inside_the_folder(
    drop: FileDropStandIn, tmp_path: Path
) -> None:
    envelope = make_envelope(
        attachments=tuple(
            make_attachment(filename=name, content=f"{i}".encode())
            for i, (name, _) in enumerate(MALICIOUS)
        )
    )
    before = all_files(tmp_path)

    await drop.connector().deliver(envelope)

    attachments = drop.directory / envelope.application_id / "attachments"
    expected = {f"{i + 1:02d}-{safe}" for i, (_, safe) in enumerate(MALICIOUS)}
    assert set(os.listdir(attachments)) == expected
    for i, (_, safe) in enumerate(MALICIOUS):
        assert (attachments / f"{i + 1:02d}-{safe}").read_bytes() == f"{i}".encode()
    created_elsewhere = {
        f for f in all_files(tmp_path) - before if not f.startswith("var/drop")
    } - {"var"}
    assert created_elsewhere == set()


async def test_path_check_stops_a_broken_sanitiser(
    drop: FileDropStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        folder_layout, "sanitise_filename", lambda name, fallback: "x/../../../outside"
    )
    before = all_files(tmp_path)

    with pytest.raises(PermanentDeliveryError, match="outside the drop directory"):
        await drop.connector().deliver(make_envelope())

    assert all_files(tmp_path) - before == set()


async def test_redelivery_with_the_same_delivery_id_is_idempotent(drop: FileDropStandIn) -> None:
    envelope = make_envelope()
    connector = drop.connector()
    await connector.deliver(envelope)
    manifest = drop.directory / envelope.application_id / "envelope.json"
    inode = manifest.stat().st_ino

    receipt = await connector.deliver(envelope.model_copy(update={"attempt": 2}))

    assert receipt.remote_reference == envelope.application_id
    assert receipt.detail == "already delivered"
    assert manifest.stat().st_ino == inode
    assert json.loads(manifest.read_text("utf-8"))["attempt"] == 1
    assert os.listdir(drop.directory) == [envelope.application_id]


async def test_folder_of_another_delivery_is_never_overwritten(drop: FileDropStandIn) -> None:
    first = make_envelope()
    connector = drop.connector()
    await connector.deliver(first)

    with pytest.raises(PermanentDeliveryError, match="different delivery"):
        await connector.deliver(make_envelope(application_id=first.application_id))

    assert read_delivery(drop.directory / first.application_id).delivery_id == first.delivery_id


async def test_foreign_folder_without_manifest_is_retried(drop: FileDropStandIn) -> None:
    envelope = make_envelope()
    (drop.directory / envelope.application_id).mkdir(parents=True)
    (drop.directory / envelope.application_id / "half-picked-up.pdf").write_bytes(b"x")

    with pytest.raises(RetriableDeliveryError, match=r"without a readable envelope\.json"):
        await drop.connector().deliver(envelope)


async def test_unsafe_application_id_is_permanent(drop: FileDropStandIn, tmp_path: Path) -> None:
    with pytest.raises(PermanentDeliveryError, match="application id"):
        await drop.connector().deliver(make_envelope(application_id="../escaped"))

    assert not (tmp_path / "var" / "escaped").exists()
    assert deliveries(drop.directory) == []


async def test_crash_leftover_is_cleared_by_the_next_attempt(drop: FileDropStandIn) -> None:
    envelope = make_envelope()
    leftover = drop.directory / f".tmp-{envelope.application_id}-{envelope.delivery_id}-1-dead"
    (leftover / "attachments").mkdir(parents=True)
    (leftover / "data.json").write_bytes(envelope.data.content)
    unrelated = drop.directory / ".tmp-someone-else"
    unrelated.mkdir()

    await drop.connector().deliver(envelope.model_copy(update={"attempt": 2}))

    assert sorted(os.listdir(drop.directory)) == [".tmp-someone-else", envelope.application_id]


async def test_timed_out_attempt_waking_up_later_leaves_one_complete_delivery(
    drop: FileDropStandIn,
) -> None:
    envelope = make_envelope()
    connector = drop.connector(timeout=0.3)
    with hanging_writes() as finished:
        with pytest.raises(RetriableDeliveryError):
            await connector.deliver(envelope)
        retry = envelope.model_copy(update={"attempt": 2})
        # The retry runs while the first attempt's thread still hangs in its write.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(filedrop, "_write_file", _real_write_file)
            receipt = await drop.connector().deliver(retry)
    await asyncio.to_thread(finished.wait, 10)

    assert receipt.remote_reference == envelope.application_id
    assert deliveries(drop.directory) == [drop.directory / envelope.application_id]
    assert [p for p in drop.directory.iterdir() if p.name.startswith(".")] == []
    got = read_delivery(drop.directory / envelope.application_id)
    assert got.attachments == tuple(a.content for a in envelope.attachments)


_real_write_file = filedrop._write_file


async def test_lost_rename_race_counts_as_delivered(
    drop: FileDropStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = make_envelope()
    connector = drop.connector()
    await connector.deliver(envelope)
    # Another attempt finished between this attempt's check and its rename.
    monkeypatch.setattr(
        FileDropConnector, "_already_delivered", _none_on_first_call(connector._already_delivered)
    )

    receipt = await connector.deliver(envelope.model_copy(update={"attempt": 2}))

    assert receipt.detail == "already delivered"
    assert os.listdir(drop.directory) == [envelope.application_id]


def _none_on_first_call(real: Any) -> Any:
    calls = 0

    def wrapper(self: FileDropConnector, final: Path, envelope: Any) -> Any:
        nonlocal calls
        calls += 1
        return None if calls == 1 else real(final, envelope)

    return wrapper


async def test_missing_directory_without_create_is_retriable(drop: FileDropStandIn) -> None:
    connector = drop.connector(create=False)

    with pytest.raises(RetriableDeliveryError, match="missing"):
        await connector.deliver(make_envelope())

    assert not drop.directory.exists()


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """chmod for ordinary users; root ignores modes, so it gets the immutable attribute."""
    directory.chmod(0o555)
    immutable = False
    if os.geteuid() == 0 and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(directory)], check=False).returncode == 0
    try:
        probe = directory / "probe"
        try:
            probe.write_bytes(b"")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("cannot make a directory read-only here (root without chattr +i)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        directory.chmod(0o755)


async def test_read_only_directory_is_retriable(drop: FileDropStandIn) -> None:
    drop.directory.mkdir(parents=True)
    envelope = make_envelope()

    with read_only(drop.directory), pytest.raises(RetriableDeliveryError) as caught:
        await drop.connector().deliver(envelope)

    assert caught.value.detail in (
        "cannot write to the drop directory (EACCES)",
        "cannot write to the drop directory (EPERM)",
    )
    assert isinstance(caught.value.__cause__, PermissionError)
    assert os.listdir(drop.directory) == []
