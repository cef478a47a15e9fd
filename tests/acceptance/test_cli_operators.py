"""Operator commands as typed: validate before serve, keys --write, secrets, coverage, db check."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import yaml
from standardwebhooks.webhooks import Webhook

from tests.acceptance.conftest import REPO_ROOT, Deployment


def _copy_example(deployment: Deployment) -> Path:
    shutil.copytree(REPO_ROOT / "config", deployment.config_dir)
    return deployment.config_dir


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, text in enumerate(lines, 1) if needle in text)


def test_validate_reports_what_serve_would_refuse_first(deployment: Deployment) -> None:
    config = _copy_example(deployment)
    tenant_file = config / "tenants" / "erkelenz.yaml"
    text = tenant_file.read_text(encoding="utf-8")
    tenant_file.write_text(
        text.replace('    maturity: {model: "2.0", level: 3}\n', "    timeout: 500\n", 1),
        encoding="utf-8",
    )
    line = _line_of(tenant_file, "timeout: 500")
    expected = (
        f"erkelenz.yaml:{line}: routes[0].timeout: timeout 500 s must be shorter than "
        "OZGBRIDGE_LEASE_SECONDS (120 s)"
    )

    validated = deployment.run("config", "validate", str(config))
    assert validated.returncode == 1
    assert expected in validated.stderr

    assert deployment.run("db", "upgrade").returncode == 0
    served = deployment.run("serve", "--config", str(config), "--port", "0")
    assert served.returncode == 2
    assert expected in served.stderr  # the same check, worded the same
    assert "\n: " not in served.stderr


def test_validate_shows_warnings_but_passes(deployment: Deployment) -> None:
    config = _copy_example(deployment)
    tenant_file = config / "tenants" / "erkelenz.yaml"
    text = tenant_file.read_text(encoding="utf-8")
    tenant_file.write_text(text.replace('"99050012104000"', '"99999999999999"', 1), "utf-8")
    result = deployment.run("config", "validate", str(config))
    assert result.returncode == 0, result.stderr
    line = _line_of(tenant_file, "99999999999999")
    assert f"erkelenz.yaml:{line}: warning: routes[0].services[0]: service 99999999999999 is" in (
        result.stderr
    )
    assert "1 warning(s)" in result.stdout


def test_keys_create_write_adds_the_entry_and_keeps_comments(deployment: Deployment) -> None:
    config = _copy_example(deployment)
    keys_file = config / "keys.yaml"
    before = keys_file.read_text(encoding="utf-8")

    result = deployment.run(
        "keys", "create", "--id", "erkelenz-it", "--role", "tenant", "--tenant", "erkelenz",
        "--write", "--config", str(config),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    after = keys_file.read_text(encoding="utf-8")
    assert after.startswith(before)  # comments, order and existing entries untouched
    added = yaml.safe_load(after)["keys"][-1]
    assert added == {
        "id": "erkelenz-it",
        "role": "tenant",
        "tenant": "erkelenz",
        "sha256": hashlib.sha256(token.encode()).hexdigest(),
    }
    line = _line_of(keys_file, "id: erkelenz-it")
    assert f"keys.yaml:{line}" in result.stderr
    assert deployment.run("config", "validate", str(config)).returncode == 0


def test_keys_create_write_refuses_unknown_tenants_and_used_ids(deployment: Deployment) -> None:
    config = _copy_example(deployment)
    keys_file = config / "keys.yaml"
    before = keys_file.read_text(encoding="utf-8")

    unknown = deployment.run(
        "keys", "create", "--id", "x-it", "--role", "tenant", "--tenant", "erkelnz",
        "--write", "--config", str(config),
    )  # fmt: skip
    assert unknown.returncode == 1
    assert "tenant 'erkelnz' is not a tenant of this deployment (did you mean 'erkelenz'?)" in (
        unknown.stderr
    )
    assert unknown.stdout == ""  # no token was handed out

    used = deployment.run(
        "keys", "create", "--id", "demo-portal", "--role", "portal", "--write",
        "--config", str(config),
    )  # fmt: skip
    assert used.returncode == 1
    line = _line_of(keys_file, "id: demo-portal")
    assert f"keys.yaml:{line}: keys[0].id: key id 'demo-portal' exists" in used.stderr
    assert keys_file.read_text(encoding="utf-8") == before


def test_secrets_webhook_signs_as_standard_webhooks_verifies(deployment: Deployment) -> None:
    result = deployment.run("secrets", "webhook")
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert deployment.run("secrets", "webhook").stdout.strip() != secret
    # The secret is usable by the reference library's receiver.
    Webhook(secret)
    assert deployment.run("secrets", "webhook", "--bytes", "8").returncode == 2


def test_coverage_lists_municipalities_without_a_route(deployment: Deployment) -> None:
    config = _copy_example(deployment)
    services = deployment.root / "services.txt"
    services.write_text(
        "# what every town in the Kreis should offer\n"
        "99050012104000 Gewerbe Anmeldung\n"
        "99036008007000 Kfz Zulassung\n",
        encoding="utf-8",
    )
    complete = deployment.run("config", "coverage", str(config), "--services", str(services))
    assert complete.returncode == 0, complete.stdout + complete.stderr
    assert "0 gap(s) in 10 municipalities of 1 Kreis(e)" in complete.stdout

    (config / "tenants" / "gangelt.yaml").unlink()  # Gangelt has no tenant any more
    services.write_text(services.read_text() + "99107023017000\n", encoding="utf-8")
    result = deployment.run(
        "config", "coverage", str(config), "--services", str(services), "--json"
    )
    assert result.returncode == 1
    document = json.loads(result.stdout)
    gangelt = next(m for m in document["kreise"][0]["municipalities"] if m["ags"] == "05370008")
    # Without a tenant of its own Gangelt is not served at all: the Kreis's Kfz delegation
    # covers its "children", which Gangelt no longer is.
    assert gangelt == {
        "ags": "05370008",
        "ars": "053700008008",
        "name": "Gangelt",
        "tenant": None,
        "unrouted": ["99050012104000", "99036008007000", "99107023017000"],
    }
    assert document["gaps"] == 12  # and Wohngeld is missing everywhere


def test_db_check_reports_schema_rows_and_the_oldest_open_delivery(
    deployment: Deployment,
) -> None:
    empty = deployment.run("db", "check")
    assert empty.returncode == 1
    assert "schema empty" in empty.stderr
    assert deployment.run("db", "upgrade").returncode == 0
    result = deployment.run("db", "check", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"]["current"] is True
    assert document["rows"]["applications"] == 0
    assert document["oldestOpenDelivery"] is None
    text = deployment.run("db", "check")
    assert "(current)" in text.stdout
    assert "oldest unfinished delivery: none" in text.stdout
