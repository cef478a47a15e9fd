"""The spool file holds a body encrypted, and gives it back whole."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ozgbridge.api.spool import Spool, check_directory
from ozgbridge.errors import ConfigError


def test_a_spooled_body_reads_back_whole_and_is_encrypted_on_disk(tmp_path: Path) -> None:
    body = b'{"marker": "Erika Mustermann"}' + os.urandom(700_000)
    spool = Spool(tmp_path)
    for start in range(0, len(body), 65_536):
        spool.write(body[start : start + 65_536])

    assert spool.size == len(body)
    assert spool.sha256() == hashlib.sha256(body).hexdigest()
    assert spool.read_all() == body
    assert b"".join(spool.chunks(1000)) == body  # read again, in other pieces
    on_disk = os.pread(spool._file.fileno(), len(body), 0)
    assert len(on_disk) == len(body)
    assert b"Mustermann" not in on_disk
    assert list(tmp_path.iterdir()) == []  # the file has no name
    spool.close()


def test_a_spool_directory_that_cannot_be_used_stops_the_start(tmp_path: Path) -> None:
    check_directory(tmp_path)
    check_directory(None)  # the system's temporary directory
    with pytest.raises(ConfigError, match="OZGBRIDGE_SPOOL_DIR: cannot make a spool file in"):
        check_directory(tmp_path / "missing")
