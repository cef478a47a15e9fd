"""``POST /v1/intakes/{kind}/callbacks``: one route for every intake plug-in, and their aliases.

The intakes here are test plug-ins: the route knows no intake by name, so any will do (the
FIT-Connect intake's own callbacks are tested in tests/integration/fitconnect).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from ozgbridge.api import app as api_app
from ozgbridge.api.app import create_app
from ozgbridge.errors import ConfigError, ConfigProblem
from ozgbridge.intake import CallbackRejected, CallbackSpec, Intake, IntakeContext
from ozgbridge.routing import Router
from ozgbridge.secrets import SecretResolver
from ozgbridge.settings import Settings
from ozgbridge.store.engine import create_engine
from ozgbridge.store.repository import Repository
from ozgbridge.tenants import Deployment, load_deployment
from tests.integration.api.support import KEYS, auth, write_config

SECRET = b"knock-knock"
BODY = b'{"news": "Erika Mustermann"}'


class Knock(Intake):
    kind = "knock"
    callbacks = CallbackSpec(
        summary="Knock: news",
        auth_header="x-knock",
        headers={"x-knock": "HMAC-SHA256 of the body, hex"},
        aliases=("/v1/knock-knock/callbacks",),
    )

    def __init__(self) -> None:
        self.woken: list[bytes] = []

    @classmethod
    def check(cls, config_dir: Path, resolver: SecretResolver) -> list[ConfigProblem]:
        return []

    @classmethod
    def load(cls, deployment: Deployment, resolver: SecretResolver) -> Intake | None:
        return cls()

    async def run(self, context: IntakeContext) -> None:
        return None

    async def handle_callback(self, headers: Mapping[str, str], body: bytes) -> None:
        expected = hmac.new(SECRET, body, "sha256").hexdigest()
        if not hmac.compare_digest(headers.get("x-knock", ""), expected):
            raise CallbackRejected("x-knock does not verify")
        self.woken.append(body)


class Silent(Knock):
    kind = "silent"
    callbacks = None


def signed(body: bytes = BODY) -> dict[str, str]:
    return {"x-knock": hmac.new(SECRET, body, "sha256").hexdigest()}


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_app, "intake_classes", lambda: {"knock": Knock, "silent": Silent})


async def start(
    sqlite_url: str, tmp_path: Path, intakes: list[Intake]
) -> tuple[TestClient[Any, Any], Any]:
    config = write_config(tmp_path / "config")
    deployment = load_deployment(config, check_connectors=False)
    engine = create_engine(sqlite_url)
    app = create_app(
        settings=Settings(database_url=sqlite_url, config_dir=config),
        deployment=deployment,
        repository=Repository(engine),
        router=Router(deployment),
        intakes=intakes,
    )
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client, engine


@pytest.fixture
async def knock(
    installed: None, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[tuple[TestClient[Any, Any], Knock]]:
    intake = Knock()
    client, engine = await start(sqlite_url, tmp_path, [intake, Silent()])
    yield client, intake
    await client.close()
    await engine.dispose()


async def test_authentic_callback_wakes_its_intake(
    knock: tuple[TestClient[Any, Any], Knock],
) -> None:
    client, intake = knock

    answer = await client.post("/v1/intakes/knock/callbacks", data=BODY, headers=signed())

    assert answer.status == 202
    assert intake.woken == [BODY]


async def test_alias_answers_like_the_generic_path(
    knock: tuple[TestClient[Any, Any], Knock],
) -> None:
    client, intake = knock

    good = await client.post("/v1/knock-knock/callbacks", data=BODY, headers=signed())
    bad = await client.post("/v1/knock-knock/callbacks", data=BODY, headers={"x-knock": "00"})

    assert (good.status, bad.status) == (202, 401)
    assert intake.woken == [BODY]


async def test_unauthentic_callback_is_401_and_its_body_never_logged(
    knock: tuple[TestClient[Any, Any], Knock],
) -> None:
    client, intake = knock

    with capture_logs() as events:
        answer = await client.post("/v1/intakes/knock/callbacks", data=BODY)

    assert answer.status == 401
    assert answer.content_type == "application/problem+json"
    assert intake.woken == []
    [rejected] = [e for e in events if e["event"] == "intake.callback_rejected"]
    assert rejected["kind"] == "knock"
    assert "Mustermann" not in repr(events)


@pytest.mark.parametrize("key_id", sorted(KEYS))
async def test_no_api_key_authenticates_a_callback(
    knock: tuple[TestClient[Any, Any], Knock], key_id: str
) -> None:
    client, intake = knock

    answer = await client.post("/v1/intakes/knock/callbacks", data=BODY, headers=auth(key_id))

    assert answer.status == 401
    assert intake.woken == []


@pytest.mark.parametrize(
    "path",
    [
        "/v1/intakes/nobody/callbacks",  # not installed
        "/v1/intakes/silent/callbacks",  # configured, takes no callbacks
        "/v1/intakes/Knock%20%3Cb%3E/callbacks",  # not even a name
    ],
)
async def test_unknown_or_deaf_intake_is_404(
    knock: tuple[TestClient[Any, Any], Knock], path: str
) -> None:
    client, _ = knock

    answer = await client.post(path, data=BODY, headers=signed())

    assert answer.status == 404
    problem = await answer.json()
    assert "that takes callbacks is configured" in problem["detail"]
    assert "<b>" not in problem["detail"]


async def test_installed_but_not_configured_intake_is_404_on_both_paths(
    installed: None, sqlite_url: str, tmp_path: Path
) -> None:
    client, engine = await start(sqlite_url, tmp_path, [])
    try:
        generic = await client.post("/v1/intakes/knock/callbacks", data=BODY, headers=signed())
        alias = await client.post("/v1/knock-knock/callbacks", data=BODY, headers=signed())
    finally:
        await client.close()
        await engine.dispose()

    assert (generic.status, alias.status) == (404, 404)


async def test_a_callback_is_at_most_64_kib(knock: tuple[TestClient[Any, Any], Knock]) -> None:
    client, intake = knock
    large = b"{" + b" " * 64 * 1024 + b"}"

    answer = await client.post("/v1/intakes/knock/callbacks", data=large, headers=signed(large))

    assert answer.status == 413
    assert intake.woken == []


@pytest.mark.parametrize(
    "alias", ["/v1/applications", "/v1/intakes/x/callbacks", "/v1/knock/other", "v1/k/callbacks"]
)
def test_an_alias_that_could_shadow_another_route_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path, alias: str
) -> None:
    class Greedy(Knock):
        kind = "greedy"
        callbacks = CallbackSpec(summary="s", auth_header="h", headers={}, aliases=(alias,))

    monkeypatch.setattr(api_app, "intake_classes", lambda: {"greedy": Greedy})
    config = write_config(tmp_path / "config")
    deployment = load_deployment(config, check_connectors=False)

    with pytest.raises(ConfigError, match="callback alias"):
        create_app(
            settings=Settings(database_url=sqlite_url, config_dir=config),
            deployment=deployment,
            repository=Repository(create_engine(sqlite_url)),
            router=Router(deployment),
        )
