"""`atomic_file.replace_text`: how key files and keys.yaml are rewritten."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ozgbridge.atomic_file import replace_text


def test_a_symlink_stays_and_its_target_changes(tmp_path: Path) -> None:
    target = tmp_path / "mounted" / "keys.yaml"
    target.parent.mkdir()
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "etc" / "keys.yaml"
    link.parent.mkdir()
    link.symlink_to(target)

    replace_text(link, "new\n")

    assert link.is_symlink()
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["keys.yaml"]


def test_a_failed_check_leaves_the_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("old\n")
    seen: list[str] = []

    def refuse(staged: Path) -> None:
        seen.append(staged.read_text())
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        replace_text(path, "new\n", check=refuse)

    assert seen == ["new\n"]
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keys.yaml"]


def test_a_new_file_gets_the_given_mode(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"

    replace_text(path, "new\n", new_file_mode=0o600)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
