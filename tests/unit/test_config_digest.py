"""What the file watch (`OZGBRIDGE_CONFIG_WATCH_SECONDS`) notices: `live.config_digest`."""

from __future__ import annotations

import os
from pathlib import Path

from ozgbridge.live import config_digest


def kubelet_volume(root: Path, files: dict[str, str], version: str) -> None:
    """A ConfigMap or Secret volume as the kubelet writes it: each version in a hidden
    directory, ``..data`` pointing at the current one, each file a symlink through ``..data``;
    a new version is swapped in by renaming a new ``..data`` link over the old one."""
    versioned = root / f"..{version}"
    versioned.mkdir(parents=True)
    for name, content in files.items():
        (versioned / name).write_text(content, encoding="utf-8")
        link = root / name
        if not link.is_symlink():
            link.symlink_to(Path("..data") / name)
    staged = root / "..data_tmp"
    staged.symlink_to(versioned.name)
    os.replace(staged, root / "..data")


def test_a_swapped_in_secret_version_changes_the_digest(tmp_path: Path) -> None:
    config = tmp_path / "config"
    kubelet_volume(config, {"keys.yaml": "keys: []\n"}, "v1")
    secret = tmp_path / "secret"
    kubelet_volume(secret, {"data-keys.yaml": "keys: [a]\n"}, "v1")
    ring = secret / "data-keys.yaml"
    before = config_digest(config, ring)

    kubelet_volume(secret, {"data-keys.yaml": "keys: [b, a]\n"}, "v2")

    assert config_digest(config, ring) != before
    assert config_digest(config) == config_digest(config)  # the directory alone did not change


def test_the_directory_alone_ignores_the_key_file(tmp_path: Path) -> None:
    config = tmp_path / "config"
    kubelet_volume(config, {"keys.yaml": "keys: []\n"}, "v1")
    ring = tmp_path / "data-keys.yaml"
    ring.write_text("keys: [a]\n", encoding="utf-8")
    alone = config_digest(config)
    with_ring = config_digest(config, ring)

    ring.write_text("keys: [b, a]\n", encoding="utf-8")

    assert config_digest(config) == alone
    assert config_digest(config, ring) != with_ring


def test_a_missing_key_file_is_a_state_of_its_own(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    ring = tmp_path / "data-keys.yaml"
    missing = config_digest(config, ring)  # between a delete and a write, say

    ring.write_text("keys: [a]\n", encoding="utf-8")

    assert config_digest(config, ring) != missing
