"""The audit chain of a served instance, as an operator keeps it: keyed, checkpointed (by command
and in the log), verified against the checkpoints after deletion and after a recomputation."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import stat
from datetime import UTC, datetime

import httpx

from ozgbridge import audit, audit_keys
from tests.acceptance.conftest import REPO_ROOT, Deployment, wait_ready

DEMO_PORTAL_TOKEN = "ozgb_demo_portal_NOT_FOR_PRODUCTION"
EXAMPLE = REPO_ROOT / "config" / "examples" / "gewerbeanmeldung-erkelenz.json"


async def submit(url: str, count: int) -> None:
    headers = {"Authorization": f"Bearer {DEMO_PORTAL_TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        for _ in range(count):
            answer = await client.post("/v1/applications", content=EXAMPLE.read_bytes(),
                                       headers={"Content-Type": "application/json"})  # fmt: skip
            assert answer.status_code == 202, answer.text


def recompute_plain(database: str, from_seq: int) -> None:
    """What someone with write access to the database, but not the key, can do: change an
    event and recompute every hash after it."""
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        events = db.execute("SELECT * FROM audit_events ORDER BY seq").fetchall()
        prev = events[from_seq - 2]["hash"]
        for row in events[from_seq - 1 :]:
            details = json.loads(row["details"])
            if row["seq"] == from_seq:
                details["attempts"] = 99
            document = audit.event_document(
                seq=row["seq"],
                at=datetime.fromisoformat(row["at"]).replace(tzinfo=UTC),
                actor=row["actor"],
                action=row["action"],
                tenant_id=row["tenant_id"],
                application_id=row["application_id"],
                delivery_id=row["delivery_id"],
                details=details,
            )
            digest = audit.chain_hash(prev, audit.keyed_document(document, row["key_id"]))
            db.execute(
                "UPDATE audit_events SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                (audit.canonical_json(details), prev, digest, row["seq"]),
            )
            prev = digest


async def test_checkpoints_anchor_the_served_chain(deployment: Deployment) -> None:
    shutil.copytree(REPO_ROOT / "config", deployment.config_dir)
    deployment.env["OZGBRIDGE_AUDIT_CHECKPOINT_INTERVAL"] = "0.2"
    serve = await deployment.serve("--upgrade")
    await submit(deployment.url, 3)
    await asyncio.sleep(1)  # deliveries, and a few checkpoint lines in the log

    taken = deployment.run("audit", "checkpoint")
    assert taken.returncode == 0, taken.stderr
    checkpoint = json.loads(taken.stdout)
    assert set(checkpoint) == {"seq", "hash", "at"}
    assert checkpoint["seq"] >= 3 * 2
    assert serve.terminate() == 0
    anchors = deployment.root / "anchors.jsonl"
    anchors.write_text(taken.stdout)
    logged = [
        line
        for line in serve.log().splitlines()
        if line.startswith("{") and json.loads(line).get("event") == "audit.checkpoint"
    ]
    assert len(logged) >= 2
    from_log = deployment.root / "from-log.jsonl"
    from_log.write_text("\n".join(logged) + "\n")

    intact = deployment.run("audit", "verify", "--checkpoint", str(anchors),
                            "--checkpoint", str(from_log))  # fmt: skip
    assert intact.returncode == 0, intact.stderr
    assert "intact" in intact.stdout
    assert f"{len(logged) + 1} of {len(logged) + 1} checkpoints reached" in intact.stdout

    # The last events deleted: the chain itself is consistent, the checkpoint is not reached.
    database = deployment.env["OZGBRIDGE_DATABASE_URL"].split("///", 1)[1]
    last = checkpoint["seq"]
    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM audit_events WHERE seq >= ?", (last - 1,))
    assert deployment.run("audit", "verify").returncode == 0
    caught = deployment.run("audit", "verify", "--checkpoint", str(anchors))
    assert caught.returncode == 1
    assert f"event {last}: named by checkpoint {anchors}:1" in caught.stderr
    assert f"the chain ends at event {last - 2}" in caught.stderr

    # A recomputed chain: every event from the changed one on is named.
    recompute_plain(database, from_seq=3)
    broken = deployment.run("audit", "verify")
    assert broken.returncode == 1
    assert f"{last - 2 - 2} problem(s)" in broken.stderr
    assert "event 3: content does not match its hash (altered, or recomputed without the key)" in (
        broken.stderr
    )


async def test_the_embedded_default_creates_its_audit_key(deployment: Deployment) -> None:
    shutil.copytree(REPO_ROOT / "config", deployment.root / "config")
    embedded = ("OZGBRIDGE_DATABASE_URL", "OZGBRIDGE_AUDIT_KEY", "OZGBRIDGE_DATA_DIR")
    deployment.env = {k: v for k, v in deployment.env.items() if k not in embedded}
    process = deployment.spawn("serve", "--config", "config", "--port", str(deployment.port),
                               "--upgrade")  # fmt: skip
    await wait_ready(deployment.url, process)
    await submit(deployment.url, 1)
    assert process.terminate() == 0

    key_file = deployment.root / "var" / "audit-key.yaml"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "audit_key.created" in process.log()
    result = deployment.run("audit", "verify")  # finds var/audit-key.yaml as the service did
    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout

    again = deployment.spawn("serve", "--config", "config", "--port", str(deployment.port))
    await wait_ready(deployment.url, again)  # the existing key is used, not replaced
    assert again.terminate() == 0
    assert "audit_key.created" not in again.log()


async def test_without_an_audit_key_a_service_does_not_start(deployment: Deployment) -> None:
    shutil.copytree(REPO_ROOT / "config", deployment.config_dir)
    del deployment.env["OZGBRIDGE_AUDIT_KEY"]
    refused = deployment.spawn("serve", "--config", str(deployment.config_dir), "--upgrade",
                               "--port", str(deployment.port))  # fmt: skip
    assert refused.popen is not None
    assert refused.popen.wait(60) == 2
    assert "OZGBRIDGE_AUDIT_KEY" in refused.log()

    allowed = deployment.spawn("serve", "--config", str(deployment.config_dir), "--upgrade",
                               "--port", str(deployment.port),
                               env={"OZGBRIDGE_AUDIT_UNKEYED": "true"})  # fmt: skip
    await wait_ready(deployment.url, allowed)
    assert allowed.terminate() == 0
    assert "audit_key.unkeyed" in allowed.log()


def test_new_key_writes_a_private_file_once(deployment: Deployment) -> None:
    target = deployment.root / "secrets" / "audit-key.yaml"
    made = deployment.run("audit", "new-key", "--id", "2027-01", "--out", str(target))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [key.id for key in audit_keys.load(target).keys] == ["2027-01"]
    assert deployment.run("audit", "new-key", "--out", str(target)).returncode == 2
    entry = deployment.run("audit", "new-key", "--id", "2027-02")
    assert entry.returncode == 0
    assert entry.stdout.startswith('  - {"id": "2027-02", "key": ')
    added = deployment.run("audit", "new-key", "--id", "2027-03", "--add", str(target))
    assert added.returncode == 0, added.stderr
    assert [key.id for key in audit_keys.load(target).keys] == ["2027-03", "2027-01"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    taken = deployment.run("audit", "new-key", "--id", "2027-03", "--add", str(target))
    assert taken.returncode == 2
    assert "already holds a key with id '2027-03'" in taken.stderr
