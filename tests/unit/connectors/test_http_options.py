"""The http connector's options: what the configuration may say, and what it may never leak."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import certifi
import pytest
from pydantic import ValidationError

from connectors.http import HttpConnector, HttpOptions
from ozgbridge.connector import ConnectorContext
from ozgbridge.errors import ConfigError

URL = "https://fachverfahren.example/api/antraege"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ROTATED = "whsec_" + base64.b64encode(b"current-secret-of-32-bytes-long!").decode()


def options(**values: Any) -> HttpOptions:
    return HttpOptions.model_validate({"url": URL, **values})


def test_minimal_options() -> None:
    opts = options()

    assert (opts.format, opts.verify_tls, opts.signing_keys()) == ("json", True, ())


def test_one_secret_or_a_rotation_list() -> None:
    assert options(signing_secret=SECRET).signing_keys() == (
        base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    )
    assert len(options(signing_secret=[ROTATED, SECRET]).signing_keys()) == 2


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"signing_secret": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "must start with 'whsec_'"),
        ({"signing_secret": "whsec_%%%%"}, "standard base64"),
        ({"signing_secret": "whsec_c2hvcnQ="}, "24–64 bytes"),
        ({"signing_secret": [SECRET, "whsec_nope!"]}, "secret 2 of 2: .*standard base64"),
        ({"signing_secret": []}, "leave signing_secret out"),
        ({"format": "xml"}, "format"),
        ({"url": "ftp://example.org/"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"headers": {"Bad Header": "x"}}, "not a valid header name"),
        ({"headers": {"Content-Type": "text/plain"}}, "set by the connector"),
        ({"headers": {"Webhook-Signature": "v1,x"}}, "set by the connector"),
        ({"headers": {"Idempotency-Key": "x"}}, "set by the connector"),
        ({"headers": {"X-Key": "a", "x-key": "b"}}, "given twice"),
        ({"headers": {"X-Key": "line\r\nX-Evil: 1"}}, "printable ASCII"),
        ({"headers": {"X-Key": "schlüssel"}}, "printable ASCII"),
        ({"verify_tls": False, "ca_file": "ca.pem"}, "ca_file has no effect"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_options_fail_at_load(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        options(**values)


@pytest.mark.parametrize(
    "values",
    [
        {"signing_secret": "whsec_TOPSECRET-not-base64"},
        {"signing_secret": "TOPSECRETwithoutprefix"},
        {"headers": {"X-Api-Key": "TOPSECRET\n"}},
    ],
)
def test_validation_errors_do_not_quote_secrets(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        options(**values)

    # pydantic keeps the raw input in errors() for programs; only what gets printed must not.
    assert "TOPSECRET" not in str(caught.value)
    assert "TOPSECRET" not in repr(caught.value.errors(include_input=False))


def test_secrets_and_header_values_stay_out_of_repr_and_dumps() -> None:
    opts = options(signing_secret=SECRET, headers={"X-Api-Key": "api-key-4711"})

    for text in (repr(opts), str(opts), opts.model_dump_json()):
        assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in text
        assert "api-key-4711" not in text
    assert "X-Api-Key" in repr(opts)


def context(data_dir: Path) -> ConnectorContext:
    return ConnectorContext(tenant_id="heinsberg", route_id="gewerbe", data_dir=data_dir)


async def test_relative_ca_file_is_loaded_from_the_data_dir(tmp_path: Path) -> None:
    shutil.copyfile(certifi.where(), tmp_path / "verwaltungs-pki.pem")

    connector = HttpConnector.from_config(
        {"url": URL, "ca_file": "verwaltungs-pki.pem"}, context=context(tmp_path), timeout=5
    )

    await connector.aclose()


@pytest.mark.parametrize("content", [None, b"this is not a certificate"])
def test_unusable_ca_file_stops_the_start(tmp_path: Path, content: bytes | None) -> None:
    if content is not None:
        (tmp_path / "ca.pem").write_bytes(content)

    with pytest.raises(ConfigError, match=r"route 'gewerbe': ca_file .*ca\.pem.* cannot be loaded"):
        HttpConnector.from_config(
            {"url": URL, "ca_file": "ca.pem"}, context=context(tmp_path), timeout=5
        )
