"""Data protection as an operator meets it on the command line: keys at start, `data-keys`,
`purge`, `keys rotate` / `keys list`, expiry warnings."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import stat
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from ozgbridge.dataprotection import keys as data_keys
from ozgbridge.domain import utcnow
from tests.acceptance.conftest import REPO_ROOT, Deployment, wait_ready

DEMO_PORTAL = "ozgb_demo_portal_NOT_FOR_PRODUCTION"
EXAMPLE = REPO_ROOT / "config" / "examples" / "gewerbeanmeldung-erkelenz.json"


def example_config(deployment: Deployment) -> None:
    shutil.copytree(REPO_ROOT / "config", deployment.config_dir)


async def submit(deployment: Deployment, token: str = DEMO_PORTAL) -> httpx.Response:
    async with httpx.AsyncClient(base_url=deployment.url, timeout=10) as client:
        return await client.post(
            "/v1/applications",
            content=EXAMPLE.read_bytes(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )


async def status(deployment: Deployment, application_id: str, token: str = DEMO_PORTAL) -> Any:
    async with httpx.AsyncClient(base_url=deployment.url, timeout=10) as client:
        response = await client.get(
            f"/v1/applications/{application_id}", headers={"Authorization": f"Bearer {token}"}
        )
    return response.json()


async def until_delivered(deployment: Deployment, application_id: str) -> None:
    deadline = time.monotonic() + 20
    while (await status(deployment, application_id))["status"] != "delivered":
        assert time.monotonic() < deadline, "not delivered within 20 s"
        await asyncio.sleep(0.1)


async def test_serve_on_the_embedded_default_makes_its_key_file(deployment: Deployment) -> None:
    example_config(deployment)
    # the embedded default: no database URL, no key file named
    del deployment.env["OZGBRIDGE_DATABASE_URL"], deployment.env["OZGBRIDGE_DATA_KEYS"]
    key_file = deployment.root / "var" / "data-keys.yaml"

    first = await deployment.serve("--upgrade")

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert '"data_keys.created"' in first.log()
    assert str(Path("var") / "data-keys.yaml") in first.log()
    created = data_keys.load(key_file)
    response = await submit(deployment)
    assert response.status_code == 202
    await until_delivered(deployment, response.json()["id"])
    assert first.terminate() == 0

    second = await deployment.serve()
    assert '"data_keys.created"' not in second.log().split('"service.started"')[-1]
    assert data_keys.load(key_file).primary.secret == created.primary.secret
    assert second.terminate() == 0


async def test_a_watching_serve_takes_keys_added_with_the_cli(deployment: Deployment) -> None:
    example_config(deployment)
    del deployment.env["OZGBRIDGE_DATABASE_URL"], deployment.env["OZGBRIDGE_DATA_KEYS"]
    deployment.env["OZGBRIDGE_CONFIG_WATCH_SECONDS"] = "0.1"
    key_file = deployment.root / "var" / "data-keys.yaml"
    process = await deployment.serve("--upgrade")
    await asyncio.sleep(1)  # ten looks at the files
    assert '"config.reloaded"' not in process.log()  # making the key file is no change

    added = deployment.run("data-keys", "create", "--id", "2099-01", "--add", str(key_file))
    assert added.returncode == 0, added.stderr

    deadline = time.monotonic() + 10
    while '"data_keys.reloaded"' not in process.log():
        assert time.monotonic() < deadline, process.log()
        await asyncio.sleep(0.1)
    assert '"sealing_key": "2099-01"' in process.log()
    response = await submit(deployment)
    assert response.status_code == 202
    await until_delivered(deployment, response.json()["id"])

    audit_file = Path(deployment.env["OZGBRIDGE_AUDIT_KEY"])
    added = deployment.run("audit", "new-key", "--id", "2099-02", "--add", str(audit_file))
    assert added.returncode == 0, added.stderr
    while '"audit_key.reloaded"' not in process.log():
        assert time.monotonic() < deadline + 10, process.log()
        await asyncio.sleep(0.1)
    assert '"chaining_key": "2099-02"' in process.log()
    assert process.terminate() == 0
    verified = deployment.run("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_without_keys_no_process_starts_unless_plaintext_is_allowed(
    deployment: Deployment,
) -> None:
    example_config(deployment)
    del deployment.env["OZGBRIDGE_DATA_KEYS"]
    assert deployment.run("db", "upgrade").returncode == 0

    for command in ("serve", "api", "worker"):
        refused = deployment.run(command, "--config", str(deployment.config_dir))
        assert refused.returncode == 2, command
        assert "no data keys" in refused.stderr
        assert "OZGBRIDGE_DATA_KEYS" in refused.stderr
        assert "OZGBRIDGE_ALLOW_PLAINTEXT=true" in refused.stderr


async def test_plaintext_when_allowed_warns_at_every_start(deployment: Deployment) -> None:
    example_config(deployment)
    del deployment.env["OZGBRIDGE_DATA_KEYS"]
    deployment.env["OZGBRIDGE_ALLOW_PLAINTEXT"] = "true"

    for _ in range(2):
        process = deployment.spawn(
            "api", "--config", str(deployment.config_dir), "--port", str(deployment.port),
            "--upgrade",
        )  # fmt: skip
        await wait_ready(deployment.url, process)
        assert process.terminate() == 0
    logs = "".join(p.log() for p in deployment.processes)
    assert logs.count('"data_keys.plaintext"') == 2


def test_data_keys_create(deployment: Deployment) -> None:
    printed = deployment.run("data-keys", "create", "--id", "2027-01", check=True)
    [entry] = yaml.safe_load(printed.stdout)
    assert entry["id"] == "2027-01"
    assert len(data_keys.entry(data_keys.new_key())["key"]) == len(entry["key"])
    assert "rewrap" in printed.stderr

    path = deployment.root / "secrets" / "keys.yaml"
    assert deployment.run("data-keys", "create", "--file", str(path)).returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = deployment.run("data-keys", "create", "--file", str(path))
    assert again.returncode == 2
    assert "exists" in again.stderr

    added = deployment.run("data-keys", "create", "--id", "2027-02", "--add", str(path))
    assert added.returncode == 0, added.stderr
    assert data_keys.load(path).ids[0] == "2027-02"
    assert "rewrap" in added.stderr
    both = deployment.run("data-keys", "create", "--file", str(path), "--add", str(path))
    assert both.returncode == 2


def usage_row(table: str, key_id: str) -> list[str]:
    """The cells after the key id in `data-keys usage`'s row of ``key_id``: form data first, then
    the other counts and the role's words."""
    [row] = [line.split() for line in table.splitlines() if line.split()[:1] == [key_id]]
    return [row[1], row[6], *row[7:]] if len(row) > 6 else row[1:]


async def test_rewrap_reseals_and_names_a_missing_key(deployment: Deployment) -> None:
    example_config(deployment)
    key_path = Path(deployment.env["OZGBRIDGE_DATA_KEYS"])
    first = data_keys.load(key_path).primary
    serve = await deployment.serve("--upgrade")
    for _ in range(3):
        assert (await submit(deployment)).status_code == 202
    assert serve.terminate() == 0

    second = data_keys.new_key("second")

    def ring(*members: data_keys.DataKey) -> None:
        key_path.write_text(yaml.safe_dump({"keys": [data_keys.entry(k) for k in members]}))
        os.chmod(key_path, 0o600)

    ring(second)
    missing = deployment.run("data-keys", "rewrap")
    assert missing.returncode == 2
    assert f"sealed under data key {first.id!r}" in missing.stderr
    assert "add that key back" in missing.stderr
    usage = deployment.run("data-keys", "usage")
    assert usage.returncode == 1
    assert usage_row(usage.stdout, first.id)[:2] == ["3", "MISSING:"]  # 3 forms, cannot be opened
    assert f"under data key(s) {first.id!r}" in usage.stderr.replace("\n", " ")

    ring(second, first)
    usage = deployment.run("data-keys", "usage", check=True)
    assert usage_row(usage.stdout, "second")[:2] == ["0", "seals"]
    assert usage_row(usage.stdout, first.id)[0] == "3"
    assert "in use until rewrap" in usage.stdout
    done = deployment.run("data-keys", "rewrap", "--batch", "2")
    assert done.returncode == 0, done.stderr
    assert "3 of 3 application(s) re-sealed under data key 'second'" in done.stdout
    assert "re-sealing" in done.stderr  # the progress bar

    usage = deployment.run("data-keys", "usage", check=True)
    assert usage_row(usage.stdout, "second")[0] == "3"
    assert usage_row(usage.stdout, first.id)[0] == "0"
    assert "unused: can be removed" in usage.stdout
    ring(second)  # the old key is no longer needed
    assert "0 of 0" in deployment.run("data-keys", "rewrap", check=True).stdout
    serve = await deployment.serve()
    application = await submit(deployment)
    await until_delivered(deployment, application.json()["id"])
    assert serve.terminate() == 0
    assert deployment.run("audit", "verify").returncode == 0


async def test_purge_command(deployment: Deployment) -> None:
    example_config(deployment)
    serve = await deployment.serve("--upgrade")
    application_id = (await submit(deployment)).json()["id"]
    await until_delivered(deployment, application_id)
    assert serve.terminate() == 0
    config = ("--config", str(deployment.config_dir))

    kept = deployment.run("purge", *config, check=True)  # 7 days by default
    assert "purged: content of 0 application(s)" in kept.stdout
    deployment.env["OZGBRIDGE_RETENTION_DELIVERED_DAYS"] = "0"
    dry = deployment.run("purge", "--dry-run", *config, check=True)
    assert "due (dry run, nothing deleted): content of 1 application(s)" in dry.stdout
    wet = deployment.run("purge", *config, check=True)
    assert "purged: content of 1 application(s) with 1 attachment(s)" in wet.stdout
    assert deployment.run("audit", "verify").returncode == 0

    serve = await deployment.serve()
    view = await status(deployment, application_id)
    assert view["contentPurgedAt"] is not None
    assert view["status"] == "delivered"
    assert serve.terminate() == 0


async def test_keys_rotate_then_list(deployment: Deployment) -> None:
    example_config(deployment)
    rotated = deployment.run(
        "keys", "rotate", "--id", "demo-portal", "--config", str(deployment.config_dir), check=True
    )
    new_token, entry_line = rotated.stdout.strip().splitlines()
    [entry] = yaml.safe_load(entry_line)
    assert entry["id"] == "demo-portal"
    assert "demo" not in entry
    [previous] = entry["previous"]
    assert previous["sha256"] == "63222a48d0074656119068830c17d47a5ca5c23de63f52c7eabbe907259168c2"
    assert "the old token works until" in rotated.stderr
    keys_file = deployment.config_dir / "keys.yaml"
    document = yaml.safe_load(keys_file.read_text())
    document["keys"] = [entry if k["id"] == "demo-portal" else k for k in document["keys"]]
    keys_file.write_text(yaml.safe_dump(document))
    assert deployment.run("config", "validate", str(deployment.config_dir)).returncode == 0

    serve = await deployment.serve("--upgrade")
    assert (await submit(deployment, new_token)).status_code == 202
    assert (await submit(deployment, DEMO_PORTAL)).status_code == 202  # until the overlap ends
    assert serve.terminate() == 0  # flushes "last used"

    listed = deployment.run("keys", "list", "--config", str(deployment.config_dir), check=True)
    [portal_row] = [line for line in listed.stdout.splitlines() if "demo-portal" in line]
    assert utcnow().date().isoformat() in portal_row  # last used today
    assert portal_row.split()[:4] == ["demo-portal", "portal", "-", "2"]  # two live tokens
    [operator_row] = [line for line in listed.stdout.splitlines() if "demo-operator" in line]
    assert operator_row.split() == ["demo-operator", "operator", "-", "1", "never", "never"]


def test_config_validate_warns_two_weeks_before_a_key_expires(deployment: Deployment) -> None:
    example_config(deployment)
    keys_file = deployment.config_dir / "keys.yaml"
    document = yaml.safe_load(keys_file.read_text())
    document["keys"][1]["expires"] = (utcnow() + timedelta(days=5)).isoformat()
    keys_file.write_text(yaml.safe_dump(document))

    result = deployment.run("config", "validate", str(deployment.config_dir))

    assert result.returncode == 0, result.stderr
    [warning] = [line for line in result.stderr.splitlines() if "expires" in line]
    assert "keys.yaml:" in warning
    assert ": warning: keys[1].expires: key 'demo-operator' expires in " in warning
    assert "ozgbridge keys rotate --id demo-operator" in warning
    assert "1 warning(s)" in result.stdout


def test_keys_rotate_unknown_id(deployment: Deployment) -> None:
    example_config(deployment)
    result = deployment.run(
        "keys", "rotate", "--id", "nobody", "--config", str(deployment.config_dir)
    )
    assert result.returncode == 2
    assert "no key with id 'nobody'" in result.stderr


def test_keys_rotate_write_updates_keys_yaml_in_place(deployment: Deployment) -> None:
    example_config(deployment)
    keys_file = deployment.config_dir / "keys.yaml"
    original = keys_file.read_text(encoding="utf-8")

    rotated = deployment.run(
        "keys", "rotate", "--id", "demo-portal", "--overlap-days", "2", "--write",
        "--config", str(deployment.config_dir), check=True,
    )  # fmt: skip

    new_token = rotated.stdout.strip()
    assert new_token.startswith("ozgb_")
    assert f"Updated key 'demo-portal' in {keys_file}:" in rotated.stderr
    text = keys_file.read_text(encoding="utf-8")
    comments = [line for line in original.splitlines() if line.lstrip().startswith("#")]
    assert [line for line in text.splitlines() if line.lstrip().startswith("#")] == comments
    document = yaml.safe_load(text)
    assert [k["id"] for k in document["keys"]] == ["demo-portal", "demo-operator"]
    [entry, operator] = document["keys"]
    assert entry["sha256"] == hashlib.sha256(new_token.encode()).hexdigest()
    assert "demo" not in entry
    [previous] = entry["previous"]
    assert previous["sha256"] == "63222a48d0074656119068830c17d47a5ca5c23de63f52c7eabbe907259168c2"
    assert operator["demo"] is True  # the other key is as it was
    assert deployment.run("config", "validate", str(deployment.config_dir)).returncode == 0

    missing = deployment.run(
        "keys", "rotate", "--id", "nobody", "--write", "--config", str(deployment.config_dir)
    )
    assert missing.returncode != 0
    assert "no key with id 'nobody'" in missing.stderr
    assert keys_file.read_text(encoding="utf-8") == text
