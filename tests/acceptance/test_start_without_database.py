"""A service pointed at a database it cannot use stops at once with one line that names the
database (password hidden), exit code 2: not a traceback, and not N of them from a group."""

from __future__ import annotations

import pytest

from tests.acceptance.conftest import Deployment, free_port, write_http_config


@pytest.mark.parametrize(
    "command",
    [["api"], ["api", "--processes", "2"], ["worker"], ["serve"], ["api", "--upgrade"]],
    ids=" ".join,
)
def test_a_database_server_that_is_down(command: list[str], deployment: Deployment) -> None:
    write_http_config(deployment.config_dir, "http://127.0.0.1:9/inbox", retry_schedule=[1])
    port = free_port()  # nobody listens there
    deployment.env["OZGBRIDGE_DATABASE_URL"] = (
        f"postgresql+asyncpg://ozgbridge:secret@127.0.0.1:{port}/ozgbridge"
    )

    done = deployment.run(*command, "--config", str(deployment.config_dir))

    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: cannot use the database postgresql+asyncpg://ozgbridge:***@127.0.0.1:{port}/"
        f"ozgbridge: ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', {port})"
    ], done.stderr
    assert "Traceback" not in done.stderr
    assert "secret" not in done.stderr
