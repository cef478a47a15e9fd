"""Sealing content with AES-256-GCM: round trip, binding to its place, keys by id."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs

from ozgbridge.dataprotection import keys
from ozgbridge.dataprotection.sealing import (
    NONCE_BYTES,
    TAG_BYTES,
    Sealer,
    application_data_aad,
    attachment_content_aad,
    attachment_filename_aad,
)
from ozgbridge.dataprotection.startup import swap_keys
from ozgbridge.errors import DataKeyError, SealBrokenError, UnknownDataKeyError

APP = "01JAPPLICATION000000000001"
OTHER = "01JAPPLICATION000000000002"


def key_file(path: Path, *entries: tuple[str, bytes]) -> Path:
    document = {"keys": [{"id": i, "key": base64.b64encode(k).decode()} for i, k in entries]}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.fixture
def two_keys(tmp_path: Path) -> keys.DataKeys:
    return keys.load(
        key_file(tmp_path / "k.yaml", ("new", os.urandom(32)), ("old", os.urandom(32)))
    )


def test_sealed_value_opens_to_the_plaintext_and_shows_none_of_it(two_keys: keys.DataKeys) -> None:
    sealer = Sealer(two_keys)
    plaintext = b'{"name": "Erika Mustermann", "steuer_id": "12345678901"}'

    sealed = sealer.seal(plaintext, application_data_aad(APP))

    assert sealer.key_id == "new"
    assert b"Mustermann" not in sealed
    assert len(sealed) == NONCE_BYTES + len(plaintext) + TAG_BYTES
    assert sealer.open(sealed, "new", application_data_aad(APP), what="x") == plaintext


def test_every_value_gets_its_own_nonce(two_keys: keys.DataKeys) -> None:
    sealer = Sealer(two_keys)
    sealed = {sealer.seal(b"same", application_data_aad(APP)) for _ in range(100)}
    assert len({s[:NONCE_BYTES] for s in sealed}) == 100


@pytest.mark.parametrize(
    "elsewhere",
    [
        application_data_aad(OTHER),  # copied into another application's row
        attachment_content_aad(APP),  # or into another column
        attachment_filename_aad(APP),
    ],
)
def test_a_value_moved_elsewhere_does_not_open(two_keys: keys.DataKeys, elsewhere: bytes) -> None:
    sealer = Sealer(two_keys)
    sealed = sealer.seal(b"form", application_data_aad(APP))
    with pytest.raises(SealBrokenError, match="does not authenticate under data key 'new'"):
        sealer.open(sealed, "new", elsewhere, what="the form data")


def test_an_altered_value_does_not_open(two_keys: keys.DataKeys) -> None:
    sealer = Sealer(two_keys)
    sealed = bytearray(sealer.seal(b"form", application_data_aad(APP)))
    sealed[-1] ^= 1
    with pytest.raises(SealBrokenError):
        sealer.open(bytes(sealed), "new", application_data_aad(APP), what="x")


def test_any_key_of_the_file_opens_what_it_sealed(tmp_path: Path) -> None:
    old_secret = os.urandom(32)
    before = Sealer(keys.load(key_file(tmp_path / "a.yaml", ("old", old_secret))))
    sealed = before.seal(b"form", application_data_aad(APP))

    after = Sealer(
        keys.load(key_file(tmp_path / "b.yaml", ("new", os.urandom(32)), ("old", old_secret)))
    )

    assert after.key_id == "new"
    assert after.open(sealed, "old", application_data_aad(APP), what="x") == b"form"


def test_unknown_key_id_is_named(two_keys: keys.DataKeys) -> None:
    sealer = Sealer(two_keys)
    with pytest.raises(UnknownDataKeyError) as raised:
        sealer.open(b"\0" * 40, "2025-01", application_data_aad(APP), what="the form data of X")
    assert raised.value.key_id == "2025-01"
    message = str(raised.value)
    assert "'2025-01'" in message
    assert str(two_keys.source) in message
    assert "'new', 'old'" in message


def test_without_keys_values_pass_through_and_sealed_ones_are_refused() -> None:
    sealer = Sealer.plaintext()
    assert not sealer.sealing
    assert sealer.key_id is None
    assert sealer.seal(b"form", application_data_aad(APP)) == b"form"
    assert sealer.open(b"form", None, application_data_aad(APP), what="x") == b"form"
    with pytest.raises(UnknownDataKeyError, match="no data keys are configured"):
        sealer.open(b"\0" * 40, "k1", application_data_aad(APP), what="x")


def test_created_key_file_is_private_loadable_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "var" / "data-keys.yaml"

    created = keys.create_file(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = keys.load(path)
    assert loaded.ids == created.ids
    assert loaded.primary.secret == created.primary.secret
    assert len(loaded.primary.secret) == 32
    with pytest.raises(FileExistsError):
        keys.create_file(path)
    assert keys.load(path).primary.secret == created.primary.secret


def test_key_file_problems_are_listed_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "keys:\n"
        "  - {id: ok, key: " + base64.b64encode(os.urandom(32)).decode() + "}\n"
        "  - {id: ok, key: " + base64.b64encode(os.urandom(32)).decode() + "}\n"
        "  - {id: short, key: " + base64.b64encode(b"x" * 16).decode() + "}\n"
        "  - {id: 'bad id!', key: 'not base64 ***'}\n"
        "  - {id: x, key: " + base64.b64encode(os.urandom(32)).decode() + ", extra: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(DataKeyError) as raised:
        keys.load(path)
    message = str(raised.value)
    assert f"{path}:3: keys[1].id: key id 'ok' is already used by keys[0]" in message
    assert f"{path}:4: keys[2].key: must be 32 bytes (AES-256), not 16" in message
    assert f"{path}:5: keys[3].id:" in message
    assert f"{path}:5: keys[3].key: is not base64" in message
    assert f"{path}:6: keys[4].extra: unknown field" in message


def test_missing_or_empty_key_file(tmp_path: Path) -> None:
    with pytest.raises(DataKeyError, match="cannot be read"):
        keys.load(tmp_path / "missing.yaml")
    (tmp_path / "empty.yaml").write_text("keys: []\n")
    with pytest.raises(DataKeyError, match="must be a non-empty list"):
        keys.load(tmp_path / "empty.yaml")


def test_new_key_ids() -> None:
    assert keys.new_key("2026-12").id == "2026-12"
    assert len(keys.new_key().id) == 7  # YYYY-MM
    with pytest.raises(DataKeyError, match="is not a key id"):
        keys.new_key("no spaces")


def test_new_keys_seal_from_then_on_and_a_pinned_view_keeps_the_old(tmp_path: Path) -> None:
    old_secret = os.urandom(32)
    sealer = Sealer(keys.load(key_file(tmp_path / "a.yaml", ("old", old_secret))))
    pinned = sealer.pinned()
    sealed_before = sealer.seal(b"form", application_data_aad(APP))

    sealer.use_keys(
        keys.load(key_file(tmp_path / "b.yaml", ("new", os.urandom(32)), ("old", old_secret)))
    )

    assert sealer.key_id == "new"
    assert sealer.open(sealed_before, "old", application_data_aad(APP), what="x") == b"form"
    sealed_after = sealer.seal(b"form", application_data_aad(APP))
    assert sealer.open(sealed_after, "new", application_data_aad(APP), what="x") == b"form"
    # What a sealing thread holds: the key it began with, so the id stored matches the bytes.
    assert pinned.key_id == "old"
    sealed_pinned = pinned.seal(b"form", application_data_aad(APP))
    assert sealer.open(sealed_pinned, "old", application_data_aad(APP), what="x") == b"form"
    with pytest.raises(TypeError):
        pinned.use_keys(keys.load(tmp_path / "b.yaml"))


def test_a_process_without_keys_gets_none_by_a_reload(two_keys: keys.DataKeys) -> None:
    sealer = Sealer.plaintext()
    with pytest.raises(DataKeyError, match="restart"):
        sealer.use_keys(two_keys)
    assert not sealer.sealing


def test_a_reload_says_which_keys_changed_and_which_went(tmp_path: Path) -> None:
    old_secret = os.urandom(32)
    sealer = Sealer(keys.load(key_file(tmp_path / "a.yaml", ("old", old_secret))))

    same = keys.load(key_file(tmp_path / "same.yaml", ("old", old_secret)))
    other = keys.load(key_file(tmp_path / "b.yaml", ("new", os.urandom(32))))

    with capture_logs() as unchanged:
        assert swap_keys(sealer, same) is None
    with capture_logs() as rotated:
        audited = swap_keys(sealer, other)

    assert unchanged == []
    assert audited == {
        "sealing_key": "new",
        "previous_sealing_key": "old",
        "key_ids": ["new"],
        "removed": ["old"],
    }
    assert [(e["event"], e["log_level"]) for e in rotated] == [
        ("data_keys.reloaded", "info"),
        ("data_keys.removed", "warning"),
    ]
    assert (rotated[0]["sealing_key"], rotated[0]["previous_sealing_key"]) == ("new", "old")
    assert rotated[1]["key_ids"] == ["old"]
    assert sealer.key_id == "new"
