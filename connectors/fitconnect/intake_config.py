"""``<config>/fitconnect.yaml``: the FIT-Connect destinations this installation subscribes to.

::

    submission_api_url: https://…            # the Zustelldienst's Submission API
    token_url: https://…/token
    poll_interval: 60                        # seconds between looks (callbacks wake it early)
    callback_secret: ${env:FITCONNECT_CALLBACK_SECRET}   # optional: verifies callbacks
    destinations:
      - id: 7b7ba4f2-…                       # the Zustellpunkt (destination id)
        client_id: …                         # subscriber client of that destination
        client_secret: ${env:FITCONNECT_SUBSCRIBER_SECRET}
        decryption_key: ${file:/run/secrets/fitconnect-decrypt.jwk}   # private JWK (or PEM)
        signing_key: ${file:/run/secrets/fitconnect-sign.jwk}         # for accept/reject
        signing_key_kid: …                   # only for a PEM key: the kid registered for it
        decryption_key_kid: …                # only for a PEM key: the kid registered for it
        default_region: {ars: "053700004004"}   # when a submission names none
        data_schemas: {"urn:…:1.0": schemas/gewerbe.json}              # optional

Secrets are references, resolved at load time like every other secret of the deployment.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any
from uuid import UUID

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError

from connectors.fitconnect import crypto
from ozgbridge.configfile import YamlDocument, read_yaml
from ozgbridge.domain import AGS, ARS, RegionRef
from ozgbridge.errors import ConfigProblem
from ozgbridge.secrets import SecretResolver, resolve_options

CONFIG_FILE = "fitconnect.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class RegionConfig(_Strict):
    ars: ARS | None = None
    ags: AGS | None = None

    def to_ref(self) -> RegionRef:
        return RegionRef.of(ars=self.ars, ags=self.ags)


class DestinationConfig(_Strict):
    id: UUID
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    decryption_key: SecretStr
    signing_key: SecretStr
    # The kid the public half is registered under; a JWK carries it, a PEM key needs it here.
    decryption_key_kid: str | None = Field(default=None, min_length=1, max_length=64)
    signing_key_kid: str | None = Field(default=None, min_length=1, max_length=64)
    default_region: RegionConfig | None = None
    callback_secret: SecretStr | None = None
    data_schemas: dict[str, Path] = Field(default_factory=dict)


class FitConnectConfig(_Strict):
    submission_api_url: HttpUrl
    token_url: HttpUrl
    poll_interval: float = Field(default=60.0, gt=0)
    callback_secret: SecretStr | None = None
    destinations: list[DestinationConfig] = Field(default_factory=list)


def read(
    config_dir: Path, resolver: SecretResolver
) -> tuple[FitConnectConfig | None, list[ConfigProblem]]:
    """The configuration (None if there is no file) and every problem found in it."""
    path = config_dir / CONFIG_FILE
    if not path.exists():
        return None, []
    shown = str(PurePosixPath(config_dir.resolve().name) / CONFIG_FILE)
    document, problems = read_yaml(path, shown)
    if document is None:
        return None, problems
    if not isinstance(document.data, dict):
        return None, [document.problem((), "must be a mapping (submission_api_url:, …)")]
    resolved = resolve_options(document.data, resolver)
    problems += [document.problem(loc, message) for loc, message in resolved.problems]
    if problems:
        return None, problems
    try:
        config = FitConnectConfig.model_validate(resolved.options)
    except ValidationError as exc:
        return None, document.validation_problems(exc)
    problems += _semantic_problems(config, document, config_dir, check_keys=resolver.resolve)
    return (None if problems else config), problems


def _semantic_problems(
    config: FitConnectConfig, document: YamlDocument, config_dir: Path, *, check_keys: bool
) -> list[ConfigProblem]:
    problems = []
    seen: set[UUID] = set()
    for number, destination in enumerate(config.destinations):
        at = ("destinations", number)
        if destination.id in seen:
            problems.append(document.problem((*at, "id"), "destination given twice"))
        seen.add(destination.id)
        if destination.default_region is not None:
            try:
                destination.default_region.to_ref()
            except ValueError as exc:
                problems.append(document.problem((*at, "default_region"), str(exc)))
        for uri, schema_path in destination.data_schemas.items():
            try:
                load_data_schema(config_dir, schema_path)
            except ValueError as exc:
                problems.append(document.problem((*at, "data_schemas", uri), str(exc)))
        if not check_keys:  # references unresolved: nothing to parse yet
            continue
        for field in ("decryption_key", "signing_key"):
            try:
                key = crypto.private_key(
                    getattr(destination, field).get_secret_value(),
                    kid=getattr(destination, f"{field}_kid"),
                )
            except crypto.KeyRejected as exc:
                problems.append(document.problem((*at, field), str(exc)))
                continue
            if key.raw_value.key_size < crypto.MIN_RSA_BITS:
                problems.append(
                    document.problem((*at, field), f"needs at least {crypto.MIN_RSA_BITS} bits")
                )
    return problems


def load_data_schema(config_dir: Path, path: Path) -> dict[str, Any]:
    """A JSON Schema for form data (relative paths from the config directory)."""
    full = path if path.is_absolute() else config_dir / path
    try:
        loaded = json.loads(full.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(loaded)
    except (OSError, ValueError, SchemaError) as exc:
        raise ValueError(f"not a readable JSON Schema ({type(exc).__name__})") from exc
    if not isinstance(loaded, dict):
        raise ValueError("not a JSON Schema object")
    return loaded
