"""The services file of `config coverage`, and keys.yaml edits that keep an operator's layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from ozgbridge.apikey_models import ApiKey
from ozgbridge.errors import ConfigError
from ozgbridge.gaps import read_services
from ozgbridge.keyfile import add_key


def test_services_file_formats(tmp_path: Path) -> None:
    path = tmp_path / "services.csv"
    path.write_text(
        "leika_key,name\n"
        "# Gewerbe\n"
        "99050012104000,Gewerbe Anmeldung\n"
        "\n"
        "99036008007000 Kfz Zulassung\n"
        "99050012104000 listed twice\n",
        encoding="utf-8",
    )
    assert read_services(path) == ["99050012104000", "99036008007000"]


def test_a_line_without_a_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "services.txt"
    path.write_text("99050012104000\nGewerbe Ummeldung\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_services(path)
    assert str(info.value) == f"{path}:2: no LeiKa key (14 digits starting with 99)"


def test_flow_style_entries_get_a_flow_style_neighbour(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text(
        '# our keys\nkeys:\n  - {id: a, role: portal, sha256: "' + "c" * 64 + '"}  # the portal\n',
        encoding="utf-8",
    )
    line = add_key(keys, ApiKey(id="b", role="operator", sha256="1" + "e" * 63), [])
    assert line == 4
    assert keys.read_text(encoding="utf-8") == (
        "# our keys\nkeys:\n"
        '  - {id: a, role: portal, sha256: "' + "c" * 64 + '"}  # the portal\n'
        '  - {id: b, role: operator, sha256: "1' + "e" * 63 + '"}\n'
    )


def test_an_empty_list_becomes_a_block(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys: []\n", encoding="utf-8")
    add_key(keys, ApiKey(id="x", role="tenant", tenant="erkelenz", sha256="d" * 64), ["erkelenz"])
    assert keys.read_text(encoding="utf-8") == (
        f'keys:\n  - id: x\n    role: tenant\n    tenant: erkelenz\n    sha256: "{"d" * 64}"\n'
    )
