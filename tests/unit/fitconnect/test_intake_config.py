"""``fitconnect.yaml`` is checked with the rest of the deployment (``config validate``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.fitconnect.intake import FitConnectIntake
from ozgbridge.errors import ConfigError
from ozgbridge.intake import configured_intakes
from ozgbridge.tenants import load_deployment
from tests.fakes.zustelldienst import rsa_key

REPO_ROOT = Path(__file__).resolve().parents[3]
DESTINATION = "7b7ba4f2-9d6c-4f1e-8f33-0c1a2b3c4d5e"


def deployment_with(tmp_path: Path, fitconnect: Any) -> Path:
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config" / "tenants", config / "tenants")
    shutil.copy(REPO_ROOT / "config" / "keys.yaml", config / "keys.yaml")
    keys = config / "secrets"
    keys.mkdir()
    (keys / "decrypt.jwk").write_text(
        json.dumps(rsa_key("destination-encryption").as_dict(private=True))
    )
    (keys / "short.jwk").write_text(json.dumps(rsa_key("short", 2048).as_dict(private=True)))
    (keys / "not-a-key").write_text("hello")
    text = fitconnect if isinstance(fitconnect, str) else yaml.safe_dump(fitconnect)
    (config / "fitconnect.yaml").write_text(text)
    return config


def intake_document(**destination: Any) -> dict[str, Any]:
    entry = {
        "id": DESTINATION,
        "client_id": "subscriber",
        "client_secret": "${env:FC_TEST_SECRET}",
        "decryption_key": "${file:secrets/decrypt.jwk}",
        "signing_key": "${file:secrets/decrypt.jwk}",
        "default_region": {"ars": "053700004004"},
    }
    entry.update(destination)
    return {
        "submission_api_url": "https://submission.example",
        "token_url": "https://auth.example/token",
        "destinations": [entry],
    }


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FC_TEST_SECRET", "s3cret")


def test_a_valid_file_configures_the_intake(tmp_path: Path) -> None:
    deployment = load_deployment(deployment_with(tmp_path, intake_document()))

    [intake] = configured_intakes(deployment)
    assert isinstance(intake, FitConnectIntake)
    assert intake.config is not None
    assert str(intake.config.destinations[0].id) == DESTINATION


def test_without_file_or_fitconnect_routes_nothing_runs(tmp_path: Path) -> None:
    config = deployment_with(tmp_path, intake_document())
    (config / "fitconnect.yaml").unlink()

    assert configured_intakes(load_deployment(config)) == []


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"client_secret": "inline"}, "destinations[0].client_secret", "never inline"),
        ({"signing_key": "${file:secrets/short.jwk}"}, "destinations[0].signing_key", "4096"),
        (
            {"decryption_key": "${file:secrets/not-a-key}"},
            "destinations[0].decryption_key",
            "cannot be read",
        ),
        ({"default_region": {"ars": "123"}}, "destinations[0].default_region.ars", "ARS"),
        ({"id": "not-a-uuid"}, "destinations[0].id", "UUID"),
        ({"typo": 1}, "destinations[0].typo", "unknown field"),
    ],
)
def test_problems_are_located_in_the_file(
    tmp_path: Path, change: dict[str, Any], field: str, message: str
) -> None:
    config = deployment_with(tmp_path, intake_document(**change))

    with pytest.raises(ConfigError) as caught:
        load_deployment(config)

    [problem] = caught.value.problems
    assert problem.file == "config/fitconnect.yaml"
    assert problem.field == field
    assert problem.line is not None
    assert message in problem.message
    assert "s3cret" not in str(caught.value)


def test_unresolved_secrets_are_checked_for_syntax_only(tmp_path: Path) -> None:
    config = deployment_with(tmp_path, intake_document(client_secret="${env:NOT_SET_ANYWHERE}"))

    load_deployment(config, resolve_secrets=False)
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE"):
        load_deployment(config)


def test_a_pem_key_needs_the_kid_it_is_registered_under(tmp_path: Path) -> None:
    config = deployment_with(tmp_path, intake_document(signing_key="${file:secrets/sign.pem}"))
    pem = rsa_key("destination-signature").as_pem(private=True).decode()
    (config / "secrets" / "sign.pem").write_text(pem)

    with pytest.raises(ConfigError) as caught:
        load_deployment(config)
    [problem] = caught.value.problems
    assert problem.field == "destinations[0].signing_key"
    assert "kid" in problem.message

    document = intake_document(signing_key="${file:secrets/sign.pem}", signing_key_kid="sig-1")
    (config / "fitconnect.yaml").write_text(yaml.safe_dump(document))
    [intake] = configured_intakes(load_deployment(config))
    assert isinstance(intake, FitConnectIntake)
