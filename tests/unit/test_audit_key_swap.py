"""What a reload does with a changed audit key file (`audit.swap_keys`): chain with its first
key, log and return the change by key id, warn about keys no longer in the file."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from ozgbridge import audit, audit_keys


def test_a_new_first_key_is_used_and_a_dropped_one_warned(tmp_path: Path) -> None:
    old, older, new = (audit_keys.new_key(i) for i in ("2026-01", "2025-01", "2026-12"))
    audit.use_keys(audit_keys.AuditKeys((old, older), tmp_path / "a.yaml"))
    loaded = audit_keys.AuditKeys((new, old), tmp_path / "a.yaml")

    with capture_logs() as logs:
        changed = audit.swap_keys(loaded)

    assert changed == {
        "chaining_key": "2026-12",
        "previous_chaining_key": "2026-01",
        "key_ids": ["2026-12", "2026-01"],
        "removed": ["2025-01"],
    }
    assert audit.chaining_keys() is loaded
    assert [entry["event"] for entry in logs] == ["audit_key.reloaded", "audit_key.removed"]
    assert all(new.secret.hex() not in repr(entry) for entry in logs)


def test_the_same_keys_change_nothing(tmp_path: Path) -> None:
    key = audit_keys.new_key("2026-01")
    running = audit_keys.AuditKeys((key,), tmp_path / "a.yaml")
    audit.use_keys(running)

    with capture_logs() as logs:
        assert audit.swap_keys(audit_keys.AuditKeys((key,), tmp_path / "a.yaml")) is None

    assert audit.chaining_keys() is running
    assert logs == []


def test_an_unkeyed_process_reads_no_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    assert audit_keys.reread("sqlite+aiosqlite:///x.sqlite3", missing, None) is None
