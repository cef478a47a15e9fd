"""Every command that uses the database, pointed at one it cannot use: one line that names the
database (password hidden) and says why, exit code 2, never a traceback.

A port nobody listens on stands for a database server that is down; a database name the real
PostgreSQL lacks stands for a typo in the URL. asyncpg raises the latter while connecting, where
SQLAlchemy does not wrap it (see `store.engine.DATABASE_ERRORS`).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from ozgbridge.cli import main
from tests.conftest import PG_ADMIN_DSN, sqlalchemy_pg_url
from tests.integration.api.support import write_config

# Each needs the database and nothing else that could fail first.
COMMANDS = [
    ["db", "upgrade"],
    ["db", "current"],
    ["db", "check"],
    ["audit", "verify"],
    ["audit", "checkpoint"],
    ["keys", "list"],
    ["report"],
    ["purge", "--dry-run"],
    ["data-keys", "usage"],
    ["deliveries", "list"],
    ["deliveries", "show", "01J00000000000000000000000"],
    ["deliveries", "replay", "01J00000000000000000000000"],
    ["deliveries", "cancel", "01J00000000000000000000000", "--reason", "test"],
    ["routes", "list"],
    ["routes", "pause", "heinsberg/gewerbe"],
    ["routes", "resume", "heinsberg/gewerbe"],
]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("OZGBRIDGE_DATA_KEYS", "OZGBRIDGE_AUDIT_KEY", "OZGBRIDGE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OZGBRIDGE_CONFIG_DIR", str(write_config(tmp_path / "config")))
    monkeypatch.setenv("OZGBRIDGE_AUDIT_UNKEYED", "true")
    return tmp_path


def run(url: str, command: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setenv("OZGBRIDGE_DATABASE_URL", url)
    result = CliRunner().invoke(main, command)
    # Anything but a clean exit is the traceback an operator would have seen.
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{command}: {result.exception!r}"
    )
    return result.exit_code, result.stderr


def assert_one_line_naming(url_shown: str, why: str, code: int, stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert code == 2, stderr
    assert lines == [lines[0]], stderr
    assert lines[0].startswith(f"error: cannot use the database {url_shown}: "), stderr
    assert why in lines[0], stderr
    assert "secret" not in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_server_that_is_down(
    command: list[str], environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    code, stderr = run(
        f"postgresql+asyncpg://ozgbridge:secret@127.0.0.1:{port}/ozgbridge", command, monkeypatch
    )

    shown = f"postgresql+asyncpg://ozgbridge:***@127.0.0.1:{port}/ozgbridge"
    assert_one_line_naming(shown, "Connect call failed", code, stderr)


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["db", "current"], ["deliveries", "list"], ["report"]])
def test_a_database_that_does_not_exist(
    command: list[str], pg_template: str, environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlalchemy_pg_url(PG_ADMIN_DSN, "ozgb_no_such_database")
    code, stderr = run(url, command, monkeypatch)

    assert_one_line_naming(
        url,  # PG_ADMIN_DSN has no password to hide
        'InvalidCatalogNameError: database "ozgb_no_such_database" does not exist',
        code,
        stderr,
    )
