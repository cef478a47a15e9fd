"""The ``smtp`` connector's options and what ``config validate`` says about them."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from connectors.smtp import SmtpConnector, SmtpOptions
from ozgbridge.cli import main
from ozgbridge.connector import ConnectorContext
from ozgbridge.errors import ConfigError
from ozgbridge.tenants import load_deployment, token_sha256
from tests.integration.connectors.pki import issue, shared_pki

BASE = {"host": "mail.heinsberg.example", "sender": "ozg@kreis.example", "recipients": ["a@b.de"]}


def options(**overrides: Any) -> SmtpOptions:
    return SmtpOptions.model_validate(BASE | overrides)


def error_of(**overrides: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        options(**overrides)
    return str(caught.value)


def test_defaults_are_starttls_on_587_and_a_subject_without_personal_data() -> None:
    smtp = options()

    assert (smtp.security, smtp.server_port()) == ("starttls", 587)
    assert options(security="tls").server_port() == 465
    assert options(security="tls", port=2465).server_port() == 2465
    assert smtp.subject == "Online-Antrag {service_name} ({application_id})"
    assert smtp.warnings() == []


def test_security_none_needs_allow_insecure_and_warns() -> None:
    assert "needs allow_insecure: true" in error_of(security="none")
    assert "allow_insecure only goes with security: none" in error_of(allow_insecure=True)

    plain = options(security="none", allow_insecure=True, username="u", password="p")

    assert plain.server_port() == 25
    assert plain.warnings() == [
        (
            ("security",),
            "security: none sends every application without transport encryption and "
            "readable (no smime); use starttls or tls",
        ),
        (("password",), "is sent in clear text (security: none)"),
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"username": "u"}, "username and password go together"),
        ({"password": "p"}, "username and password go together"),
        ({"sender": "not an address"}, "is not a mail address"),
        ({"sender": "jörg@example.de"}, "is not a mail address"),
        ({"recipients": []}, "at least 1 item"),
        ({"recipients": ["a@b.de", "x"]}, "'x' is not a mail address"),
        ({"recipients": ["a@b.de", "A@b.de"]}, "'A@b.de' is listed twice"),
        ({"subject": "Antrag {applicant_name}"}, "unknown placeholder {applicant_name}"),
        ({"subject": "Antrag {"}, "is not a valid template"),
        ({"subject": "a\r\nBcc: x@y.de"}, "must be one line"),
        ({"host": "mail example"}, "is not a host name"),
        ({"port": 0}, "greater than or equal to 1"),
        ({"security": "ssl"}, "'starttls', 'tls' or 'none'"),
        (
            {"security": "none", "allow_insecure": True, "ca_file": "ca.pem"},
            "ca_file has no effect",
        ),
        ({"smtp_host": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_options_are_refused(overrides: dict[str, Any], message: str) -> None:
    assert message in error_of(**overrides)


def test_errors_never_quote_the_password() -> None:
    text = error_of(password="hunter2-secret", port="x")

    assert "hunter2" not in text


def test_smime_certificates_and_signing_key_are_checked() -> None:
    pki = shared_pki()
    recipient = pki.recipient.cert_pem
    signer = {"sign_certificate": pki.signer.cert_pem, "sign_key": pki.signer.key_pem()}

    good = options(smime={"recipient_certificates": [recipient], **signer})
    assert good.smime is not None
    assert good.smime.signer() is not None

    assert "is not a PEM certificate" in error_of(smime={"recipient_certificates": ["x"]})
    assert "needs RSA certificates" in error_of(
        smime={"recipient_certificates": [pki.signer.cert_pem]}  # an EC certificate
    )
    assert "sign_certificate and sign_key go together" in error_of(
        smime={"recipient_certificates": [recipient], "sign_certificate": pki.signer.cert_pem}
    )
    mismatch = {"sign_certificate": pki.signer.cert_pem, "sign_key": pki.recipient.key_pem()}
    assert "does not belong to sign_certificate" in error_of(
        smime={"recipient_certificates": [recipient], **mismatch}
    )
    locked = {"sign_certificate": pki.signer.cert_pem, "sign_key": pki.signer.key_pem(b"pass")}
    assert options(
        smime={"recipient_certificates": [recipient], **locked, "sign_key_passphrase": "pass"}
    ).smime
    wrong = error_of(
        smime={"recipient_certificates": [recipient], **locked, "sign_key_passphrase": "nope"}
    )
    assert "passphrase (sign_key_passphrase) is wrong or missing" in wrong
    assert "PRIVATE KEY" not in wrong


def test_expired_recipient_certificate_is_a_warning() -> None:
    pki = shared_pki()
    expired = issue(
        "old",
        issuer=pki.ca,
        key=pki.recipient.key,
        not_after=datetime.now(UTC) - timedelta(days=1),
    )

    smtp = options(smime={"recipient_certificates": [pki.recipient.cert_pem, expired.cert_pem]})

    [(loc, message)] = smtp.warnings()
    assert loc == ("smime", "recipient_certificates", 1)
    assert message.startswith("certificate expired on ")


def test_ec_keys_sign_too() -> None:
    pki = shared_pki()
    assert isinstance(pki.signer.key, ec.EllipticCurvePrivateKey)


KEYS = f"""
keys:
  - {{id: portal, role: portal, sha256: "{token_sha256("portal-token")}"}}
"""

TOWN = """
id: heinsberg
name: Stadt Heinsberg
ags: "05370016"
routes:
  - id: gewerbe
    services: ["*"]
    connector: smtp
    options:
      host: mail.heinsberg.example
      security: none
      allow_insecure: true
      sender: ozg@kreis-heinsberg.example
      recipients: [poststelle@heinsberg.example]
"""


def write_config(tmp_path: Path, town: str) -> Path:
    root = tmp_path / "cfg"
    (root / "tenants").mkdir(parents=True)
    (root / "tenants" / "heinsberg.yaml").write_text(textwrap.dedent(town).lstrip("\n"))
    (root / "keys.yaml").write_text(textwrap.dedent(KEYS).lstrip("\n"))
    return root


def test_config_validate_warns_about_security_none_without_failing(tmp_path: Path) -> None:
    root = write_config(tmp_path, TOWN)

    deployment = load_deployment(root)
    result = CliRunner().invoke(main, ["config", "validate", str(root)])

    [warning] = deployment.warnings
    assert (warning.file, warning.line, warning.field) == (
        "cfg/tenants/heinsberg.yaml",
        10,
        "routes[0].options.security",
    )
    assert result.exit_code == 0, result.output
    assert (
        "cfg/tenants/heinsberg.yaml:10: warning: routes[0].options.security: security: none "
        "sends every application without transport encryption"
    ) in result.output.replace("\n", " ")
    assert "valid" in result.output


def test_config_validate_refuses_security_none_without_allow_insecure(tmp_path: Path) -> None:
    root = write_config(tmp_path, TOWN.replace("      allow_insecure: true\n", ""))

    with pytest.raises(ConfigError) as caught:
        load_deployment(root)

    [problem] = caught.value.problems
    assert problem.field == "routes[0].options"
    assert "needs allow_insecure: true" in problem.message


def test_sign_key_must_be_a_secret_reference_and_unresolved_ones_pass(tmp_path: Path) -> None:
    pki = shared_pki()
    (tmp_path / "recipient.pem").write_text(pki.recipient.cert_pem)
    town = TOWN.replace(
        "      recipients: [poststelle@heinsberg.example]\n",
        "      recipients: [poststelle@heinsberg.example]\n"
        "      smime:\n"
        "        recipient_certificates: ['${file:../recipient.pem}']\n"
        "        sign_certificate: '${file:../recipient.pem}'\n"
        "        sign_key: ${file:/run/secrets/absent.key}\n",
    )
    root = write_config(tmp_path, town)

    deployment = load_deployment(root, resolve_secrets=False)
    with pytest.raises(ConfigError) as caught:
        load_deployment(root)
    inline = write_config(tmp_path / "inline", town.replace("${file:/run/secrets/absent.key}", "x"))
    with pytest.raises(ConfigError) as inline_caught:
        load_deployment(inline, resolve_secrets=False)

    assert list(deployment.tenants) == ["heinsberg"]
    [problem] = caught.value.problems
    assert (
        problem.message
        == "cannot read secret file /run/secrets/absent.key: No such file or directory"
    )
    assert "never inline" in inline_caught.value.problems[0].message


def test_connector_builds_from_options_with_smime(tmp_path: Path) -> None:
    pki = shared_pki()
    raw = BASE | {"smime": {"recipient_certificates": [pki.recipient.cert_pem]}}
    context = ConnectorContext(tenant_id="t", route_id="r", data_dir=tmp_path)
    connector = SmtpConnector.from_config(raw, context=context, timeout=5)

    assert isinstance(connector, SmtpConnector)
    assert SmtpConnector.option_warnings(connector.options) == []
