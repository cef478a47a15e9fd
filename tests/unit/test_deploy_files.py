"""The deployment files must only use commands, options, settings and endpoints that exist."""

from __future__ import annotations

import importlib.util
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from ozgbridge.api.app import create_app
from ozgbridge.cli import main
from ozgbridge.routing import Router
from ozgbridge.settings import Settings
from ozgbridge.store.engine import create_engine
from ozgbridge.store.repository import Repository
from ozgbridge.tenants import load_deployment
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
K8S = DEPLOY / "kubernetes"


def k8s_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def containers() -> Iterator[dict[str, Any]]:
    for doc in k8s_documents():
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        yield from pod.get("containers", [])


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def invocations() -> Iterator[tuple[str, list[str]]]:
    """Every ozgbridge command line written in deploy/ (entrypoint is `ozgbridge`)."""
    for container in containers():
        yield f"k8s:{container['name']}", container["args"]
    for name, service in compose()["services"].items():
        if "command" in service and service.get("image", "").startswith("ozgbridge"):
            yield f"compose:{name}", service["command"]
    for line in (DEPLOY / "systemd" / "ozgbridge.service").read_text().splitlines():
        if line.startswith("Exec") and "bin/ozgbridge" in line:
            yield f"systemd:{line.split('=')[0]}", shlex.split(line.split("=", 1)[1])[1:]
    cmd = re.search(r"^CMD (\[.*\])$", (DEPLOY / "Containerfile").read_text(), re.M)
    assert cmd, "Containerfile has no CMD"
    yield "Containerfile:CMD", yaml.safe_load(cmd.group(1))


def parse(args: list[str]) -> click.Command:
    """Resolve args through the real click CLI; raises click.UsageError on anything unknown."""
    command: click.Command = main
    ctx = main.make_context("ozgbridge", list(args), resilient_parsing=False)
    remaining = [*ctx._protected_args, *ctx.args]
    while isinstance(command, click.Group):
        name, sub, remaining = command.resolve_command(ctx, remaining)
        assert sub is not None
        assert name is not None
        ctx = sub.make_context(name, remaining, parent=ctx)
        remaining = [*ctx._protected_args, *ctx.args]
        command = sub
    return command


@pytest.mark.parametrize(("where", "args"), list(invocations()))
def test_every_command_line_parses(where: str, args: list[str]) -> None:
    command = parse(args)
    assert command.name in {"serve", "api", "worker", "upgrade", "validate"}, where


def test_every_ozgbridge_variable_is_a_setting() -> None:
    known = {f"OZGBRIDGE_{name.upper()}" for name in Settings.model_fields}
    used: set[str] = set()
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            used |= set(re.findall(r"OZGBRIDGE_[A-Z_]+", path.read_text()))
    assert used, "no settings used at all?"
    assert used <= known, f"unknown settings: {sorted(used - known)}"


def test_probes_point_at_real_endpoints(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3")
    deployment = load_deployment(REPO_ROOT / "config")
    app = create_app(
        settings=settings,
        deployment=deployment,
        repository=Repository(create_engine(settings.database_url)),
        router=Router(deployment),
    )
    paths = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    probes = set()
    for container in containers():
        for probe in ("readinessProbe", "livenessProbe"):
            if probe in container:
                probes.add(container[probe]["httpGet"]["path"])
    assert probes == {"/readyz", "/healthz"}
    assert probes <= paths


def test_secret_references_are_in_the_example_secret() -> None:
    example = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    for container in containers():
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] == example["metadata"]["name"]
                assert ref["key"] in example["stringData"]


def test_configmaps_are_rendered_from_the_example_config() -> None:
    spec = importlib.util.spec_from_file_location("render", K8S / "render-configmaps.py")
    assert spec is not None
    assert spec.loader is not None
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    assert (K8S / "configmaps.yaml").read_text() == render.render(REPO_ROOT / "config"), (
        "deploy/kubernetes/configmaps.yaml is stale: "
        "run deploy/kubernetes/render-configmaps.py config > deploy/kubernetes/configmaps.yaml"
    )


def test_image_runs_as_an_unprivileged_user() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users
    assert users[-1] not in ("0", "root")
    assert 'ENTRYPOINT ["ozgbridge"]' in text
    for doc in k8s_documents():
        pod = doc.get("spec", {}).get("template", {}).get("spec")
        if pod:
            assert pod["securityContext"]["runAsNonRoot"] is True


def test_compose_migrates_before_api_and_worker() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
