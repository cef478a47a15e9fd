"""keys.yaml ``events``: portal keys only, secrets as references, checked like http options."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ozgbridge.errors import ConfigError, ConfigProblem
from ozgbridge.tenants import load_deployment, token_sha256

SECRET = "whsec_cG9ydGFsLWV2ZW50cy1zZWNyZXQtZm9yLXRlc3Rz"
KEYS_FILE = "cfg/keys.yaml"
TOWN = """
id: a
name: Stadt A
ags: "05370004"
routes:
  - {id: gewerbe, services: ["*"], connector: filedrop, options: {directory: dropbox/a}}
"""


def write(tmp_path: Path, events: str, role: str = "portal") -> Path:
    root = tmp_path / "cfg"
    (root / "tenants").mkdir(parents=True)
    (root / "tenants" / "a.yaml").write_text(textwrap.dedent(TOWN).lstrip(), encoding="utf-8")
    keys = f"""\
keys:
  - id: portal
    role: {role}
    sha256: "{token_sha256("t")}"
    events: {events}
"""
    (root / "keys.yaml").write_text(keys, encoding="utf-8")
    return root


def problems(root: Path, **options: bool) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_deployment(root, **options)
    return info.value.problems


def test_a_portal_key_with_events_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTS_SECRET", SECRET)
    root = write(
        tmp_path,
        '{url: "https://portal.example/events", signing_secret: "${env:EVENTS_SECRET}", '
        "retry_schedule: [0, 5], timeout: 10}",
    )

    [key] = load_deployment(root).keys

    assert key.events is not None
    assert key.events.connector_options() == {
        "url": "https://portal.example/events",
        "signing_secret": [SECRET],
        "verify_tls": True,
    }
    assert (key.events.retry_schedule, key.events.timeout) == ([0, 5], 10)
    assert SECRET not in repr(key)


def test_only_portal_keys_get_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTS_SECRET", SECRET)
    root = write(
        tmp_path,
        '{url: "https://portal.example/events", signing_secret: "${env:EVENTS_SECRET}"}',
        role="operator",
    )

    assert problems(root) == [
        ConfigProblem(
            KEYS_FILE, "keys[0].events", "only portal keys receive events (this one is operator)", 5
        )
    ]


def test_the_signing_secret_is_never_inline(tmp_path: Path) -> None:
    root = write(tmp_path, f'{{url: "https://portal.example/events", signing_secret: "{SECRET}"}}')

    [problem] = problems(root)

    assert (problem.field, problem.line) == ("keys[0].events.signing_secret", 5)
    assert "${env:NAME}" in problem.message
    assert SECRET[8:] not in problem.message


def test_events_options_are_checked_like_the_http_connectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTS_SECRET", "not-a-whsec-secret")
    root = write(
        tmp_path, '{url: "https://portal.example/events", signing_secret: "${env:EVENTS_SECRET}"}'
    )

    [problem] = problems(root)

    assert problem.field == "keys[0].events.signing_secret"
    assert "whsec_" in problem.message
    assert "not-a-whsec-secret" not in problem.message


def test_unknown_fields_and_a_missing_url(tmp_path: Path) -> None:
    root = write(tmp_path, '{signing_secret: "${env:X}", colour: blue}')

    found = {(p.field, p.message) for p in problems(root, resolve_secrets=False)}

    assert found == {
        ("keys[0].events.url", "required field is missing"),
        ("keys[0].events.colour", "unknown field (misspelt, or not supported here)"),
    }


def test_without_secrets_a_reference_passes_the_check(tmp_path: Path) -> None:
    root = write(
        tmp_path, '{url: "https://portal.example/events", signing_secret: "${env:MISSING}"}'
    )

    [key] = load_deployment(root, resolve_secrets=False).keys

    assert key.events is not None
    assert problems(root)[0].message.startswith("environment variable MISSING")
