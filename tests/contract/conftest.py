"""One `ozgbridge serve` for the contract tests: a real process on a real socket."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ozgbridge.dataprotection import keys as data_keys
from tests.acceptance.conftest import Deployment, Process, free_port
from tests.integration.api.support import write_config


def _wait_ready(url: str, process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.popen is not None
        if process.popen.poll() is not None:
            pytest.fail(f"ozgbridge exited with {process.popen.returncode}:\n{process.log()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"ozgbridge not ready within {timeout} s:\n{process.log()}")


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory, audit_key_file: Path) -> Iterator[str]:
    """The base URL of `ozgbridge serve` (API and worker, SQLite) on the example tenants, their
    routes as filedrops under its data directory, with the keys of tests/integration/api/support
    (one of every role)."""
    root = tmp_path_factory.mktemp("contract")
    write_config(root / "config")
    data_keys.create_file(root / "data-keys.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OZGBRIDGE_")}
    env.update(
        {
            "OZGBRIDGE_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'ozgbridge.sqlite3'}",
            "OZGBRIDGE_DATA_DIR": str(root / "var"),
            "OZGBRIDGE_LOG_FORMAT": "json",
            "OZGBRIDGE_DATA_KEYS": str(root / "data-keys.yaml"),
            "OZGBRIDGE_AUDIT_KEY": str(audit_key_file),
        }
    )
    deployment = Deployment(root, root / "config", free_port(), env)
    process = deployment.spawn(
        "serve", "--config", str(deployment.config_dir), "--port", str(deployment.port),
        "--upgrade",
    )  # fmt: skip
    try:
        _wait_ready(deployment.url, process)
        yield deployment.url
    finally:
        assert process.popen is not None
        if process.popen.poll() is None:
            process.terminate()
