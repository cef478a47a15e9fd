"""The reverse-proxy examples in deploy/ match the limits ozgbridge enforces by default."""

from __future__ import annotations

import re

import yaml

from ozgbridge.settings import Settings
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
DEFAULTS = Settings.model_construct()  # the defaults, whatever the environment says


def nginx(directive: str, text: str) -> list[str]:
    return re.findall(rf"^\s*{directive}\s+([^;]+);", text, re.M)


def test_nginx_matches_the_defaults() -> None:
    text = (DEPLOY / "nginx" / "ozgbridge.conf").read_text()
    assert nginx("client_header_timeout", text) == [f"{DEFAULTS.header_timeout:g}s"]
    assert nginx("client_body_timeout", text) == [f"{DEFAULTS.body_timeout:g}s"]
    assert nginx("client_max_body_size", text) == [f"{DEFAULTS.max_body_bytes // 2**20}m"]
    client, upstream = sorted(nginx("keepalive_timeout", text), key=lambda v: int(v[:-1]))[::-1]
    assert client == f"{DEFAULTS.keepalive_timeout:g}s"
    assert int(upstream[:-1]) < DEFAULTS.keepalive_timeout  # nginx lets go first


def test_ingress_nginx_matches_the_defaults() -> None:
    ingress, config = yaml.safe_load_all(
        (DEPLOY / "kubernetes" / "ingress.example.yaml").read_text()
    )
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == (
        f"{DEFAULTS.max_body_bytes // 2**20}m"
    )
    data = config["data"]
    assert data["client-header-timeout"] == f"{DEFAULTS.header_timeout:g}"
    assert data["client-body-timeout"] == f"{DEFAULTS.body_timeout:g}"
    assert data["keep-alive"] == f"{DEFAULTS.keepalive_timeout:g}"
    assert int(data["upstream-keepalive-timeout"]) < DEFAULTS.keepalive_timeout
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "ozgbridge-api"
