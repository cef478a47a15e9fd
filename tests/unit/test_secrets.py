"""Secret references: ${env:NAME}, ${file:PATH}, the $${ escape, inline secrets refused."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, field_validator

from ozgbridge import connector_registry
from ozgbridge.connector import Connector, ConnectorOptions, Receipt
from ozgbridge.domain import Envelope
from ozgbridge.errors import ConfigError, ConfigProblem
from ozgbridge.secrets import (
    INLINE_SECRET_MESSAGE,
    SecretReferenceError,
    SecretResolver,
    has_reference,
    is_secret_field,
    resolve_options,
)
from ozgbridge.tenants import load_deployment, token_sha256


def resolver(tmp_path: Path, resolve: bool = True, **environ: str) -> SecretResolver:
    return SecretResolver(base_dir=tmp_path, environ=environ, resolve=resolve)


# --- references -------------------------------------------------------------------------------


def test_env_reference_is_replaced_anywhere_in_the_value(tmp_path: Path) -> None:
    r = resolver(tmp_path, PW="s3cr3t", USER="svc")
    assert r.resolve_string("${env:PW}") == "s3cr3t"
    assert r.resolve_string("https://${env:USER}:${env:PW}@host/") == "https://svc:s3cr3t@host/"


def test_missing_env_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(SecretReferenceError) as info:
        resolver(tmp_path).resolve_string("${env:ERKELENZ_SECRET}")
    assert str(info.value) == (
        "environment variable ERKELENZ_SECRET is not set (referenced as ${env:ERKELENZ_SECRET})"
    )


def test_file_reference_strips_the_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "hmac"
    secret.write_text("line one\nline two\r\n\n", encoding="utf-8")
    assert resolver(tmp_path).resolve_string(f"${{file:{secret}}}") == "line one\nline two"


def test_relative_file_reference_is_relative_to_the_config_dir(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text("tok\n", encoding="utf-8")
    assert resolver(tmp_path).resolve_string("${file:secrets/token}") == "tok"


def test_unreadable_secret_file_is_named_without_content(tmp_path: Path) -> None:
    with pytest.raises(SecretReferenceError) as info:
        resolver(tmp_path).resolve_string("${file:/run/secrets/nope}")
    assert str(info.value) == (
        "cannot read secret file /run/secrets/nope: No such file or directory"
    )
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SecretReferenceError, match=r"^secret file bin is not UTF-8 text$"):
        resolver(tmp_path).resolve_string("${file:bin}")


def test_double_dollar_escapes_a_literal_reference(tmp_path: Path) -> None:
    r = resolver(tmp_path, X="value")
    assert r.resolve_string("$${env:X}") == "${env:X}"
    assert r.resolve_string("a $${b} ${env:X}") == "a ${b} value"
    assert not has_reference("price: $${env:X}")
    assert has_reference("$${literal} ${env:X}")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${vault:kv/x}", "unknown reference '${vault:kv/x}': use ${env:NAME} or ${file:PATH}"),
        ("${env:1BAD}", "${env:1BAD} does not name an environment variable"),
        ("${file:}", "${file:} needs a path"),
        ("abc ${env:X", "unterminated '${' (write $${ for a literal '${')"),
    ],
)
def test_malformed_references(tmp_path: Path, value: str, message: str) -> None:
    for resolve in (True, False):
        with pytest.raises(SecretReferenceError) as info:
            resolver(tmp_path, resolve=resolve, X="x").resolve_string(value)
        assert str(info.value).startswith(message)


def test_without_resolution_references_stay_verbatim(tmp_path: Path) -> None:
    r = resolver(tmp_path, resolve=False)
    assert r.resolve_string("${env:NOT_SET_ANYWHERE}") == "${env:NOT_SET_ANYWHERE}"
    assert r.resolve_string("${file:/does/not/exist}") == "${file:/does/not/exist}"
    assert r.resolve_string("plain $${x}") == "plain ${x}"


# --- which fields are secrets -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "secret",
        "signing_secret",
        "password",
        "smtp-password",
        "apiKey",
        "api_key",
        "private_key_pem",
        "access_token",
        "client_secret",
        "passphrase",
    ],
)
def test_secret_field_names(name: str) -> None:
    assert is_secret_field(name)


@pytest.mark.parametrize(
    "name",
    ["key_id", "kid", "token_url", "api_key_header", "public_key", "key_file", "monkey", "url"],
)
def test_non_secret_field_names(name: str) -> None:
    assert not is_secret_field(name)


def test_resolve_options_walks_nested_values_and_refuses_inline_secrets(tmp_path: Path) -> None:
    result = resolve_options(
        {
            "url": "https://x",
            "auth": {"user": "svc", "password": "hunter2"},
            "api_keys": ["${env:K1}", "inline"],
            "headers": {"X-Token": "${env:MISSING}"},
            "retries": 3,
            "token": "",
        },
        resolver(tmp_path, K1="one"),
    )
    assert result.options == {
        "url": "https://x",
        "auth": {"user": "svc", "password": "hunter2"},
        "api_keys": ["one", "inline"],
        "headers": {"X-Token": "${env:MISSING}"},
        "retries": 3,
        "token": "",
    }
    assert result.problems == [
        (("auth", "password"), INLINE_SECRET_MESSAGE),
        (("api_keys", 1), INLINE_SECRET_MESSAGE),
        (
            ("headers", "X-Token"),
            "environment variable MISSING is not set (referenced as ${env:MISSING})",
        ),
    ]
    assert result.references == [("api_keys", 0), ("headers", "X-Token")]


# --- through the loader -----------------------------------------------------------------------


class _WebhookOptions(ConnectorOptions):
    url: str
    signing_secret: str = Field(min_length=16)

    @field_validator("signing_secret")
    @classmethod
    def _prefixed(cls, value: str) -> str:
        # Real back-ends impose formats like this one: an unresolved reference cannot pass it.
        if not value.startswith("whsec_"):
            raise ValueError("must start with whsec_")
        return value


class _Webhook(Connector[_WebhookOptions]):
    kind = "webhook"
    Options = _WebhookOptions

    async def send(self, envelope: Envelope) -> Receipt:
        raise NotImplementedError


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    kinds: dict[str, type[Connector[Any]]] = {"webhook": _Webhook}
    monkeypatch.setattr(connector_registry, "_registry", lambda: kinds)


def deployment_dir(tmp_path: Path, options: str) -> Path:
    root = tmp_path / "cfg"
    (root / "tenants").mkdir(parents=True)
    tenant = textwrap.dedent(
        """
        id: erkelenz
        name: Stadt Erkelenz
        ags: "05370004"
        routes:
          - id: gewerbe
            services: ["99050012104000"]
            connector: webhook
            options:
        """
    ).lstrip("\n") + textwrap.indent(textwrap.dedent(options).lstrip("\n"), " " * 6)
    (root / "tenants" / "erkelenz.yaml").write_text(tenant, encoding="utf-8")
    (root / "keys.yaml").write_text(
        f'keys:\n  - {{id: portal, role: portal, sha256: "{token_sha256("t")}"}}\n',
        encoding="utf-8",
    )
    return root


def load_problems(root: Path, resolve_secrets: bool = True) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_deployment(root, resolve_secrets=resolve_secrets)
    return info.value.problems


FILE = "cfg/tenants/erkelenz.yaml"


def test_loader_resolves_env_and_file_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OZGB_TEST_HOST", "erkelenz.example")
    root = deployment_dir(
        tmp_path,
        """
        url: "https://${env:OZGB_TEST_HOST}/inbox?q=$${raw}"
        signing_secret: "${file:hmac.txt}"
        """,
    )
    (root / "hmac.txt").write_text("whsec_0123456789abcdef\n", encoding="utf-8")
    route = load_deployment(root).route("erkelenz", "gewerbe")
    assert route.options == {
        "url": "https://erkelenz.example/inbox?q=${raw}",
        "signing_secret": "whsec_0123456789abcdef",
    }
    assert "whsec_" not in repr(route)


def test_loader_reports_missing_variable_at_its_line(tmp_path: Path) -> None:
    root = deployment_dir(
        tmp_path,
        """
        url: "https://erkelenz.example"
        signing_secret: "${env:OZGB_TEST_UNSET_SECRET}"
        """,
    )
    # The unresolved value would also fail the connector's checks; only the cause is reported.
    assert load_problems(root) == [
        ConfigProblem(
            FILE,
            "routes[0].options.signing_secret",
            "environment variable OZGB_TEST_UNSET_SECRET is not set "
            "(referenced as ${env:OZGB_TEST_UNSET_SECRET})",
            10,
        )
    ]


def test_loader_refuses_inline_secrets(tmp_path: Path) -> None:
    root = deployment_dir(
        tmp_path,
        """
        url: "https://erkelenz.example"
        signing_secret: "whsec_0123456789abcdef"
        """,
    )
    assert load_problems(root) == [
        ConfigProblem(FILE, "routes[0].options.signing_secret", INLINE_SECRET_MESSAGE, 10)
    ]
    assert load_problems(root, resolve_secrets=False) == [
        ConfigProblem(FILE, "routes[0].options.signing_secret", INLINE_SECRET_MESSAGE, 10)
    ]


def test_validation_without_secrets_checks_everything_else(tmp_path: Path) -> None:
    root = deployment_dir(
        tmp_path,
        """
        url: "https://erkelenz.example"
        signing_secret: "${env:OZGB_TEST_UNSET_SECRET}"
        """,
    )
    deployment = load_deployment(root, resolve_secrets=False)
    assert deployment.route("erkelenz", "gewerbe").options["signing_secret"] == (
        "${env:OZGB_TEST_UNSET_SECRET}"
    )

    broken = deployment_dir(
        tmp_path / "broken",
        """
        signing_secret: "${env:OZGB_TEST_UNSET_SECRET}"
        retries: 3
        """,
    )
    assert [(p.field, p.message) for p in load_problems(broken, resolve_secrets=False)] == [
        ("routes[0].options.url", "required field is missing"),
        ("routes[0].options.retries", "unknown field (misspelt, or not supported here)"),
    ]


def test_fingerprint_ignores_secret_values_and_resolution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = deployment_dir(
        tmp_path,
        """
        url: "https://erkelenz.example"
        signing_secret: "${env:OZGB_TEST_SECRET}"
        """,
    )
    monkeypatch.setenv("OZGB_TEST_SECRET", "whsec_first-secret-value")
    first = load_deployment(root)
    monkeypatch.setenv("OZGB_TEST_SECRET", "whsec_second-secret-value")
    second = load_deployment(root)
    unresolved = load_deployment(root, resolve_secrets=False)
    assert first.fingerprint == second.fingerprint == unresolved.fingerprint

    path = root / "tenants" / "erkelenz.yaml"
    path.write_text(path.read_text().replace("erkelenz.example", "erkelenz.test"))
    assert load_deployment(root).fingerprint != first.fingerprint
