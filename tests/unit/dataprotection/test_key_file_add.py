"""Putting a new key first in an existing key file (`data-keys create --add`, `audit new-key
--add`), and the printed entry for doing it by hand: both must fit the files we write."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs

from ozgbridge import audit_keys
from ozgbridge.audit_keys import AuditKeyError
from ozgbridge.dataprotection import keys
from ozgbridge.errors import DataKeyError


def test_a_new_key_goes_first_and_the_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "data-keys.yaml"
    keys.create_file(path, keys.new_key("2026-01"))

    ring = keys.add_first(path, keys.new_key("2026-12"))

    assert ring.ids == ("2026-12", "2026-01")
    assert keys.load(path).ids == ("2026-12", "2026-01")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["data-keys.yaml"]  # no staged copy left


def test_a_file_in_the_block_style_of_earlier_versions(tmp_path: Path) -> None:
    # Before, `create` wrote `yaml.safe_dump`'s style: the list's dashes at column 0.
    path = tmp_path / "data-keys.yaml"
    old = [keys.entry(keys.new_key("2026-01")), keys.entry(keys.new_key("2025-06"))]
    path.write_text("# mine\n" + yaml.safe_dump({"keys": old}, sort_keys=False))
    path.chmod(0o640)

    keys.add_first(path, keys.new_key("2026-12"))

    assert keys.load(path).ids == ("2026-12", "2026-01", "2025-06")
    assert path.read_text().startswith("# mine\nkeys:\n- {")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_comments_and_layout_stay(tmp_path: Path) -> None:
    path = tmp_path / "data-keys.yaml"
    entry = keys.entry(keys.new_key("2026-01"))
    text = (
        "# sealing keys of Kreis Heinsberg\n"
        "keys:\n"
        "    # retire after the rewrap of January\n"
        f"    -   {{id: '2026-01', key: '{entry['key']}'}}   # since January\n"
    )
    path.write_text(text)
    path.chmod(0o600)

    keys.add_first(path, keys.new_key("2026-12"))

    lines = path.read_text().splitlines()
    assert lines[:3] == text.splitlines()[:3]
    assert lines[3].startswith('    - {"id": "2026-12", "key": ')
    assert lines[4:] == text.splitlines()[3:]


def test_a_list_in_brackets_is_left_to_the_operator(tmp_path: Path) -> None:
    path = tmp_path / "data-keys.yaml"
    entry = keys.entry(keys.new_key("2026-01"))
    text = f"keys: [{{id: '2026-01', key: '{entry['key']}'}}]\n"
    path.write_text(text)

    with pytest.raises(DataKeyError, match="by hand"):
        keys.add_first(path, keys.new_key("2026-12"))

    assert path.read_text() == text


def test_a_taken_id_is_refused_naming_the_file_and_it_stays_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "data-keys.yaml"
    keys.create_file(path, keys.new_key("2026-12"))
    before = path.read_text()

    with pytest.raises(DataKeyError) as raised:
        keys.add_first(path, keys.new_key("2026-12"))

    assert str(path) in str(raised.value)
    assert "--id 2026-12b" in str(raised.value)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["data-keys.yaml"]


def test_a_broken_file_is_refused_with_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "data-keys.yaml"
    path.write_text("keys:\n  - {id: 2026-01, key: dG9vIHNob3J0}\n")

    with pytest.raises(DataKeyError, match=r"data-keys\.yaml:2"):
        keys.add_first(path, keys.new_key("2026-12"))


def test_a_printed_entry_put_first_by_hand_fits_a_file_we_wrote(tmp_path: Path) -> None:
    path = tmp_path / "data-keys.yaml"
    keys.create_file(path, keys.new_key("2026-01"))
    printed = keys.entry_line(keys.new_key("2026-12"))

    path.write_text(path.read_text().replace("keys:\n", f"keys:\n{printed}\n", 1))

    assert keys.load(path).ids == ("2026-12", "2026-01")


def test_audit_keys_are_added_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "audit-key.yaml"
    audit_keys.create_file(path, audit_keys.new_key("2026-01"))

    ring = audit_keys.add_first(path, audit_keys.new_key("2026-12"))

    assert [k.id for k in ring.keys] == ["2026-12", "2026-01"]
    with pytest.raises(AuditKeyError):
        audit_keys.add_first(path, audit_keys.new_key("2026-01"))


def test_a_file_readable_by_others_is_warned_about_once_by_its_own_name(tmp_path: Path) -> None:
    path = tmp_path / "data-keys.yaml"
    keys.create_file(path, keys.new_key("2026-01"))
    path.chmod(0o644)

    with capture_logs() as logs:
        keys.add_first(path, keys.new_key("2026-12"))

    assert [(e["event"], e["path"]) for e in logs] == [
        ("data_keys.file_readable_by_others", str(path))
    ]
