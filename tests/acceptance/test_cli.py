"""CLI commands as an operator types them."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sqlite3

from ozgbridge import audit
from ozgbridge.store.engine import create_engine
from tests.acceptance.conftest import REPO_ROOT, Deployment


def test_config_validate_accepts_the_example(deployment: Deployment) -> None:
    result = deployment.run("config", "validate", str(REPO_ROOT / "config"))
    assert result.returncode == 0, result.stderr
    assert "11 tenants" in result.stdout


def test_config_validate_names_file_line_and_field(deployment: Deployment) -> None:
    shutil.copytree(REPO_ROOT / "config", deployment.config_dir)
    tenant_file = deployment.config_dir / "tenants" / "erkelenz.yaml"
    text = tenant_file.read_text()
    tenant_file.write_text(text.replace('"99050012104000"', '"12345"', 1))
    lines = tenant_file.read_text().splitlines()
    line = next(number for number, text in enumerate(lines, 1) if "12345" in text)

    result = deployment.run("config", "validate", str(deployment.config_dir))

    assert result.returncode == 1
    assert f"erkelenz.yaml:{line}" in result.stderr
    assert "12345" in result.stderr


def test_serve_refuses_an_outdated_schema(deployment: Deployment) -> None:
    shutil.copytree(REPO_ROOT / "config", deployment.config_dir)
    result = deployment.run("serve", "--config", str(deployment.config_dir), "--port", "0")
    assert result.returncode == 2
    assert "ozgbridge db upgrade" in result.stderr


def test_db_upgrade_then_audit_verify_detects_tampering(deployment: Deployment) -> None:
    assert deployment.run("db", "upgrade").returncode == 0
    assert deployment.run("db", "current").returncode == 0
    database = deployment.env["OZGBRIDGE_DATABASE_URL"].split("///", 1)[1]

    async def write_events() -> None:
        engine = create_engine(deployment.env["OZGBRIDGE_DATABASE_URL"])
        for n in range(3):
            await audit.record(engine, audit.AuditEvent("test", "test.event", details={"n": n}))
        await engine.dispose()

    asyncio.run(write_events())
    assert deployment.run("audit", "verify").returncode == 0

    with sqlite3.connect(database) as db:
        db.execute("UPDATE audit_events SET details = '{\"n\":7}' WHERE seq = 2")
    result = deployment.run("audit", "verify")

    assert result.returncode == 1
    assert "event 2" in result.stderr


def test_keys_create_prints_a_token_whose_hash_it_prints(deployment: Deployment) -> None:
    result = deployment.run("keys", "create", "--id", "erkelenz-it", "--role", "tenant",
                            "--tenant", "erkelenz")  # fmt: skip
    assert result.returncode == 0, result.stderr
    token, entry = result.stdout.strip().splitlines()
    assert token.startswith("ozgb_")
    assert hashlib.sha256(token.encode()).hexdigest() in entry
    assert '"tenant": "erkelenz"' in entry

    refused = deployment.run("keys", "create", "--id", "x", "--role", "tenant")
    assert refused.returncode == 2
