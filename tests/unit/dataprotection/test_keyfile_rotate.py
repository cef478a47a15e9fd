"""`keys rotate --write`: the rotated entry written into keys.yaml in place — the token fields
change, every comment, the order of the keys and each entry's layout stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ozgbridge.apikey_models import ApiKey
from ozgbridge.apikeys import rotated
from ozgbridge.configfile import read_yaml
from ozgbridge.errors import ConfigError
from ozgbridge.keyfile import rotate_key
from ozgbridge.tenants import token_sha256

REPO_ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
OLD = "a" * 64
NEW = token_sha256("ozgb_new-token")


def key_in(path: Path, key_id: str) -> ApiKey:
    document, problems = read_yaml(path, str(path))
    assert document is not None, problems
    [item] = [k for k in document.data["keys"] if k["id"] == key_id]
    return ApiKey.model_validate(item)


def rotate(path: Path, key_id: str, sha256: str = NEW, now: datetime = NOW) -> int:
    return rotate_key(path, key_id, rotated(key_in(path, key_id), sha256, now, WEEK))


def test_the_example_file_keeps_its_comments_and_its_other_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    original = (REPO_ROOT / "config" / "keys.yaml").read_text(encoding="utf-8")
    path.write_text(original, encoding="utf-8")

    line = rotate(path, "demo-portal")

    text = path.read_text(encoding="utf-8")
    assert line == original.splitlines().index("  - id: demo-portal") + 1
    comments = [row for row in original.splitlines() if row.lstrip().startswith("#")]
    assert [row for row in text.splitlines() if row.lstrip().startswith("#")] == comments
    key = key_in(path, "demo-portal")
    assert (key.sha256, key.demo) == (NEW, False)
    [previous] = key.previous
    assert (previous.sha256, previous.expires) == (
        "63222a48d0074656119068830c17d47a5ca5c23de63f52c7eabbe907259168c2",
        NOW + WEEK,
    )
    # the other key's lines, and everything before this entry, are untouched
    operator = original[original.index("  # token: ozgb_demo_operator") :]
    assert text.endswith(operator)
    assert text.startswith(original[: original.index("  - id: demo-portal")])
    assert text[text.index("  - id: demo-portal") : text.index(operator)] == (
        "  - id: demo-portal\n"
        "    role: portal\n"
        f'    sha256: "{NEW}"\n'
        "    previous:\n"
        "      - {sha256: "
        '"63222a48d0074656119068830c17d47a5ca5c23de63f52c7eabbe907259168c2", '
        'expires: "2026-12-21T09:00:00Z"}\n'
    )


def test_a_second_rotation_keeps_the_live_replaced_token_with_its_comment(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(
        "keys:\n"
        "  - id: portal-hs\n"
        "    role: portal\n"
        f'    sha256: "{OLD}"\n'
        "    previous:\n"
        f'      - {{sha256: "{"b" * 64}", expires: 2026-12-20}}   # the old laptop\n'
        f'      - {{sha256: "{"c" * 64}", expires: 2026-12-01}}   # long gone\n'
        "  # Erkelenz's IT\n"
        f'  - {{id: erkelenz-it, role: tenant, tenant: erkelenz, sha256: "{"d" * 64}"}}\n',
        encoding="utf-8",
    )

    rotate(path, "portal-hs")

    assert path.read_text(encoding="utf-8") == (
        "keys:\n"
        "  - id: portal-hs\n"
        "    role: portal\n"
        f'    sha256: "{NEW}"\n'
        "    previous:\n"
        f'      - {{sha256: "{OLD}", expires: "2026-12-21T09:00:00Z"}}\n'
        f'      - {{sha256: "{"b" * 64}", expires: 2026-12-20}}   # the old laptop\n'
        "  # Erkelenz's IT\n"
        f'  - {{id: erkelenz-it, role: tenant, tenant: erkelenz, sha256: "{"d" * 64}"}}\n'
    )


def test_a_flow_style_entry_stays_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(
        "# our keys\nkeys:\n"
        f'  - {{id: portal-hs, role: portal, sha256: "{OLD}"}}  # Hochsauerland\n'
        f'  - {{id: ops, role: operator, sha256: "{"e" * 64}"}}\n',
        encoding="utf-8",
    )

    assert rotate(path, "portal-hs") == 3

    assert path.read_text(encoding="utf-8") == (
        "# our keys\nkeys:\n"
        f'  - {{id: portal-hs, role: portal, sha256: "{NEW}", previous: [{{sha256: "{OLD}", '
        'expires: "2026-12-21T09:00:00Z"}]} # Hochsauerland\n'  # the line grew past its column
        f'  - {{id: ops, role: operator, sha256: "{"e" * 64}"}}\n'
    )


def test_fields_after_the_token_keep_their_place_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(
        "keys:\n"
        "  - id: portal-hs\n"
        "    role: portal\n"
        f'    sha256: "{OLD}"  # since 2026\n'
        "    events:\n"
        '      url: "https://portal.example/events"\n'
        '      signing_secret: "${env:PORTAL_SECRET}"   # rotate yearly\n'
        "  # next\n"
        f'  - {{id: ops, role: operator, sha256: "{"e" * 64}"}}\n',
        encoding="utf-8",
    )

    rotate(path, "portal-hs")

    assert path.read_text(encoding="utf-8") == (
        "keys:\n"
        "  - id: portal-hs\n"
        "    role: portal\n"
        f'    sha256: "{NEW}"  # since 2026\n'
        "    previous:\n"
        f'      - {{sha256: "{OLD}", expires: "2026-12-21T09:00:00Z"}}\n'
        "    events:\n"
        '      url: "https://portal.example/events"\n'
        '      signing_secret: "${env:PORTAL_SECRET}"   # rotate yearly\n'
        "  # next\n"
        f'  - {{id: ops, role: operator, sha256: "{"e" * 64}"}}\n'
    )


def test_an_unknown_id_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    text = f'keys:\n  - {{id: a, role: portal, sha256: "{OLD}"}}\n'
    path.write_text(text, encoding="utf-8")
    entry = rotated(key_in(path, "a"), NEW, NOW, WEEK)

    with pytest.raises(ConfigError, match="no key with id 'b'"):
        rotate_key(path, "b", entry)

    assert path.read_text(encoding="utf-8") == text
