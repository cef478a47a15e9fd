"""`ozgbridge config validate` reads the key files the settings name, as start-up and a reload
do: a rotated key file can be checked before the SIGHUP."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ozgbridge.cli import main
from ozgbridge.dataprotection import keys

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return Path(shutil.copytree(REPO_ROOT / "config", tmp_path / "config"))


def test_usable_key_files_pass(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring = tmp_path / "data-keys.yaml"
    keys.create_file(ring)
    monkeypatch.setenv("OZGBRIDGE_DATA_KEYS", str(ring))

    result = CliRunner().invoke(main, ["config", "validate", str(config)])

    assert result.exit_code == 0, result.output


def test_a_broken_data_key_file_fails_with_its_line_and_no_key_material(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring = tmp_path / "data-keys.yaml"
    keys.create_file(ring, keys.new_key("2026-01"))
    ring.write_text(ring.read_text() + "  - {id: 2026-12, key: dG9vIHNob3J0}\n")
    monkeypatch.setenv("OZGBRIDGE_DATA_KEYS", str(ring))

    result = CliRunner().invoke(main, ["config", "validate", str(config)])

    assert result.exit_code == 1
    output = result.output.replace("\n", " ")
    assert f"{ring}:5" in output
    assert "must be 32 bytes" in output
    assert "dG9vIHNob3J0" not in output


def test_a_missing_audit_key_file_fails(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OZGBRIDGE_AUDIT_KEY", str(tmp_path / "gone.yaml"))

    result = CliRunner().invoke(main, ["config", "validate", str(config)])

    assert result.exit_code == 1
    assert "gone.yaml" in result.output
    assert "cannot be read" in result.output.replace("\n", " ")
